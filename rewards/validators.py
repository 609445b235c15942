"""Checks on uploaded reward and gift-card pictures.

The project does not depend on Pillow, so a picture is recognised by the
first bytes of its file (PNG, JPEG, GIF or WebP) rather than decoded.
"""

from __future__ import annotations

from django.core.exceptions import ValidationError
from django.core.files import File
from django.utils.translation import gettext_lazy as _

MAX_IMAGE_BYTES = 4 * 1024 * 1024
SIGNATURES = (
    b"\x89PNG\r\n\x1a\n",
    b"\xff\xd8\xff",
    b"GIF87a",
    b"GIF89a",
)


def is_image_header(head: bytes) -> bool:
    """True for the first bytes of a PNG, JPEG, GIF or WebP file."""
    if head.startswith(SIGNATURES):
        return True
    return head[:4] == b"RIFF" and head[8:12] == b"WEBP"


def validate_image_file(file: File) -> None:
    """Raises ValidationError for a file that is not a picture or too large."""
    if file.size is not None and file.size > MAX_IMAGE_BYTES:
        raise ValidationError(_("The picture is too large (at most 4 MB)."))
    position = file.tell() if hasattr(file, "tell") else 0
    file.seek(0)
    head = file.read(16)
    file.seek(position)
    if not is_image_header(head):
        raise ValidationError(_("Upload a PNG, JPEG, GIF or WebP picture."))
