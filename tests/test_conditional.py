from __future__ import annotations

from datetime import UTC, datetime

import pytest

from feedsvc.web.conditional import accepts_gzip, etag_matches, http_date, is_not_modified, parse_http_date, strong_etag

LAST_MODIFIED = datetime(2024, 5, 1, 12, 0, 0, tzinfo=UTC)
ETAGS = ('"abc"', '"abc-gzip"')


@pytest.mark.parametrize(
    ("if_none_match", "if_modified_since", "expected"),
    [
        pytest.param(None, None, False, id="unconditional"),
        pytest.param('"abc"', None, True, id="etag-match"),
        pytest.param('"abc-gzip"', None, True, id="gzip-etag-match"),
        pytest.param('W/"abc"', None, True, id="weak-comparison"),
        pytest.param('"x", "abc"', None, True, id="list-match"),
        pytest.param("*", None, True, id="star"),
        pytest.param('"old"', None, False, id="etag-mismatch"),
        pytest.param(None, "Wed, 01 May 2024 12:00:00 GMT", True, id="ims-equal"),
        pytest.param(None, "Wed, 01 May 2024 13:00:00 GMT", True, id="ims-after"),
        pytest.param(None, "Wed, 01 May 2024 11:59:59 GMT", False, id="ims-before"),
        pytest.param(None, "not a date", False, id="ims-garbage-ignored"),
        # RFC 9110 §13.2.2: If-None-Match wins, even when it does not match.
        pytest.param('"old"', "Wed, 01 May 2024 13:00:00 GMT", False, id="inm-mismatch-beats-ims"),
        pytest.param('"abc"', "Wed, 01 May 2024 11:00:00 GMT", True, id="inm-match-beats-ims"),
    ],
)
def test_is_not_modified(if_none_match: str | None, if_modified_since: str | None, expected: bool):
    assert is_not_modified(if_none_match, if_modified_since, ETAGS, LAST_MODIFIED) is expected


def test_is_not_modified_ignores_subsecond_last_modified():
    precise = LAST_MODIFIED.replace(microsecond=500_000)
    assert is_not_modified(None, http_date(precise), ETAGS, precise)


@pytest.mark.parametrize(
    ("header", "ok"),
    [
        (None, False),
        ("", False),
        ("gzip", True),
        ("gzip, deflate, br", True),
        ("br;q=1.0, gzip;q=0.8", True),
        ("gzip;q=0", False),
        ("identity", False),
        ("*", True),
        ("*, gzip;q=0", False),
        ("x-gzip", True),
        ("GZIP", True),
    ],
)
def test_accepts_gzip(header: str | None, ok: bool):
    assert accepts_gzip(header) is ok


def test_etag_matches_needs_exact_opaque_tag():
    assert not etag_matches('"ab"', ['"abc"'])


def test_strong_etag_depends_on_body_only():
    assert strong_etag(b"x") == strong_etag(b"x") != strong_etag(b"y")
    assert strong_etag(b"x").startswith('"') and not strong_etag(b"x").startswith("W/")


def test_http_date_round_trip():
    assert http_date(LAST_MODIFIED) == "Wed, 01 May 2024 12:00:00 GMT"
    assert parse_http_date("Wed, 01 May 2024 12:00:00 GMT") == LAST_MODIFIED
    assert parse_http_date("garbage") is None
