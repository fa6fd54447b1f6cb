"""The API's protections as pure ASGI middleware (cheaper than BaseHTTPMiddleware), outermost first:

- :class:`ApiKeyMiddleware`: with keys configured, every route but ``/healthz`` and ``/readyz`` needs one in the
  ``X-API-Key`` header (401 otherwise; constant-time comparison).
- :class:`RateLimitMiddleware`: a token bucket per client address (429 with ``Retry-After`` when empty).
- :class:`BodyLimitMiddleware`: a body over the limit gets 413 before any parsing, and a body that does not arrive
  within the read timeout gets 408 (a client that declares a body and trickles it cannot hold a connection).
  The declared ``Content-Length`` is checked first; a chunked (or lying) body is counted while it is read, so the
  limit holds either way. Bodies under the limit are buffered and replayed to the app unchanged.

Error bodies never carry absolute file paths (:func:`scrub_paths`).
"""

from __future__ import annotations

import asyncio
import functools
import hmac
import ipaddress
import json
import math
import re
import time
from collections import OrderedDict
from collections.abc import Sequence

from starlette.types import ASGIApp, Message, Receive, Scope, Send

BODY_METHODS = frozenset({"POST", "PUT", "PATCH"})


_ABS_PATH = re.compile(r"(?<![\w.:/])(/[\w.@+-]+)+/([\w.@+-]*)")


def scrub_paths(text: str) -> str:
    """``text`` with every absolute path shortened to its last component (``/srv/x/registry/m.pt`` -> ``m.pt``):
    error bodies must not reveal the server's file layout."""
    return _ABS_PATH.sub(lambda m: m.group(2) or "<dir>", text)


async def send_error(
    send: Send, status: int, detail: str, extra_headers: Sequence[tuple[bytes, bytes]] = ()
) -> None:
    body = json.dumps({"detail": scrub_paths(detail)}).encode()
    headers = [(b"content-type", b"application/json"), (b"content-length", str(len(body)).encode())]
    headers.extend(extra_headers)
    await send({"type": "http.response.start", "status": status, "headers": headers})
    await send({"type": "http.response.body", "body": body})


def _content_length(scope: Scope) -> str | None:
    for name, value in scope.get("headers", ()):
        if name == b"content-length":
            return str(value.decode("latin-1"))
    return None


class BodyLimitMiddleware:
    def __init__(self, app: ASGIApp, max_bytes: int, read_timeout_s: float = math.inf) -> None:
        self.app = app
        self.max_bytes = max_bytes
        self.read_timeout_s = read_timeout_s

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http" or scope.get("method") not in BODY_METHODS:
            await self.app(scope, receive, send)
            return
        declared = _content_length(scope)
        if declared is not None:
            if not declared.isdigit():
                await send_error(send, 400, f"invalid Content-Length header {declared!r}")
                return
            if int(declared) > self.max_bytes:
                await send_error(send, 413, self._too_large(int(declared)))
                return
        chunks: list[bytes] = []
        size = 0
        loop = asyncio.get_running_loop()
        deadline = loop.time() + self.read_timeout_s if math.isfinite(self.read_timeout_s) else None
        while True:
            try:
                async with asyncio.timeout_at(deadline):  # a timer, not a task per receive (as wait_for has)
                    message = await receive()
            except TimeoutError:
                await send_error(
                    send,
                    408,
                    f"request body not received within {self.read_timeout_s:g} s ({size} bytes read)",
                    [(b"connection", b"close")],
                )
                return
            if message["type"] != "http.request":  # client went away
                return
            chunk = message.get("body", b"")
            size += len(chunk)
            if size > self.max_bytes:
                await send_error(send, 413, self._too_large(size, at_least=True))
                return
            chunks.append(chunk)
            if not message.get("more_body", False):
                break
        await self.app(scope, _replay(b"".join(chunks), receive), send)

    def _too_large(self, size: int, at_least: bool = False) -> str:
        amount = f"at least {size}" if at_least else str(size)
        return f"request body too large: {amount} bytes, the limit is {self.max_bytes} bytes"


