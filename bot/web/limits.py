"""What one client can claim or hold: its address behind a proxy, open connections, time to send a request.

- `ClientAddress`: the client's address for rate limits, from X-Forwarded-For only when
  the connection comes from a trusted proxy, and then the right-most address the proxy
  did not vouch for; anything that is not an IP address is ignored.
- `GuardedH11Protocol`: uvicorn's HTTP/1.1 protocol with deadlines for a request's head
  and body (slow clients are cut off) and a cap on open connections (the oldest idle
  one makes room), so that idle or slow connections cannot take every descriptor.
- `raise_descriptor_limit`: the soft RLIMIT_NOFILE raised to the hard one at start.
"""

from __future__ import annotations

import asyncio
import ipaddress
import logging
import os
import resource
from collections import OrderedDict
from typing import Any

import h11
from uvicorn.protocols.http.h11_impl import H11Protocol

log = logging.getLogger(__name__)

Address = ipaddress.IPv4Address | ipaddress.IPv6Address
# X-Forwarded-For is read from its right end, and no further than this.
MAX_FORWARDED_CHARS = 512
MAX_FORWARDED_HOPS = 8
MAX_KEY_CHARS = 64
# Descriptors kept free beside those open at start: the database's files, Telegram's
# connections, and bursts of accepts: the event loop accepts up to BACKLOG connections at
# once, and a second burst may come before the first has closed the longest-idle ones.
RESERVED_DESCRIPTORS = 32
BACKLOG = 64


class TrustedProxies:
    """The proxies whose X-Forwarded-For is read ("127.0.0.1, 10.0.0.0/8", or "*" for any)."""

    def __init__(self, spec: str) -> None:
        self.anyone = spec.strip() == "*"
        self.networks = []
        for part in spec.split(","):
            part = part.strip()
            if part and part != "*":
                try:
                    self.networks.append(ipaddress.ip_network(part, strict=False))
                except ValueError:
                    log.warning("web.forwarded_allow_ips: %r is not an address or network; ignored", part[:64])

    def __contains__(self, address: Address) -> bool:
        return self.anyone or any(address in network for network in self.networks)


def parse_address(text: str) -> Address | None:
    """An IP address as a proxy writes it ("203.0.113.7", "2001:db8::1", "[2001:db8::1]"), else None."""
    text = text.strip()
    if text.startswith("[") and text.endswith("]"):
        text = text[1:-1]
    if not text or len(text) > 45 or not text.isascii():
        return None
    try:
        return ipaddress.ip_address(text)
    except ValueError:
        return None


def client_address(peer: str, forwarded: str | None, trusted: TrustedProxies) -> str:
    """Who sent the request: the peer, or behind trusted proxies the nearest address they did not vouch for."""
    address = parse_address(peer)
    if address is None:
        return peer[:MAX_KEY_CHARS]  # not an IP connection (a test client, a Unix socket)
    if not forwarded or address not in trusted:
        return address.compressed
    tail = forwarded[-MAX_FORWARDED_CHARS:]
    hops = tail.split(",")
    if len(tail) < len(forwarded):
        hops = hops[1:]  # the first one was cut
    for hop in reversed(hops[-MAX_FORWARDED_HOPS:]):
        hop_address = parse_address(hop)
        if hop_address is None:
            break  # not written by a proxy we trust: the last address we could vouch for stands
        address = hop_address
        if hop_address not in trusted:
            break
    return address.compressed


def rate_key(address: str) -> str:
    """The key of a client's rate limit: an IPv6 client holds a whole /64, so that is one client."""
    parsed = parse_address(address)
    if isinstance(parsed, ipaddress.IPv6Address) and parsed.ipv4_mapped is None:
        return ipaddress.ip_network(f"{parsed}/64", strict=False).compressed
    return address[:MAX_KEY_CHARS]


class ClientAddress:
    """ASGI middleware: scope["client"] is the client's address (see client_address)."""

    def __init__(self, app: Any, trusted: str) -> None:
        self.app = app
        self.trusted = TrustedProxies(trusted)

    async def __call__(self, scope, receive, send) -> None:
        if scope["type"] in ("http", "websocket"):
            peer = scope.get("client") or ("", 0)
            forwarded = [v.decode("latin-1") for k, v in scope.get("headers", ()) if k == b"x-forwarded-for"]
            address = client_address(str(peer[0]), ",".join(forwarded) or None, self.trusted)
            scope = {**scope, "client": (address, peer[1])}
        await self.app(scope, receive, send)


