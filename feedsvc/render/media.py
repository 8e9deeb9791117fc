"""Small facts about images that both XML renderers need."""

from __future__ import annotations

import mimetypes
import re
from functools import lru_cache
from urllib.parse import urlsplit

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


def rss_image_allowed(url: str) -> bool:
    """RSS 2.0's <image> must be a GIF, JPEG or PNG: refuse URLs that say otherwise."""
    extension = url.rsplit(".", 1)[-1].lower()
    return not re.fullmatch(r"\w+", extension) or extension in ("jpg", "jpeg", "gif", "png")
