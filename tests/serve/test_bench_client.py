"""The load benchmark's lean HTTP client reads real responses, keep-alive and HTTP/1.0 alike."""

import asyncio
import json
import sys
import threading
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path

import pytest

sys.path.insert(0, str(Path(__file__).resolve().parents[2] / "benchmarks"))
from _http import Connection, HTTPFailure  # noqa: E402


def _server(protocol: str, chunked: bool = False):
    class Handler(BaseHTTPRequestHandler):
        protocol_version = protocol

        def do_POST(self):
            n = int(self.headers["Content-Length"])
            got = json.loads(self.rfile.read(n))
            body = json.dumps({"echo": got, "port": self.client_address[1]}).encode()
            self.send_response(201)
            self.send_header("Content-Type", "application/json")
            if chunked:
                self.send_header("Transfer-Encoding", "chunked")
            else:
                self.send_header("Content-Length", str(len(body)))
            self.end_headers()
            self.wfile.write(body if not chunked else b"%x\r\n%s\r\n0\r\n\r\n" % (len(body), body))

        def log_message(self, *args):
            pass

    httpd = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    threading.Thread(target=httpd.serve_forever, daemon=True).start()
    return httpd


@pytest.mark.parametrize("protocol, reuses", [("HTTP/1.1", True), ("HTTP/1.0", False)])
def test_connection_posts_json_and_reuses_a_keep_alive_connection(protocol, reuses):
    httpd = _server(protocol)
    try:
        conn = Connection(f"http://127.0.0.1:{httpd.server_address[1]}", timeout=10)

        async def three():
            got = [await conn.request("POST", "/x", {"i": i, "text": "자동차"}) for i in range(3)]
            conn.close()
            return got

        answers = asyncio.run(three())
    finally:
        httpd.shutdown()
    bodies = [json.loads(body) for _, body in answers]
    assert [status for status, _ in answers] == [201, 201, 201]
    assert [b["echo"] for b in bodies] == [{"i": i, "text": "자동차"} for i in range(3)]
    ports = {b["port"] for b in bodies}
    assert (len(ports) == 1) is reuses  # HTTP/1.0 closes after each answer: a new connection each


def test_connection_refuses_a_response_it_cannot_read():
    httpd = _server("HTTP/1.1", chunked=True)
    try:
        conn = Connection(f"http://127.0.0.1:{httpd.server_address[1]}", timeout=10)

        async def one():
            try:
                await conn.request("POST", "/x", {})
            finally:
                conn.close()

        with pytest.raises(HTTPFailure, match="Transfer-Encoding"):
            asyncio.run(one())
    finally:
        httpd.shutdown()
