"""What an image's size and media type may be: the one rule for what front matter
says (content.parse) and what an image's server answers (live.probe, core.sizes).

Standard library only: a start from the snapshot needs these, not the parser.
"""

from __future__ import annotations

import re
import sys

# The largest image file we believe in, from front matter or from an image's server:
# a bigger number is a mistake (or a lie), not an image a podcast app should fetch.
MAX_IMAGE_BYTES = 100_000_000
# RFC 6838 restricted names: image/jpeg, image/svg+xml, image/vnd.microsoft.icon.
_IMAGE_TYPE = re.compile(r"image/[a-z0-9][a-z0-9!#$&^_.+-]{0,126}")


def is_image_size(length: int) -> bool:
    """Is this a plausible size of an image file, in bytes?"""
    return 0 < length <= MAX_IMAGE_BYTES


def image_media_type(value: str) -> str | None:
    """Given a media type as written or sent (``IMAGE/PNG; q=1``), return it
    normalised (``image/png``) if it names an image type, else None."""
    media_type = value[:200].partition(";")[0].strip().lower()
    return sys.intern(media_type) if _IMAGE_TYPE.fullmatch(media_type) else None
