"""Articles as the index keeps them, made where they are parsed.

A full load makes each article's record (core.records) in the loading worker
that parsed it, with the image sizes already known filled in, and the worker
sends back the record: a few hundred bytes, not an article of a dozen
objects that this process would unpickle, share and pack again. With it come
the few values the index is built from (:meth:`core.index.Index.from_records`),
so that this process does not read them back out of the records: the
topics and provider (shared objects, sent once per chunk by pickle), and a
hash of the URL.
"""

from __future__ import annotations

from dataclasses import dataclass
from hashlib import blake2b
from typing import NamedTuple

from feedsvc.content.model import Article, Provider, Topic
from feedsvc.core import records
from feedsvc.core.sizes import SizeBook


class Packed(NamedTuple):
    """One article's record, with what the index keeps beside it and builds its feeds from."""

    source: str
    published_us: int  # its publication time, in microseconds since 1970 (records.microseconds)
    published: bool
    record: bytes | memoryview  # in a load apart, a view of its spool file (core.spool)
    url_key: int  # url_key(article.url)
    guid_is_url: bool
    topics: tuple[Topic, ...]
    provider: Provider | None


def url_key(url: str) -> int:
    """A URL's key in the index's URL map: 8 bytes of its BLAKE2 hash, the same in every
    process (so the snapshot can keep it), a number instead of a string of ~100 bytes."""
    return int.from_bytes(blake2b(url.encode(), digest_size=8).digest(), "little")


def packed(article: Article) -> Packed:
    return Packed(
        article.source,
        records.microseconds(article.published_at),
        article.published,
        records.pack(article),
        url_key(article.url),
        article.guid == article.url,
        article.topics,
        article.provider,
    )


def unpacked(item: Packed) -> Article:
    return records.unpack(item.source, item.published_us, item.record)


@dataclass(frozen=True, slots=True)
class Packer:
    """What a loading worker does to each article it parsed (content.loader's ``convert``):
    fill in the image sizes known, then pack it. Picklable, with its book of sizes."""

    sizes: SizeBook

    def __call__(self, article: Article) -> Packed:
        return packed(self.sizes.fill(article))
