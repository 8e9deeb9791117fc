"""Which addresses the enclosure probe may connect to, and an httpx client that connects only there.

``public`` (the default of ``--enclosure-probe``) never connects to
loopback, private, link-local, multicast, reserved or unspecified addresses,
IPv4 and IPv6 alike, nor to an IPv6 address carrying such an IPv4 one. The
host name is resolved here, every address it has is checked, and the
connection is made to a checked address, so a DNS answer that changes
between a check and the connection (rebinding) cannot reach inside. A name
with any refused address is refused as a whole. TLS (SNI, certificate check)
and the Host header still use the URL's host name: httpcore takes those from
the request, not from the address dialled. Every redirect hop is a new
connection, checked again.

Imported only when the probe runs (httpx and httpcore cost ~0.1 s to import).
"""

from __future__ import annotations

import asyncio
import ipaddress
import socket
import ssl
from collections.abc import Awaitable, Callable, Iterable, Sequence

import httpcore
import httpx

IPAddress = ipaddress.IPv4Address | ipaddress.IPv6Address
Rule = Callable[[IPAddress], "str | None"]  # why an address is refused, or None
Resolver = Callable[[str, int], Awaitable[list[str]]]

_NAT64 = ipaddress.IPv6Network("64:ff9b::/96")  # RFC 6052: the IPv4 address is the last 32 bits


def refusal(address: IPAddress) -> str | None:
    """Why ``public`` refuses to connect to this address, or None for a public one.

    An IPv6 address carrying an IPv4 one (mapped ``::ffff:a.b.c.d``, 6to4
    ``2002::/16``, NAT64 ``64:ff9b::/96``) reaches that IPv4 address, so it
    is judged by it.
    """
    if isinstance(address, ipaddress.IPv6Address):
        inner = address.ipv4_mapped or address.sixtofour
        if inner is None and address in _NAT64:
            inner = ipaddress.IPv4Address(int(address) & 0xFFFFFFFF)
        if inner is not None:
            reason = refusal(inner)
            return f"{reason} (as {address})" if reason else None
        if address.is_site_local:
            return "site-local"
    for reason, refused in (
        ("unspecified", address.is_unspecified),
        ("loopback", address.is_loopback),
        ("link-local", address.is_link_local),
        ("multicast", address.is_multicast),
        ("reserved", address.is_reserved),
        ("private", address.is_private),
        ("not globally routable", not address.is_global),  # 100.64.0.0/10 (carrier NAT) and the like
    ):
        if refused:
            return reason
    return None


def allow_all(address: IPAddress) -> str | None:
    """The ``all`` rule: every address (intranets, tests)."""
    return None


def rule_for(mode: str) -> Rule:
    """The address rule of an ``--enclosure-probe`` mode."""
    return refusal if mode == "public" else allow_all


class AddressRefused(Exception):
    """The probe may not connect there. Not an httpcore error, so nothing retries it."""


def vetted(host: str, names: Sequence[str], rule: Rule) -> list[IPAddress]:
    """The addresses to connect to for ``host``, or AddressRefused when any
    breaks the rule (a name that also points inside is not used at all)."""
    addresses = []
    for name in names:
        try:
            address = ipaddress.ip_address(name.partition("%")[0])  # a scope ("%eth0") is link-local anyway
        except ValueError:
            raise AddressRefused(f"{host} resolves to {name[:60]!r}, not an IP address") from None
        reason = rule(address)
        if reason is not None:
            raise AddressRefused(f"{host} resolves to {address}, a {reason} address")
        addresses.append(address)
    return addresses


async def system_resolve(host: str, port: int) -> list[str]:
    """Every address the system resolver gives for ``host``, in its order."""
    infos = await asyncio.get_running_loop().getaddrinfo(host, port, type=socket.SOCK_STREAM)
    return list(dict.fromkeys(str(info[4][0]) for info in infos))


class VettedBackend(httpcore.AsyncNetworkBackend):
    """An httpcore network backend that resolves the name itself and connects
    only to addresses the rule allows."""

    def __init__(self, rule: Rule, resolve: Resolver = system_resolve) -> None:
        self._rule = rule
        self._resolve = resolve
        self._inner = httpcore.AnyIOBackend()

    async def connect_tcp(
        self,
        host: str,
        port: int,
        timeout: float | None = None,
        local_address: str | None = None,
        socket_options: Iterable[httpcore.SOCKET_OPTION] | None = None,
    ) -> httpcore.AsyncNetworkStream:
        try:
            async with asyncio.timeout(timeout):
                names = await self._resolve(host, port)
        except (OSError, UnicodeError) as exc:
            raise httpcore.ConnectError(f"cannot resolve {host}: {exc}") from exc
        except TimeoutError as exc:
            raise httpcore.ConnectTimeout(f"resolving {host} timed out") from exc
        error: Exception = httpcore.ConnectError(f"{host} has no address")
        for address in vetted(host, names, self._rule):  # in the resolver's order, as a browser tries them
            try:
                return await self._inner.connect_tcp(str(address), port, timeout, local_address, socket_options)
            except (httpcore.ConnectError, httpcore.ConnectTimeout) as exc:
                error = exc
        raise error

    async def connect_unix_socket(
        self, path: str, timeout: float | None = None, socket_options: Iterable[httpcore.SOCKET_OPTION] | None = None
    ) -> httpcore.AsyncNetworkStream:
        raise AddressRefused("the probe connects over TCP only")

    async def sleep(self, seconds: float) -> None:
        await asyncio.sleep(seconds)


def make_client(
    rule: Rule,
    resolve: Resolver = system_resolve,
    *,
    connect_seconds: float,
    read_seconds: float,
    connections: int,
    user_agent: str,
    ssl_context: ssl.SSLContext | None = None,
) -> httpx.AsyncClient:
    """An httpx client whose every connection goes through VettedBackend, no
    proxy, no automatic redirects (the caller follows them a hop at a time)."""
    transport = httpx.AsyncHTTPTransport(trust_env=False)
    # httpx has no argument for a network backend: give its transport a pool that has
    # ours (the pool is all the transport holds; httpx is pinned below 1.0).
    transport._pool = httpcore.AsyncConnectionPool(
        ssl_context=ssl_context or httpx.create_ssl_context(trust_env=False),
        max_connections=connections,
        max_keepalive_connections=connections,
        keepalive_expiry=5.0,
        network_backend=VettedBackend(rule, resolve),
    )
    return httpx.AsyncClient(
        transport=transport,
        trust_env=False,  # a proxy from the environment would connect where the rule cannot look
        follow_redirects=False,
        timeout=httpx.Timeout(read_seconds, connect=connect_seconds),
        headers={"User-Agent": user_agent, "Accept": "image/*", "Accept-Encoding": "identity"},
    )
