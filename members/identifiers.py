"""Member identifiers: card numbers with a check digit, normalised contacts."""

from __future__ import annotations

import re
import secrets

CARD_PREFIX = "88"
CARD_LENGTH = 16
EXTERNAL_ID_MAX_LENGTH = 64
REFERRAL_ALPHABET = "23456789ABCDEFGHJKMNPQRSTUVWXYZ"  # no 0/O, 1/I/L


def luhn_check_digit(digits: str) -> str:
    """The Luhn digit that makes `digits + digit` valid (ISO/IEC 7812)."""
    total = 0
    for index, char in enumerate(reversed(digits)):
        value = int(char)
        if index % 2 == 0:  # doubled: these sit at odd positions once the check digit is added
            value *= 2
            if value > 9:
                value -= 9
        total += value
    return str((10 - total % 10) % 10)


def card_number_is_valid(number: str) -> bool:
    return (
        len(number) == CARD_LENGTH
        and number.isdigit()
        and luhn_check_digit(number[:-1]) == number[-1]
    )


def new_card_number() -> str:
    """'88', 13 random digits and a Luhn check digit: 16 digits, printable as a barcode."""
    body = CARD_PREFIX + "".join(secrets.choice("0123456789") for _ in range(CARD_LENGTH - 3))
    return body + luhn_check_digit(body)


def new_referral_code() -> str:
    return "".join(secrets.choice(REFERRAL_ALPHABET) for _ in range(8))


REFERRAL_CODE_MAX_LENGTH = 12
_CODE_NOISE = re.compile(r"[\s\-]")


def normalise_referral_code(code: str | None) -> str | None:
    """A referral code as stored: upper case, without spaces or dashes (a
    friend may read it aloud or type it in lower case); empty is None."""
    code = _CODE_NOISE.sub("", code or "").upper()
    return code or None


# Mail providers whose addresses ignore dots in the local part.
DOTLESS_DOMAINS = frozenset({"gmail.com", "googlemail.com"})


def email_identity(email: str | None) -> str | None:
    """The mailbox behind an address, to tell one person's aliases apart from
    two people: lower case, without a `+tag`, and for Gmail-style providers
    without dots and with googlemail.com as gmail.com. None for no email."""
    email = normalise_email(email)
    if not email or "@" not in email:
        return email
    local, _at, domain = email.rpartition("@")
    local = local.split("+", 1)[0]
    if domain in DOTLESS_DOMAINS:
        local = local.replace(".", "")
        domain = "gmail.com"
    return f"{local}@{domain}"


def normalise_email(email: str | None) -> str | None:
    """Emails compare case-insensitively: stored stripped and lower-cased."""
    email = (email or "").strip().lower()
    return email or None


def normalise_external_id(external_id: str | None) -> str | None:
    """The merchant's customer id, compared exactly as the merchant writes it
    (case included): only the surrounding spaces go; empty is None."""
    external_id = (external_id or "").strip()
    return external_id or None


_PHONE_NOISE = re.compile(r"[\s\-().]")


def normalise_phone(phone: str | None) -> str | None:
    """Malaysian numbers in E.164: '012-345 6789', '60123456789' and
    '+60 12-345 6789' are all '+60123456789'. Other countries need their '+'.
    Returns None for an empty value; raises ValueError for something that is
    not a phone number."""
    phone = _PHONE_NOISE.sub("", phone or "")
    if not phone:
        return None
    if phone.startswith("00"):
        phone = "+" + phone[2:]
    if phone.startswith("+"):
        digits = phone[1:]
    elif phone.startswith("60"):
        digits = phone
    elif phone.startswith("0"):
        digits = "60" + phone[1:]
    else:
        digits = "60" + phone
    if not digits.isdigit() or not 8 <= len(digits) <= 15:
        raise ValueError(phone)
    return "+" + digits
