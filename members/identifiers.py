"""Member identifiers: card numbers with a check digit, normalised contacts."""

from __future__ import annotations

import re
import secrets

import phonenumbers
from babel import Locale, UnknownLocaleError
from django.conf import settings
from django.utils import translation
from django.utils.translation import gettext as _

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


# What a person may type around the digits of a phone number. Letters are
# refused: phonenumbers would read "CRM-77" as a vanity number.
_PHONE_TEXT = re.compile(r"[\d\s\-().+/]*")
# Longer than any phone number with its spaces: refused unparsed.
PHONE_INPUT_MAX_LENGTH = 40


class PhoneInvalid(ValueError):
    """A text that is not a phone number we can store; `reason` says why, for
    the person who typed it ("it is too short")."""

    def __init__(self, phone: str, reason: str) -> None:
        super().__init__(phone)
        self.phone = phone
        self.reason = reason

    @property
    def message(self) -> str:
        """The sentence a form or the API shows on the phone field."""
        return _("Enter a valid phone number: %(reason)s.") % {"reason": self.reason}


def region_name(region: str) -> str:
    """The region's name in the active language ('Malaysia'), else its code."""
    try:
        language = translation.get_language() or settings.LANGUAGE_CODE
        territories = Locale.parse(translation.to_locale(language)).territories
    except (ValueError, UnknownLocaleError):
        return region
    return territories.get(region, region)


def normalise_phone(phone: str | None, *, region: str | None = None) -> str | None:
    """A phone number in E.164, parsed and validated by phonenumbers
    (Google's libphonenumber). International forms ('+65 9123 4567',
    '0065 9123 4567') keep their country; a local form is read in `region`,
    the program's (`LOYALTY_REGION`, default MY): '012-345 6789' and
    '60123456789' are '+60123456789' in Malaysia.

    Returns None for an empty value. Raises PhoneInvalid (a ValueError) for a
    text with letters (so also an extension: a text message cannot reach
    one), a country code no country has, too few or too many digits, or
    digits no number in use in its country has (phonenumbers' metadata)."""
    text = (phone or "").strip()
    if not text:
        return None
    region = region or settings.LOYALTY_REGION
    if len(text) > PHONE_INPUT_MAX_LENGTH or not _PHONE_TEXT.fullmatch(text):
        raise PhoneInvalid(text, _("use digits, spaces, dashes and a leading + only"))
    try:
        number = phonenumbers.parse(text, region)
    except phonenumbers.NumberParseException as exc:
        raise PhoneInvalid(text, _parse_reason(exc.error_type)) from exc
    possible = phonenumbers.is_possible_number_with_reason(number)
    if possible not in (
        phonenumbers.ValidationResult.IS_POSSIBLE,
        phonenumbers.ValidationResult.IS_POSSIBLE_LOCAL_ONLY,
    ):
        raise PhoneInvalid(text, _possible_reason(possible))
    if not phonenumbers.is_valid_number(number):
        if text.startswith("+") or text.startswith("00"):
            reason = _("no number in use in its country has these digits")
        else:
            reason = _(
                "no number in use in %(region)s has these digits; for another country, "
                "start with + and its country code"
            ) % {"region": region_name(region)}
        raise PhoneInvalid(text, reason)
    return phonenumbers.format_number(number, phonenumbers.PhoneNumberFormat.E164)


def _parse_reason(error_type: int) -> str:
    reasons = {
        phonenumbers.NumberParseException.INVALID_COUNTRY_CODE: _(
            "no country has this country code"
        ),
        phonenumbers.NumberParseException.TOO_SHORT_AFTER_IDD: _("it is too short"),
        phonenumbers.NumberParseException.TOO_SHORT_NSN: _("it is too short"),
        phonenumbers.NumberParseException.TOO_LONG: _("it is too long"),
    }
    return reasons.get(error_type, _("it is not a phone number"))


def _possible_reason(result: int) -> str:
    reasons = {
        phonenumbers.ValidationResult.INVALID_COUNTRY_CODE: _("no country has this country code"),
        phonenumbers.ValidationResult.TOO_SHORT: _("it is too short"),
        phonenumbers.ValidationResult.TOO_LONG: _("it is too long"),
    }
    return reasons.get(result, _("it has the wrong number of digits"))
