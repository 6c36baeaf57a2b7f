"""The app factory: FastAPI routes over one :class:`~embedkit.serve.service.Service`.

>>> from embedkit.serve import create_app                   # doctest: +SKIP
>>> app = create_app(model="default", stores={"docs": "docs.db"})  # doctest: +SKIP
>>> import uvicorn; uvicorn.run(app, host="127.0.0.1", port=8000)   # doctest: +SKIP

Every error is JSON, ``{"error": {"message", "type", "code"}}``, with the status of the exception
tree (:func:`embedkit.errors.http_status`): 4xx for the caller's mistakes, 413 for requests over a
limit, 429 with ``Retry-After`` when the encoding queue is full, 503 while the model loads.
"""

from __future__ import annotations

import asyncio
import hmac
import json
import logging
import time
from contextlib import asynccontextmanager
from pathlib import Path

from ..errors import EmbedkitError, http_status
from .batching import QueueFull
from .service import Limits, Service

__all__ = ["create_app", "STATIC_DIR"]

log = logging.getLogger(__name__)

STATIC_DIR = Path(__file__).parent / "static"
#: Paths answered without an API key: liveness, and the static page shells (they hold no data and
#: ask for the key, which every data route then needs).
PUBLIC_PATHS = ("/health",)
PUBLIC_PREFIXES = ("/ui/",)


def error_body(status: int, message: str, type_: str | None = None) -> bytes:
    kind = type_ or ("invalid_request_error" if status < 500 else "server_error")
    return json.dumps({"error": {"message": message, "type": kind, "code": status}},
                      ensure_ascii=False).encode("utf-8")


async def _send_error(send, status: int, message: str, headers: list | None = None) -> None:
    body = error_body(status, message)
    await send({"type": "http.response.start", "status": status,
                "headers": [(b"content-type", b"application/json"),
                            (b"content-length", str(len(body)).encode()),
                            *(headers or [])]})
    await send({"type": "http.response.body", "body": body})


class Guard:
    """ASGI middleware in front of everything: API keys, body size and time, metrics.

    The key is checked before the body is read, in constant time against every key. The body is
    read whole (at most ``max_body_bytes``, within ``body_timeout_s``) before the app sees it, so a
    slow or oversized upload is answered 408 / 413 without reaching a route.
    """

    def __init__(self, app, service: Service):
        self.app = app
        self.service = service
        self.keys = [k.encode("utf-8") for k in service.api_keys]

    def _authorised(self, scope) -> bool:
        if not self.keys:
            return True
        path = scope.get("path", "")
        if scope.get("method") == "OPTIONS":  # CORS preflight: carries no data, answers none
            return True
        if path in PUBLIC_PATHS or path == "/" or path.startswith(PUBLIC_PREFIXES):
            return True
        given = b""
        for name, value in scope.get("headers", []):
            if name == b"authorization":
                scheme, _, token = value.partition(b" ")
                if scheme.lower() == b"bearer":
                    given = token.strip()
        ok = False
        for key in self.keys:  # no early exit: the time does not depend on which key matched
            ok |= hmac.compare_digest(given, key)
        return ok

    async def __call__(self, scope, receive, send):
        if scope["type"] != "http":
            return await self.app(scope, receive, send)
        metrics, started = self.service.metrics, time.perf_counter()
        status_box = {"status": 500}

        async def send_wrapper(message):
            if message["type"] == "http.response.start":
                status_box["status"] = message["status"]
            await send(message)

        metrics.in_flight.inc()
        try:
            await self._guarded(scope, receive, send_wrapper)
        finally:
            metrics.in_flight.dec()
            route = scope.get("route")
            label = getattr(route, "path", None) or "unmatched"
            metrics.requests.labels(scope.get("method", ""), label, str(status_box["status"])).inc()
            metrics.latency.labels(label).observe(time.perf_counter() - started)

    async def _guarded(self, scope, receive, send):
        if not self._authorised(scope):
            return await _send_error(send, 401, "missing or wrong API key: send "
                                     "'Authorization: Bearer KEY'",
                                     [(b"www-authenticate", b"Bearer")])
        limits = self.service.limits
        declared = None
        for name, value in scope.get("headers", []):
            if name == b"content-length":
                try:
                    declared = int(value)
                except ValueError:
                    return await _send_error(send, 400, "the Content-Length header is not a number")
        if declared is not None and declared > limits.max_body_bytes:
            return await _send_error(send, 413, f"the request body has {declared} bytes; the limit "
                                     f"is {limits.max_body_bytes} (see /info)",
                                     [(b"connection", b"close")])
        chunks, size = [], 0
        deadline = time.monotonic() + limits.body_timeout_s
        while True:
            try:
                message = await asyncio.wait_for(receive(), max(deadline - time.monotonic(), 0.001))
            except asyncio.TimeoutError:
                return await _send_error(send, 408, "the request body did not arrive within "
                                         f"{limits.body_timeout_s:g} s", [(b"connection", b"close")])
            if message["type"] == "http.disconnect":
                return
            chunk = message.get("body", b"")
            size += len(chunk)
            if size > limits.max_body_bytes:
                return await _send_error(send, 413, "the request body is over the limit of "
                                         f"{limits.max_body_bytes} bytes (see /info)",
                                         [(b"connection", b"close")])
            chunks.append(chunk)
            if not message.get("more_body", False):
                break
        body = b"".join(chunks)
        replayed = False

        async def replay():
            nonlocal replayed
            if not replayed:
                replayed = True
                return {"type": "http.request", "body": body, "more_body": False}
            return await receive()

        await self.app(scope, replay, send)


