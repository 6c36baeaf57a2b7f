"""``embedkit serve``: the HTTP service (OpenAI-compatible embeddings, search, web pages)."""

from __future__ import annotations

import ipaddress
import logging
from pathlib import Path

import click

from ..errors import InvalidInput, require
from .app import command

MODEL_HELP = ("Model: 'default' (multilingual-e5-small), 'all-MiniLM-L6-v2', a local folder, or a "
              "Hugging Face id.")


def read_api_keys(path: str) -> list[str]:
    """Keys from a file: one a line; blank lines and lines starting with '#' are skipped."""
    p = Path(path)
    try:
        lines = p.read_text(encoding="utf-8").splitlines()
    except OSError as exc:
        raise InvalidInput(f"cannot read the API key file {p}: {exc.strerror or exc}") from exc
    keys = [line.strip() for line in lines if line.strip() and not line.lstrip().startswith("#")]
    if not keys:
        raise InvalidInput(f"the API key file {p} holds no key (one key a line)")
    short = [k for k in keys if len(k) < 16]
    if short:
        raise InvalidInput(f"the API key file {p} has a key of {len(short[0])} characters; "
                           "use at least 16 (e.g. python -c 'import secrets; print(secrets.token_urlsafe())')")
    return keys


def _loopback(host: str) -> bool:
    if host == "localhost":
        return True
    try:
        return ipaddress.ip_address(host).is_loopback
    except ValueError:
        return False


@command("serve", family="Service")
@click.option("--store", "stores", multiple=True, metavar="[NAME=]PATH",
              help="A store to serve (repeatable); named by its file's stem unless NAME= is given.")
@click.option("--model", default=None, help=MODEL_HELP + " Default: the default model.")
@click.option("--host", default="127.0.0.1", show_default=True,
              help="Address to listen on (loopback by default).")
@click.option("--port", default=8000, show_default=True, type=click.IntRange(0, 65535))
@click.option("--api-key-file", type=click.Path(dir_okay=False), default=None,
              help="File of API keys (one a line): every route but /health then needs "
                   "'Authorization: Bearer KEY'.")
@click.option("--cors-origin", "cors", multiple=True,
              help="An origin allowed by CORS (repeatable); CORS is off without one.")
@click.option("--create", is_flag=True, help="Create store files that do not exist.")
@click.option("--matryoshka", is_flag=True,
              help="Allow 'dimensions' below the model's (for models trained to be truncated).")
@click.option("--max-batch-tokens", default=16384, show_default=True, type=click.IntRange(1))
@click.option("--max-wait-ms", default=5.0, show_default=True, type=click.FloatRange(0.001))
@click.option("--max-queue", default=256, show_default=True, type=click.IntRange(1),
              help="Requests waiting for the encoder at most; more are answered 429.")
@click.option("--max-inputs", default=2048, show_default=True, type=click.IntRange(1),
              help="Texts per request at most.")
@click.option("--max-input-tokens", default=8192, show_default=True, type=click.IntRange(1))
@click.option("--max-body-bytes", default=4 * 1024 * 1024, show_default=True, type=click.IntRange(1))
@click.option("--log-level", default="info", show_default=True,
              type=click.Choice(["debug", "info", "warning", "error"]))
def serve(stores, model, host, port, api_key_file, cors, create, matryoshka, max_batch_tokens,
          max_wait_ms, max_queue, max_inputs, max_input_tokens, max_body_bytes, log_level):
    """Serve embeddings (OpenAI-compatible /v1/embeddings), store search and the web pages.

    \b
    embedkit serve --store docs.db                 # http://127.0.0.1:8000/ui/search.html
    curl -s localhost:8000/v1/embeddings -H 'Content-Type: application/json' \\
         -d '{"model": "default", "input": ["안녕하세요", "hello"]}'
    """
    uvicorn = require("uvicorn", "serve", "embedkit serve")
    require("fastapi", "serve", "embedkit serve")
    from ..serve.app import create_app
    from ..serve.service import Limits, Service, parse_store_spec

    named = dict(parse_store_spec(s) for s in stores)
    if len(named) != len(stores):
        raise InvalidInput("two --store options have the same name; name them with NAME=PATH")
    keys = read_api_keys(api_key_file) if api_key_file else []
    from ..errors import StoreNotFound
    from ..store.sqlite import VectorStore

    for name, path in named.items():  # fail here with one line, not inside the server's start-up
        if not path.exists():
            if not create:
                raise StoreNotFound(f"no store at {path} (--store {name}); create one with "
                                    f"'embedkit index FILES --store {path}', or pass --create")
        else:
            VectorStore(path, create=False).close()
    limits = Limits(max_batch_tokens=max_batch_tokens, max_wait_ms=max_wait_ms, max_queue=max_queue,
                    max_inputs=max_inputs, max_input_tokens=max_input_tokens,
                    max_body_bytes=max_body_bytes)
    logging.basicConfig(level=log_level.upper(), format="%(asctime)s %(levelname)s %(name)s: %(message)s")
    if not _loopback(host) and not keys:
        logging.getLogger("embedkit.serve").warning(
            "listening on %s without an API key: anyone who can reach it can read and write the "
            "stores (use --api-key-file)", host)
    service = Service(model=model, stores=named, limits=limits, api_keys=keys,
                      matryoshka=matryoshka, create_stores=create)
    app = create_app(service=service, cors_origins=list(cors))
    click.echo(f"embedkit serving on http://{host}:{port} (pages: /ui/search.html, "
               f"/ui/explorer.html; API docs: /docs)", err=True)
    uvicorn.run(app, host=host, port=port, log_level=log_level, timeout_keep_alive=5,
                timeout_graceful_shutdown=60, limit_concurrency=1024, access_log=False)
