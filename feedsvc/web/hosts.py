"""Which Host headers the service answers to (pure decisions over strings).

Without --base-url, the Host of a request becomes every absolute URL in the
feed and part of its cache key: a stream of made-up Hosts would fill the
cache with copies nobody reads and evict real readers' entries. So only
hosts on an allow-list are served, loopback names by default; anything else
gets a 400 before any rendering or caching.
"""

from __future__ import annotations

from feedsvc.settings import Settings

LOOPBACK = ("localhost", "127.0.0.1", "[::1]")
ANY = ("*",)
_EVERY_INTERFACE = ("", "0.0.0.0", "::", "[::]")  # noqa: S104 - names, not a bind


def allowed_hosts(settings: Settings) -> tuple[str, ...]:
    """The allow-list in force: the configured one, else what the README promises by default."""
    if settings.allowed_hosts is not None:
        return settings.allowed_hosts
    if settings.base_url is not None:
        return ANY  # the Host is then in no URL and no cache key: any will do
    listen = settings.host.lower()
    if listen in _EVERY_INTERFACE:
        return LOOPBACK
    if ":" in listen and not listen.startswith("["):
        listen = f"[{listen}]"  # an IPv6 address, as a Host header spells it
    return LOOPBACK if listen in LOOPBACK else (*LOOPBACK, listen)


def host_name(host: str) -> str:
    """A Host header value without its port: "example.com:8080" -> "example.com", "[::1]:80" -> "[::1]"."""
    if host.startswith("["):
        return host[: host.find("]") + 1]
    return host.partition(":")[0]


def host_allowed(name: str, allowed: tuple[str, ...]) -> bool:
    """Is a host name (lower case, no port) on the allow-list? ".example.com" covers it and its subdomains."""
    for pattern in allowed:
        if pattern == "*" or name == pattern:
            return True
        if pattern.startswith(".") and (name.endswith(pattern) or name == pattern[1:]):
            return True
    return False
