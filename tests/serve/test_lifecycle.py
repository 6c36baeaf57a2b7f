"""`embedkit serve` as a process: SIGTERM drains in-flight writes, the store closes cleanly; CLI errors."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import threading
import time
from pathlib import Path

import httpx
from click.testing import CliRunner

from embedkit.cli import main

from .conftest import free_port

SRC = Path(__file__).resolve().parents[2] / "src"


def _metric(url: str, name: str) -> float:
    for line in httpx.get(url + "/metrics", timeout=5).text.splitlines():
        if line.startswith(name + " "):
            return float(line.split()[1])
    return 0.0


def test_sigterm_drains_in_flight_writes_and_closes_the_store(tmp_path, tiny_st_model):
    store = tmp_path / "live.db"
    port = free_port()
    env = {**os.environ, "PYTHONPATH": os.pathsep.join([str(SRC), os.environ.get("PYTHONPATH", "")])}
    proc = subprocess.Popen([sys.executable, "-m", "embedkit", "serve", "--model", str(tiny_st_model),
                             "--store", f"live={store}", "--create", "--port", str(port),
                             "--log-level", "warning"],
                            env=env, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)
    url = f"http://127.0.0.1:{port}"
    try:
        deadline = time.monotonic() + 60
        while True:
            assert proc.poll() is None, proc.stderr.read().decode()
            try:
                if httpx.get(url + "/ready", timeout=2).status_code == 200:
                    break
            except httpx.HTTPError:
                pass
            assert time.monotonic() < deadline, "the server did not get ready"
            time.sleep(0.05)
        docs = [{"id": f"d{i}", "text": f"document {i} about the river bank and a loan from a bank",
                 "metadata": {"n": i}} for i in range(500)]
        body = json.dumps({"documents": docs}).encode()
        terminated = threading.Event()
        answer = {}

        def chunks():  # half the body, then the rest once SIGTERM was sent: in flight for sure
            yield body[: len(body) // 2]
            assert terminated.wait(30)
            yield body[len(body) // 2:]

        def write():
            answer["response"] = httpx.post(url + "/v1/stores/live/documents", content=chunks(),
                                            headers={"content-type": "application/json",
                                                     "content-length": str(len(body))}, timeout=120)

        writer = threading.Thread(target=write)
        writer.start()
        deadline = time.monotonic() + 30
        while _metric(url, "embedkit_requests_in_flight") < 2:  # the write and this look
            assert time.monotonic() < deadline, "the write never reached the server"
            time.sleep(0.01)
        proc.send_signal(signal.SIGTERM)
        terminated.set()
        writer.join(120)
        r = answer["response"]
        assert r.status_code == 201, r.text
        assert r.json()["count"] == 500
        # uvicorn ends by re-raising the signal once it has shut down cleanly
        assert proc.wait(60) in (0, -signal.SIGTERM)
        assert b"Traceback" not in proc.stderr.read()
    finally:
        if proc.poll() is None:
            proc.kill()
    from embedkit.store.sqlite import VectorStore

    with VectorStore(store, create=False) as vs:
        assert vs.count() == 500
        assert vs.integrity_check() == []
    assert not Path(f"{store}-wal").exists() or Path(f"{store}-wal").stat().st_size == 0


def test_cli_errors_are_one_line(tmp_path):
    runner = CliRunner()
    r = runner.invoke(main, ["serve", "--store", str(tmp_path / "missing.db")])
    assert r.exit_code == 5 and r.output.startswith("error: no store at") and "Traceback" not in r.output
    keys = tmp_path / "keys.txt"
    keys.write_text("# comment only\n\n")
    r = runner.invoke(main, ["serve", "--api-key-file", str(keys)])
    assert r.exit_code == 2 and "holds no key" in r.output
    keys.write_text("short\n")
    r = runner.invoke(main, ["serve", "--api-key-file", str(keys)])
    assert r.exit_code == 2 and "at least 16" in r.output
    r = runner.invoke(main, ["serve", "--store", "bad name=x.db"])
    assert r.exit_code == 2 and "store name" in r.output
    r = runner.invoke(main, ["--help"])
    assert "Service:" in r.output and "serve" in r.output.split("Service:")[1]
