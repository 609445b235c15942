"""The check on a broadcast's uploaded picture.

The project does not depend on Pillow, so a picture is recognised by the
first bytes of its file rather than decoded (as rewards.validators does for
rewards). A broadcast's picture goes to every member's inbox and may ride on
a push message, so it is held to what every phone shows (PNG, JPEG, WebP;
no GIF) and to a size that loads on a slow connection.
"""

from __future__ import annotations

from django.core.exceptions import ValidationError
from django.core.files import File
from django.utils.translation import gettext_lazy as _

BROADCAST_IMAGE_MAX_BYTES = 1024 * 1024


def broadcast_image_kind(head: bytes) -> str | None:
    """ "png", "jpeg" or "webp" for the first bytes of such a file, else None."""
    if head.startswith(b"\x89PNG\r\n\x1a\n"):
        return "png"
    if head.startswith(b"\xff\xd8\xff"):
        return "jpeg"
    if head[:4] == b"RIFF" and head[8:12] == b"WEBP":
        return "webp"
    return None


def validate_broadcast_image(file: File) -> None:
    """Raises ValidationError for a file over 1 MB or that is not a PNG, JPEG
    or WebP picture."""
    if file.size is not None and file.size > BROADCAST_IMAGE_MAX_BYTES:
        raise ValidationError(_("The picture is too large (at most 1 MB)."))
    position = file.tell() if hasattr(file, "tell") else 0
    file.seek(0)
    head = file.read(16)
    file.seek(position)
    if broadcast_image_kind(head) is None:
        raise ValidationError(_("Upload a PNG, JPEG or WebP picture."))
