"""Fixtures of the service tests: a tiny model, a small store, and a real uvicorn server."""

from __future__ import annotations

import contextlib
import socket
import threading
import time

import httpx
import pytest

DOCS = [
    ("en-1", "The river bank was muddy after the rain.", {"lang": "en", "topic": "nature"}),
    ("en-2", "I took a loan from the bank to buy a house.", {"lang": "en", "topic": "money"}),
    ("en-3", "Two dogs run across the green field.", {"lang": "en", "topic": "nature"}),
    ("en-4", "Stock markets fell sharply on Monday morning.", {"lang": "en", "topic": "money"}),
    ("ko-1", "한국어 문장도 조금 넣어 둡니다. 영화가 정말 재미있어요.", {"lang": "ko", "topic": "film"}),
    ("ko-2", "자동차를 타고 바다에 갔어요.", {"lang": "ko", "topic": "travel"}),
    ("ko-3", "전기자동차 판매가 늘었습니다.", {"lang": "ko", "topic": "money"}),
]


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


class Server:
    """uvicorn running an app in a thread on a free loopback port."""

    def __init__(self, app, *, wait_ready: bool = True):
        import uvicorn

        self.app = app
        self.port = free_port()
        self.url = f"http://127.0.0.1:{self.port}"
        config = uvicorn.Config(app, host="127.0.0.1", port=self.port, log_level="warning",
                                timeout_keep_alive=5, timeout_graceful_shutdown=10)
        self.server = uvicorn.Server(config)
        self.thread = threading.Thread(target=self.server.run, daemon=True)
        self.thread.start()
        self._wait("/health")
        if wait_ready:
            self._wait("/ready", headers=self.auth_headers(app))

    @staticmethod
    def auth_headers(app) -> dict:
        keys = app.state.service.api_keys
        return {"Authorization": f"Bearer {keys[0]}"} if keys else {}

    def _wait(self, path: str, timeout: float = 60.0, headers=None) -> None:
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if not self.thread.is_alive():
                raise RuntimeError("the server thread died")
            with contextlib.suppress(httpx.HTTPError):
                if httpx.get(self.url + path, timeout=2, headers=headers).status_code == 200:
                    return
            time.sleep(0.05)  # polling interval of a condition, with a deadline
        raise TimeoutError(f"{path} did not answer 200 within {timeout} s")

    def stop(self) -> None:
        self.server.should_exit = True
        self.thread.join(30)


@pytest.fixture(scope="session")
def tiny_encoder(tiny_st_model):
    from embedkit.models import load

    return load(str(tiny_st_model))


def make_store(path, encoder, docs=DOCS):
    from embedkit.store.sqlite import VectorStore

    with VectorStore(path, encoder=encoder) as vs:
        vs.add([t for _, t, _ in docs], ids=[i for i, _, _ in docs], metadata=[m for _, _, m in docs])
    return path


@pytest.fixture(scope="module")
def server(tmp_path_factory, tiny_st_model):
    """A server with the tiny model and a store 'docs' (module-wide; tests must not empty it)."""
    from embedkit.models import load
    from embedkit.serve import Limits, create_app

    folder = tmp_path_factory.mktemp("serve")
    store = make_store(folder / "docs.db", load(str(tiny_st_model)))
    app = create_app(model=str(tiny_st_model), stores={"docs": store, "scratch": folder / "s.db"},
                     create_stores=True, limits=Limits(max_inputs=64, max_body_bytes=256 * 1024,
                                                       max_input_tokens=200, body_timeout_s=2.0))
    srv = Server(app)
    yield srv
    srv.stop()
