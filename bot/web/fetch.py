"""Downloading a WeChat image message's picture: only from WeChat's picture hosts, never from anywhere a message names.

A message's PicUrl is a field of the XML WeChat posts; a forged or replayed
message could name any address, and a server that fetched it would reach
places only it can reach (its own admin ports, a cloud's metadata service, the
office network). So the address must be http or https on one of the picture
hosts of the config (`wechat.picture_hosts`), without a user name or an IP
address for a host; the name is resolved once, every address it resolves to
must be public, and the connection goes to the address that was checked (the
Host header and the TLS name stay the host's): a name that resolves elsewhere
a moment later is not asked again. A redirect is followed only to the same
host, checked again, at most twice. Proxies from the environment are not used.
"""

from __future__ import annotations

import asyncio
import ipaddress
import logging
import socket
import time
from typing import Awaitable, Callable, Iterable
from urllib.parse import urljoin, urlsplit, urlunsplit

from ..reading import MAX_BYTES, PictureError

log = logging.getLogger(__name__)

MAX_REDIRECTS = 2

Resolver = Callable[[str, int], Awaitable[list[str]]]


class Refused(PictureError):
    """A picture address this server will not fetch from; the follower is asked for the text."""

    def __init__(self, reason: str) -> None:
        super().__init__("picture_send_text", reason)


def public_address(address: ipaddress.IPv4Address | ipaddress.IPv6Address) -> bool:
    """Whether an address is on the public internet (not private, loopback, link-local, shared or reserved)."""
    mapped = getattr(address, "ipv4_mapped", None)
    return (mapped or address).is_global and not address.is_multicast


async def system_resolver(host: str, port: int) -> list[str]:
    """Every address the system resolver gives for a host."""
    infos = await asyncio.get_running_loop().getaddrinfo(host, port, type=socket.SOCK_STREAM)
    return [info[4][0] for info in infos]


def _is_ip(host: str) -> bool:
    try:
        ipaddress.ip_address(host.strip("[]"))
        return True
    except ValueError:
        return False


class PictureFetcher:
    """Downloads one picture from an allowed host into memory: at most MAX_BYTES, within a time limit."""

    def __init__(self, hosts: Iterable[str], resolver: Resolver = system_resolver,
                 address_allowed: Callable[[ipaddress.IPv4Address | ipaddress.IPv6Address], bool] = public_address,
                 max_bytes: int = MAX_BYTES) -> None:
        """`resolver` and `address_allowed`: the system's resolver and public addresses only; tests
        replace them to serve pictures from 127.0.0.1."""
        self.hosts = frozenset(hosts)
        self.resolve = resolver
        self.address_allowed = address_allowed
        self.max_bytes = max_bytes

    def check(self, url: str) -> tuple[str, str, int]:
        """The scheme, host and port of an address pictures may come from; Refused otherwise."""
        try:
            parts = urlsplit(url.strip())
            port = parts.port
        except ValueError:
            raise Refused("the picture address is not a URL") from None
        scheme = parts.scheme.lower()
        if scheme not in ("http", "https"):
            raise Refused(f"the picture address is not http or https ({scheme or 'no scheme'})")
        if parts.username is not None or parts.password is not None:
            raise Refused("the picture address carries a user name")
        host = (parts.hostname or "").rstrip(".")
        if _is_ip(host):
            raise Refused("the picture address is an IP address, not one of WeChat's picture hosts")
        if host not in self.hosts:
            raise Refused(f"{host or 'no host'} is not one of WeChat's picture hosts (wechat.picture_hosts)")
        return scheme, host, port or (443 if scheme == "https" else 80)

    async def address_of(self, host: str, port: int) -> str:
        """The one address to connect to: every address the host resolves to must be allowed."""
        try:
            addresses = await self.resolve(host, port)
        except OSError:
            raise Refused(f"{host} could not be resolved") from None
        if not addresses:
            raise Refused(f"{host} has no address")
        checked = [ipaddress.ip_address(address.split("%", 1)[0]) for address in addresses]
        for address in checked:
            if not self.address_allowed(address):
                raise Refused(f"{host} resolves to {address}, which is not a public address")
        # IPv4 first: a server without an IPv6 route would otherwise fail on a name that has both.
        return str(min(checked, key=lambda address: address.version))

    async def fetch(self, url: str, time_limit: float) -> bytes:
        """The picture's bytes; Refused for an address not allowed, PictureError when too big or too slow."""
        import httpx

        started = time.monotonic()
        try:
            async with asyncio.timeout(time_limit):
                async with httpx.AsyncClient(timeout=time_limit, follow_redirects=False, trust_env=False) as client:
                    for _ in range(MAX_REDIRECTS + 1):
                        scheme, host, port = self.check(url)
                        address = await self.address_of(host, port)
                        parts = urlsplit(url.strip())
                        pinned = f"[{address}]" if ":" in address else address
                        default_port = port == (443 if scheme == "https" else 80)
                        netloc = pinned if default_port else f"{pinned}:{port}"
                        request = client.build_request(
                            "GET", urlunsplit((scheme, netloc, parts.path or "/", parts.query, "")),
                            # Identity: the body read is the body sent (no compressed bomb to inflate).
                            headers={"Host": host if default_port else f"{host}:{port}", "Accept-Encoding": "identity"},
                            extensions={"sni_hostname": host} if scheme == "https" else {})
                        response = await client.send(request, stream=True)
                        try:
                            if response.is_redirect:
                                target = urlsplit(urljoin(url, response.headers.get("location", "")))
                                if (target.hostname or "").rstrip(".") != host:
                                    raise Refused(f"the picture host redirected to another host ({target.hostname})")
                                url = urlunsplit((target.scheme, f"{host}:{target.port}" if target.port else host,
                                                  target.path, target.query, ""))
                                continue
                            response.raise_for_status()
                            return await self._body(response, started, time_limit)
                        finally:
                            await response.aclose()
                    raise Refused(f"the picture host redirected more than {MAX_REDIRECTS} times")
        except TimeoutError:
            raise PictureError("picture_timeout", "the picture could not be downloaded in time") from None
        except httpx.HTTPError as exc:
            log.warning("wechat: could not download a picture (%s)", type(exc).__name__)
            raise PictureError("picture_timeout", "the picture could not be downloaded in time") from None

    async def _body(self, response, started: float, time_limit: float) -> bytes:
        declared = response.headers.get("content-length", "")
        if declared.isdigit() and int(declared) > self.max_bytes:
            raise PictureError("picture_too_big", f"the picture is over {self.max_bytes // (1024 * 1024)} MB")
        chunks, size = [], 0
        async for chunk in response.aiter_raw():
            size += len(chunk)
            if size > self.max_bytes:
                raise PictureError("picture_too_big", f"the picture is over {self.max_bytes // (1024 * 1024)} MB")
            chunks.append(chunk)
            if time.monotonic() - started > time_limit:
                raise PictureError("picture_timeout", "the download took too long")
        return b"".join(chunks)
