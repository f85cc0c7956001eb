"""The load generator: HTTP/1.1 keep-alive connections on asyncio, one per simulated browser.

Each connection keeps its own cookies and page state (CSRF token, the ``_participant`` tag,
the revision it was last given), which is why this is Python and not wrk. It is kept small so
that it is not the bottleneck; ``Load.cpu_per_request`` reports its own CPU cost per request,
printed next to the bare baselines so the reader can see how far below its ceiling it ran.
"""

from __future__ import annotations

import asyncio
import html
import json
import re
import time
import urllib.parse
from collections import Counter
from dataclasses import dataclass, field


class HTTPError(RuntimeError):
    pass


@dataclass
class Reply:
    status: int
    headers: dict[str, str]
    body: bytes

    @property
    def text(self) -> str:
        return self.body.decode("utf-8", "replace")

    def json(self) -> dict:
        return json.loads(self.body)


class Connection:
    """One browser: a keep-alive connection and a cookie jar."""

    def __init__(self, host: str, port: int):
        self.host, self.port = host, port
        self.cookies: dict[str, str] = {}
        self.reader: asyncio.StreamReader | None = None
        self.writer: asyncio.StreamWriter | None = None

    async def open(self) -> None:
        await self.close()
        self.reader, self.writer = await asyncio.open_connection(self.host, self.port)

    async def close(self) -> None:
        if self.writer is not None:
            self.writer.close()
            try:
                await self.writer.wait_closed()
            except OSError:
                pass
            self.writer = self.reader = None

    async def request(self, method: str, path: str, form: dict | None = None) -> Reply:
        body = urllib.parse.urlencode(form).encode() if form is not None else b""
        head = [f"{method} {path} HTTP/1.1", f"Host: {self.host}:{self.port}"]
        if self.cookies:
            head.append("Cookie: " + "; ".join(f"{k}={v}" for k, v in self.cookies.items()))
        if form is not None:
            head += ["Content-Type: application/x-www-form-urlencoded", f"Content-Length: {len(body)}"]
        raw = ("\r\n".join(head) + "\r\n\r\n").encode() + body
        for attempt in (1, 2):
            if self.writer is None:
                await self.open()
            try:
                self.writer.write(raw)
                return await self._read()
            except (asyncio.IncompleteReadError, ConnectionError) as exc:
                # The server closed an idle keep-alive connection before reading this request.
                await self.close()
                if attempt == 2 or (isinstance(exc, asyncio.IncompleteReadError) and exc.partial):
                    raise HTTPError(f"{method} {path}: connection lost ({exc!r})") from exc
        raise AssertionError("unreachable")

    async def _read(self) -> Reply:
        head = await self.reader.readuntil(b"\r\n\r\n")
        lines = head.decode("latin-1").split("\r\n")
        status = int(lines[0].split(" ", 2)[1])
        headers: dict[str, str] = {}
        for line in lines[1:]:
            if not line:
                continue
            name, _, value = line.partition(":")
            name, value = name.strip().lower(), value.strip()
            if name == "set-cookie":
                self._keep_cookie(value)
            headers[name] = value
        if "content-length" in headers:
            body = await self.reader.readexactly(int(headers["content-length"]))
        elif headers.get("transfer-encoding", "").lower() == "chunked":
            body = await self._chunked()
        else:
            body = await self.reader.read()
            await self.close()
        if headers.get("connection", "").lower() == "close":
            await self.close()
        return Reply(status, headers, body)

    async def _chunked(self) -> bytes:
        parts = []
        while True:
            size = int((await self.reader.readuntil(b"\r\n")).split(b";")[0], 16)
            if size == 0:
                await self.reader.readuntil(b"\r\n")
                return b"".join(parts)
            parts.append(await self.reader.readexactly(size))
            await self.reader.readexactly(2)

    def _keep_cookie(self, value: str) -> None:
        pair, *attributes = value.split(";")
        name, _, cookie = pair.strip().partition("=")
        expired = any(a.strip().lower().startswith(("max-age=0", "expires=thu, 01 jan 1970")) for a in attributes)
        if expired or not cookie:
            self.cookies.pop(name, None)
        else:
            self.cookies[name] = cookie


def hidden(page: str, name: str) -> str:
    """The value of the input called ``name`` in an HTML page (attributes in any order)."""
    for tag in re.findall(r"<input\b[^>]*>", page):
        if re.search(rf'\bname="{re.escape(name)}"', tag):
            value = re.search(r'\bvalue="([^"]*)"', tag)
            return html.unescape(value.group(1)) if value else ""
    raise HTTPError(f"no input named {name!r} on the page")


def expect(reply: Reply, *statuses: int, what: str) -> Reply:
    if reply.status not in statuses:
        raise HTTPError(f"{what}: HTTP {reply.status} {reply.text[:300]!r}")
    return reply


# -- driving many connections ------------------------------------------------------------------

@dataclass
class Load:
    """What one timed run did."""

    requests: int = 0
    seconds: float = 0.0
    cpu_seconds: float = 0.0
    latencies: list[float] = field(default_factory=list)
    unexpected: Counter = field(default_factory=Counter)

    @property
    def rate(self) -> float:
        return self.requests / self.seconds if self.seconds else 0.0

    @property
    def cpu_per_request(self) -> float:
        return self.cpu_seconds / self.requests if self.requests else 0.0

    def percentile(self, p: float) -> float:
        ordered = sorted(self.latencies)
        if not ordered:
            return float("nan")
        return ordered[min(len(ordered) - 1, int(round(p / 100 * (len(ordered) - 1))))]


async def drive(clients: list, step, seconds: float) -> Load:
    """Every client calls ``await step(client)`` (one request; returns None when it was what
    was expected, else a short description) back to back for ``seconds``."""
    load = Load()
    await asyncio.gather(*(c.connection.open() for c in clients))
    deadline = time.perf_counter() + seconds

    async def loop(client):
        while time.perf_counter() < deadline:
            started = time.perf_counter()
            problem = await step(client)
            load.latencies.append(time.perf_counter() - started)
            if problem:
                load.unexpected[problem] += 1

    cpu, wall = time.process_time(), time.perf_counter()
    await asyncio.gather(*(loop(c) for c in clients))
    load.seconds = time.perf_counter() - wall
    load.cpu_seconds = time.process_time() - cpu
    load.requests = len(load.latencies)
    await asyncio.gather(*(c.connection.close() for c in clients))
    return load
