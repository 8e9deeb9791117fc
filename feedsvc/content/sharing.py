"""One shared object per topic, provider and image, in every process."""

from __future__ import annotations

from functools import lru_cache

from feedsvc.content.model import Article, Image, Provider, Topic


# Thousands of articles name the same few topics and providers: share one
# object for each (less memory, smaller snapshots), with a bound on the cache.
@lru_cache(maxsize=16384)
def one_topic(name: str, slug: str) -> Topic:
    return Topic(name, slug)


@lru_cache(maxsize=16384)  # default images and logos repeat across articles too
def one_image(
    url: str, width: int | None = None, height: int | None = None, length: int | None = None, type: str = ""
) -> Image:
    return Image(url, width, height, length, type)


@lru_cache(maxsize=16384)
def one_provider(name: str, domain: str, images: tuple[Image, ...]) -> Provider:
    return Provider(name, domain, images)


def share_parts(article: Article) -> Article:
    """The same article, holding this process's shared topic, provider and
    image objects: articles parsed in another process arrive with copies."""
    return article._replace(
        provider=_shared_provider(article.provider),
        topics=tuple([one_topic(*topic) for topic in article.topics]),
        images=tuple([one_image(*image) for image in article.images]),
        related=tuple([r._replace(provider=_shared_provider(r.provider)) for r in article.related]),
    )


def _shared_provider(provider: Provider | None) -> Provider | None:
    if provider is None:
        return None
    return one_provider(provider.name, provider.domain, tuple([one_image(*image) for image in provider.images]))