def _replay(body: bytes, receive: Receive) -> Receive:
    sent = False

    async def replay() -> Message:
        nonlocal sent
        if not sent:
            sent = True
            return {"type": "http.request", "body": body, "more_body": False}
        return await receive()

    return replay


def _header(scope: Scope, name: bytes) -> bytes | None:
    for key, value in scope.get("headers", ()):
        if key == name:
            return bytes(value)
    return None


class ApiKeyMiddleware:
    """Requires one of ``keys`` in ``header`` on every path except ``open_paths``; no keys = open API."""

    def __init__(
        self,
        app: ASGIApp,
        keys: Sequence[str],
        header: str = "x-api-key",
        open_paths: frozenset[str] = frozenset({"/healthz", "/readyz"}),
    ) -> None:
        self.app = app
        self.keys = [k.encode() for k in keys if k]
        self.header = header.lower().encode("latin-1")
        self.open_paths = open_paths

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http" or not self.keys or scope.get("path") in self.open_paths:
            await self.app(scope, receive, send)
            return
        given = _header(scope, self.header)
        # compare with every key, always: the time taken does not depend on which (or whether one) matched
        ok = given is not None and sum(hmac.compare_digest(given, k) for k in self.keys) > 0
        if not ok:
            what = "missing" if given is None else "invalid"
            await send_error(send, 401, f"{what} API key (header {self.header.decode()})",
                             [(b"www-authenticate", b"ApiKey")])  # fmt: skip
            return
        await self.app(scope, receive, send)


@functools.lru_cache(maxsize=4096)
def _is_loopback(host: str) -> bool:
    """Parsed once per address, not once per request."""
    try:
        return ipaddress.ip_address(host).is_loopback
    except ValueError:
        return host in ("localhost", "testclient")


class RateLimitMiddleware:
    """A token bucket per client address: ``rate_per_s`` sustained, ``burst`` at once; 429 when empty.

    At most ``max_clients`` buckets are kept (least recently seen dropped). Loopback clients are exempt when
    ``exempt_loopback`` (local benchmarks and health probes); ``rate_per_s`` 0 turns the limit off."""

    def __init__(
        self,
        app: ASGIApp,
        rate_per_s: float,
        burst: int,
        exempt_loopback: bool = True,
        max_clients: int = 10_000,
    ) -> None:
        self.app = app
        self.rate = rate_per_s
        self.burst = float(max(1, burst))
        self.exempt_loopback = exempt_loopback
        self.max_clients = max_clients
        self._buckets: OrderedDict[str, tuple[float, float]] = OrderedDict()

    def _exempt(self, host: str) -> bool:
        return self.exempt_loopback and _is_loopback(host)

    def take(self, client: str, now: float) -> float:
        """Take one token for ``client``; 0 when allowed, else the seconds until a token is back."""
        tokens, last = self._buckets.pop(client, (self.burst, now))
        tokens = min(self.burst, tokens + (now - last) * self.rate)
        wait = 0.0
        if tokens >= 1.0:
            tokens -= 1.0
        else:
            wait = (1.0 - tokens) / self.rate
        self._buckets[client] = (tokens, now)
        while len(self._buckets) > self.max_clients:
            self._buckets.popitem(last=False)
        return wait

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http" or self.rate <= 0:
            await self.app(scope, receive, send)
            return
        client = (scope.get("client") or ("unknown", 0))[0]
        if not self._exempt(client):
            wait = self.take(client, time.monotonic())
            if wait > 0:
                retry = str(max(1, math.ceil(wait))).encode()
                await send_error(send, 429, f"rate limit: {self.rate:g} requests/s per client (burst "
                                 f"{self.burst:g}); retry in {wait:.2f} s", [(b"retry-after", retry)])  # fmt: skip
                return
        await self.app(scope, receive, send)