def create_app(*, model=None, stores: dict | None = None, limits: Limits | None = None,
               api_keys: list[str] | None = None, cors_origins: list[str] | None = None,
               matryoshka: bool = False, create_stores: bool = False,
               service: Service | None = None):
    """Build the FastAPI app (the models load in a thread after start-up; see ``/ready``).

    Args:
        model: a model spec for ``embedkit.load`` or an encoder object (default model if None).
        stores: ``{name: path}`` of stores to serve.
        limits: :class:`~embedkit.serve.service.Limits`.
        api_keys: accepted bearer keys; every route but ``/health`` (and the page shells) needs one.
        cors_origins: origins allowed by CORS (none: CORS stays off).
        matryoshka: allow ``dimensions`` below the model's dimension (truncate and renormalise).
        create_stores: create missing store files.

    """
    from fastapi import FastAPI
    from fastapi.exceptions import RequestValidationError
    from fastapi.responses import RedirectResponse, Response
    from fastapi.staticfiles import StaticFiles
    from starlette.exceptions import HTTPException as StarletteHTTPException

    from .. import __version__
    from . import explore, routes

    svc = service or Service(model=model, stores=stores, limits=limits, api_keys=api_keys,
                             matryoshka=matryoshka, create_stores=create_stores)

    @asynccontextmanager
    async def lifespan(app):
        svc.start(background=True)
        try:
            yield
        finally:
            await asyncio.to_thread(svc.close)  # after uvicorn drained in-flight requests

    app = FastAPI(title="embedkit", version=__version__, lifespan=lifespan,
                  description="OpenAI-compatible embeddings, search over vector stores, and a "
                              "vector-space explorer.")
    app.state.service = svc

    def json_error(status: int, message: str, headers: dict | None = None) -> Response:
        return Response(error_body(status, message), status_code=status,
                        media_type="application/json", headers=headers)

    @app.exception_handler(QueueFull)
    async def _queue_full(request, exc: QueueFull):
        return json_error(429, str(exc), {"Retry-After": str(max(1, round(exc.retry_after)))})

    @app.exception_handler(EmbedkitError)
    async def _embedkit_error(request, exc: EmbedkitError):
        status = getattr(exc, "status", None) or http_status(exc)
        headers = {"Retry-After": "2"} if status == 503 else None
        if status >= 500:
            log.error("%s %s: %s: %s", request.method, request.url.path, type(exc).__name__, exc)
        return json_error(status, str(exc), headers)

    @app.exception_handler(RequestValidationError)
    async def _invalid(request, exc: RequestValidationError):
        errors = exc.errors()
        if any(e.get("type") == "json_invalid" for e in errors):
            return json_error(400, "the request body is not valid JSON")
        parts = []
        for e in errors[:5]:
            where = ".".join(str(p) for p in e.get("loc", ()) if p != "body") or "body"
            parts.append(f"{where}: {e.get('msg')}")
        more = f" (and {len(errors) - 5} more)" if len(errors) > 5 else ""
        return json_error(422, "; ".join(parts) + more)

    @app.exception_handler(StarletteHTTPException)
    async def _http(request, exc: StarletteHTTPException):
        return json_error(exc.status_code, str(exc.detail), getattr(exc, "headers", None))

    @app.exception_handler(Exception)
    async def _unexpected(request, exc: Exception):
        log.exception("unexpected error on %s %s", request.method, request.url.path)
        return json_error(500, f"internal error ({type(exc).__name__}); see the service log")

    app.include_router(routes.router(svc))
    app.include_router(explore.router(svc))
    app.mount("/ui", StaticFiles(directory=STATIC_DIR, html=True), name="ui")

    @app.get("/", include_in_schema=False)
    def _root():
        return RedirectResponse("/ui/search.html")

    if cors_origins:
        from fastapi.middleware.cors import CORSMiddleware

        app.add_middleware(CORSMiddleware, allow_origins=list(cors_origins),
                           allow_methods=["GET", "POST", "PUT"],
                           allow_headers=["Authorization", "Content-Type"])
    app.add_middleware(Guard, service=svc)
    return app
