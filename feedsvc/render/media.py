"""Small facts about images that both XML renderers need."""

from __future__ import annotations

import mimetypes
import re
from functools import lru_cache
from urllib.parse import urlsplit

from feedsvc.content.model import Image

DEFAULT_IMAGE_TYPE = "image/jpeg"
_EXTRA_IMAGE_TYPES = {".webp": "image/webp", ".avif": "image/avif", ".svg": "image/svg+xml"}


@lru_cache(maxsize=65536)
def image_type(url: str) -> str:
    """Guess an image's media type from its URL; JPEG when the URL does not say."""
    path = urlsplit(url).path.lower()
    for suffix, media_type in _EXTRA_IMAGE_TYPES.items():
        if path.endswith(suffix):
            return media_type
    guessed, _ = mimetypes.guess_type(path)
    return guessed if guessed and guessed.startswith("image/") else DEFAULT_IMAGE_TYPE


def media_type(image: Image) -> str:
    """An image's media type: the real one when known (front matter or the probe), else guessed from its URL."""
    return image.type or image_type(image.url)


def rss_image_allowed(url: str) -> bool:
    """RSS 2.0's <image> must be a GIF, JPEG or PNG: refuse URLs that say otherwise."""
    extension = url.rsplit(".", 1)[-1].lower()
    return not re.fullmatch(r"\w+", extension) or extension in ("jpg", "jpeg", "gif", "png")


def podcast_image_allowed(url: str) -> bool:
    """Podcast artwork (itunes:image) must be a JPEG or PNG whose URL ends in ".jpg" or ".png".

    That is Apple's rule, which podcast apps and feedgen's podcast extension
    follow to the letter: a query string after the name, ".jpeg" or a URL
    that names no file type at all is refused.
    """
    return url.endswith((".jpg", ".png"))


def podcast_cover(image: Image) -> bool:
    """Whether an image can be a podcast cover: JPEG or PNG (see podcast_image_allowed) and
    square, as far as its size is known (podcast apps crop anything else)."""
    square = not (image.width and image.height) or image.width == image.height
    return square and podcast_image_allowed(image.url)
