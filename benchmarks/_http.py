"""A lean HTTP/1.1 keep-alive client for load generators on the machine under test.

On a 2-core machine the load generator shares the CPUs with the server it measures, so its own CPU
time is taken from the server. ``httpx.AsyncClient`` spends about a millisecond of CPU per small
request; this client, one persistent connection per simulated user over asyncio streams, spends a
fraction of that. It speaks only what the benchmarks need: ``POST`` / ``GET`` with a JSON body and a
``Content-Length`` response (what uvicorn sends for JSON routes), and it raises on anything else.
"""

from __future__ import annotations

import asyncio
import json
from urllib.parse import urlsplit


class HTTPFailure(Exception):
    """The connection failed or the response was not one this client reads."""


class Connection:
    """One keep-alive connection; ``await request(...)`` returns ``(status, body bytes)``."""

    def __init__(self, url: str, timeout: float = 60.0):
        parts = urlsplit(url)
        self.host, self.port = parts.hostname, parts.port or 80
        self.timeout = timeout
        self._reader = self._writer = None

    async def _connect(self) -> None:
        self._reader, self._writer = await asyncio.open_connection(self.host, self.port)

    async def request(self, method: str, path: str, body=None) -> tuple[int, bytes]:
        data = b"" if body is None else json.dumps(body).encode()
        head = (f"{method} {path} HTTP/1.1\r\nHost: {self.host}:{self.port}\r\n"
                f"Content-Type: application/json\r\nContent-Length: {len(data)}\r\n\r\n").encode()
        for attempt in (0, 1):  # the server may have closed an idle keep-alive connection
            try:
                if self._writer is None:
                    await self._connect()
                self._writer.write(head + data)
                return await asyncio.wait_for(self._response(), self.timeout)
            except (ConnectionError, asyncio.IncompleteReadError) as exc:
                self.close()
                if attempt:
                    raise HTTPFailure(f"{type(exc).__name__}: {exc}") from exc
            except asyncio.TimeoutError as exc:
                self.close()
                raise HTTPFailure(f"no response within {self.timeout} s") from exc
        raise AssertionError("unreachable")

    async def _response(self) -> tuple[int, bytes]:
        status_line = await self._reader.readuntil(b"\r\n")
        version, status = status_line.split(b" ", 2)[:2]
        length, close = None, version == b"HTTP/1.0"  # 1.0 closes unless it says keep-alive
        while True:
            line = await self._reader.readuntil(b"\r\n")
            if line == b"\r\n":
                break
            name, _, value = line.partition(b":")
            name = name.strip().lower()
            if name == b"content-length":
                length = int(value)
            elif name == b"connection":
                close = value.strip().lower() != b"keep-alive"
            elif name == b"transfer-encoding":
                raise HTTPFailure(f"unsupported Transfer-Encoding {value.strip()!r}")
        if length is None:
            raise HTTPFailure("response without Content-Length")
        body = await self._reader.readexactly(length)
        if close:
            self.close()
        return int(status), body

    def close(self) -> None:
        if self._writer is not None:
            self._writer.close()
        self._reader = self._writer = None