# -- connections -----------------------------------------------------------------------------


class ConnectionGuard:
    """Deadlines and the connection cap shared by every connection of one server."""

    def __init__(self, max_connections: int, head_timeout: float, body_timeout: float) -> None:
        self.max_connections = max_connections
        self.head_timeout = head_timeout
        self.body_timeout = body_timeout
        self.idle: OrderedDict[GuardedH11Protocol, None] = OrderedDict()  # waiting for a request, oldest first
        self.evicted = 0
        self.timed_out = 0

    def protocol(self) -> type[GuardedH11Protocol]:
        """The protocol class to give uvicorn (http=…), bound to this guard."""
        return type("GuardedH11", (GuardedH11Protocol,), {"guard": self})


class GuardedH11Protocol(H11Protocol):
    """uvicorn's h11 protocol with a deadline for each request's head and body, and a connection cap."""

    guard: ConnectionGuard

    def connection_made(self, transport) -> None:  # type: ignore[override]
        super().connection_made(transport)
        self._deadline: asyncio.TimerHandle | None = None
        self._phase = ""
        guard = self.guard
        if len(self.connections) > guard.max_connections:
            # Full: the connection idle for longest makes room (a slow or idle client, or a
            # browser's spare keep-alive); if every one is busy with a request, this one goes.
            victim = next(iter(guard.idle), None)
            if victim is None:
                transport.close()
                return
            guard.evicted += 1
            victim._close()
        self._check_phase()

    def connection_lost(self, exc) -> None:
        self._set_deadline("", 0)
        self.guard.idle.pop(self, None)
        super().connection_lost(exc)

    def data_received(self, data: bytes) -> None:
        super().data_received(data)
        self._check_phase()

    def on_response_complete(self) -> None:
        super().on_response_complete()
        self._check_phase()

    def _check_phase(self) -> None:
        """After every event: waiting for a head, receiving a body, or busy with the response."""
        if self.transport is None or self.transport.is_closing():
            return
        state = self.conn.their_state
        if state is h11.IDLE:
            self.guard.idle[self] = None
            self._set_deadline("head", self.guard.head_timeout)
        elif state is h11.SEND_BODY:
            self.guard.idle.pop(self, None)
            self._set_deadline("body", self.guard.body_timeout)
        else:
            self.guard.idle.pop(self, None)
            self._set_deadline("", 0)

    def _set_deadline(self, phase: str, seconds: float) -> None:
        if phase == self._phase:
            return  # a deadline runs from the start of its phase: a trickle of bytes does not move it
        if self._deadline is not None:
            self._deadline.cancel()
            self._deadline = None
        self._phase = phase
        if phase:
            self._deadline = self.loop.call_later(seconds, self._expired)

    def _expired(self) -> None:
        self._deadline = None
        self.guard.timed_out += 1
        self._close()

    def _close(self) -> None:
        self.guard.idle.pop(self, None)
        if self.transport is not None and not self.transport.is_closing():
            self.transport.close()


def raise_descriptor_limit() -> int:
    """Raise the soft limit of open files to the hard one; the soft limit now in force."""
    soft, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
    target = hard if hard != resource.RLIM_INFINITY else max(soft, 65536)
    if soft < target:
        try:
            resource.setrlimit(resource.RLIMIT_NOFILE, (target, hard))
            soft = target
        except (ValueError, OSError) as exc:
            log.warning("could not raise the open-file limit from %d to %d: %s", soft, target, exc)
    return soft


def open_descriptors() -> int:
    """Files this process has open now (0 where the system does not say)."""
    try:
        return len(os.listdir("/proc/self/fd"))
    except OSError:
        return 0


def connection_cap(wanted: int, descriptors: int, in_use: int = 0) -> int:
    """Connections the server may hold: what the config asks, within the descriptors still free."""
    return max(16, min(wanted, descriptors - in_use - RESERVED_DESCRIPTORS - 2 * BACKLOG))
