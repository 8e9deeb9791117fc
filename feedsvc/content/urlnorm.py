"""URLs as written in files -> absolute http(s) URIs fit to publish (or None)."""

from __future__ import annotations

import ipaddress
import re
from functools import lru_cache
from urllib.parse import quote, urlsplit, urlunsplit

from feedsvc.text import is_domain

_LONE_PERCENT = re.compile(r"%(?![0-9A-Fa-f]{2})")
_SPACE = re.compile(r"\s")
_CLEAN_URL = re.compile(r"https?://([a-z0-9](?:[a-z0-9.-]*[a-z0-9])?)/[A-Za-z0-9\-._~:/?@!$&'()*+,;=%#]*")
_URI_CHARS = re.compile(r"[A-Za-z0-9\-._~:/?@!$&'()*+,;=%]*")  # no "#": a second one must be encoded


def normalize_url(raw: str) -> str | None:
    """Given a URL as written, return it as an absolute http(s) URI, or None.

    International host names become punycode, characters URIs do not allow
    (spaces, non-ASCII, a stray "%" or a second "#") are percent-encoded,
    valid escapes are kept.
    """
    fast = _CLEAN_URL.fullmatch(raw)
    if fast is not None and _canonical_as_written(raw):
        # Already a canonical URI (the common case): only the host needs checking.
        host = fast.group(1)
        return raw if ascii_host(host) == host else None
    return _normalize_parts(raw)


def _canonical_as_written(raw: str) -> bool:
    """Would the full normalisation leave this clean-looking URL unchanged?

    It encodes a lone "%" and a second "#", and drops an empty query or
    fragment ("x?", "x#", "x?#a").
    """
    return (
        raw.count("#") <= 1
        and ("%" not in raw or not _LONE_PERCENT.search(raw))
        and not raw.endswith(("?", "#"))
        and "?#" not in raw
    )


def _normalize_parts(raw: str) -> str | None:
    try:
        parts = urlsplit(raw.strip())
        port = parts.port
        host = parts.hostname
    except ValueError:
        return None
    if parts.scheme.lower() not in ("http", "https") or not host or _SPACE.search(parts.netloc):
        return None
    host = ascii_host(host)
    if host is None:
        return None
    netloc = f"[{host}]" if ":" in host else host
    if port is not None:
        netloc += f":{port}"
    if parts.username or parts.password:
        return None  # credentials do not belong in a published URL
    path = _encode(parts.path or "/", "/:@!$&'()*+,;=~")
    query = _encode(parts.query, "/?:@!$&'()*+,;=~")
    fragment = _encode(parts.fragment, "/?:@!$&'()*+,;=~")
    return urlunsplit((parts.scheme.lower(), netloc, path, query, fragment))


def _encode(component: str, safe: str) -> str:
    if _URI_CHARS.fullmatch(component) and not _LONE_PERCENT.search(component):
        return component  # the common case: nothing to encode
    return quote(_LONE_PERCENT.sub("%25", component), safe=safe + "%")


@lru_cache(maxsize=65536)  # a corpus has far fewer hosts than URLs
def ascii_host(host: str) -> str | None:
    if ":" in host or re.fullmatch(r"[0-9.]+", host):
        try:
            return str(ipaddress.ip_address(host))
        except ValueError:
            return None
    try:
        ascii_host = host.encode("idna").decode("ascii").lower()
        for label in ascii_host.split("."):
            if label.startswith("xn--"):
                label.encode("ascii").decode("idna")  # refuses broken punycode
    except UnicodeError:
        return None
    return ascii_host if is_domain(ascii_host.rstrip(".")) else None
