"""Voucher and gift-card codes: made random, unambiguous and readable aloud,
and typed ones read back into their stored form.

Codes use Crockford's base32 alphabet (no I, L, O or U), 5 bits a character,
from `secrets`. A voucher code has 12 characters (60 bits), a gift-card code
16 (80 bits: a gift card is money to whoever holds its code). They are printed
in groups of four (7KQ4-M2XH-9TPA). Typed input is forgiving: any case,
dashes and spaces optional, and O, I, L read as 0, 1, 1.
"""

from __future__ import annotations

import secrets
from collections.abc import Callable

ALPHABET = "0123456789ABCDEFGHJKMNPQRSTVWXYZ"
BITS_PER_CHARACTER = 5
VOUCHER_LENGTH = 12
GIFT_CARD_LENGTH = 16
GROUP = 4
_READ_AS = str.maketrans({"O": "0", "I": "1", "L": "1"})


def _random_code(length: int) -> str:
    raw = "".join(secrets.choice(ALPHABET) for _ in range(length))
    return format_code(raw)


def format_code(raw: str) -> str:
    """'7KQ4M2XH9TPA' → '7KQ4-M2XH-9TPA'."""
    return "-".join(raw[i : i + GROUP] for i in range(0, len(raw), GROUP))


def new_voucher_code() -> str:
    return _random_code(VOUCHER_LENGTH)


def new_gift_card_code() -> str:
    return _random_code(GIFT_CARD_LENGTH)


def normalise_code(text: str) -> str | None:
    """The stored form of a typed code, or None if it cannot be one.

    ' 7kq4 m2xh-9tpa ' → '7KQ4-M2XH-9TPA'.
    """
    raw = "".join(ch for ch in text.upper() if ch not in "- \t").translate(_READ_AS)
    if len(raw) not in {VOUCHER_LENGTH, GIFT_CARD_LENGTH} or any(ch not in ALPHABET for ch in raw):
        return None
    return format_code(raw)


def unique_code(new_code: Callable[[], str], exists: Callable[[str], bool]) -> str:
    """A fresh code. With 60+ random bits a clash is next to impossible; the
    unique index is the last guard if one still races in."""
    while True:
        code = new_code()
        if not exists(code):
            return code
