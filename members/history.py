"""History lines in the reader's language.

A points entry keeps its line twice: `description`, the text as it read in the
member's language when it was written (what older entries and the admin have),
and `message`, the line's source — a key of `MESSAGES` and its arguments —
from which each reader gets it in their own language: staff reading in English
see "Paid at Setia Bangsar, receipt R-1" on an entry the member reads as
"Dibayar di Setia Bangsar, resit R-1".

`Text("sale.paid", store=..., reference=...)` is a line: lazy like
`gettext_lazy` (it renders in the active language when made a string), and
`Text.as_json()` is what `PointsEntry.message` stores. Arguments are plain
strings and numbers (names typed by a merchant are not translated) or other
`Text`s. `entry_text(entry)` renders a stored entry, falling back to its
`description` when it has no message or the message no longer renders (a key
since removed). Keys are never reused for a different meaning; a line whose
English changes keeps its key.
"""

from __future__ import annotations

from decimal import Decimal
from typing import Any

from django.core.signals import setting_changed
from django.utils.functional import Promise
from django.utils.translation import get_language, ngettext_lazy
from django.utils.translation import gettext_lazy as _

MESSAGES: dict[str, Promise] = {
    # A sale's points paid at the till, and each of its earnings.
    "sale.paid": _("Paid at %(store)s, receipt %(reference)s"),
    "sale.award": _("%(award)s at %(store)s, receipt %(reference)s"),
    "earn.purchase": _("Purchase"),
    "earn.tier": _("%(tier)s tier ×%(multiplier)s"),
    "return": _("Return %(reference)s of receipt %(purchase)s"),
    "clawback": _("Points owed from an earlier return"),
    # A campaign paid on a day of the member's (birthday, anniversary).
    "moment": _("%(award)s (%(moment)s)"),
    "moment.birthday": _("birthday %(year)s"),
    "moment.anniversary": ngettext_lazy(
        "%(years)s year a member", "%(years)s years a member", "years"
    ),
    "referral.friend": _("%(campaign)s: welcome bonus for joining through %(name)s"),
    "referral.referrer": _("%(campaign)s: %(name)s joined with your code"),
    "referral.reversed": _("%(campaign)s: referral bonus taken back, purchase returned"),
    "referral.a_friend": _("a friend"),
    "referral.your_friend": _("your friend"),
    # Challenges (campaigns.challenges): completion, a streak's milestone, and the
    # completion's points taken back when the sale that completed it came back whole.
    "challenge.completed": _("Challenge completed: %(challenge)s"),
    "challenge.milestone": ngettext_lazy(
        "%(challenge)s: a streak of %(weeks)s week",
        "%(challenge)s: a streak of %(weeks)s weeks",
        "weeks",
    ),
    "challenge.reversed": _("%(challenge)s: challenge points taken back, purchase returned"),
    # Goodwill points a member of staff gave after the member's poor survey answer.
    "service_recovery": _("Service recovery: goodwill points"),
    # What was left of the points when the member's data was erased (members.privacy).
    "privacy.erased": _("Points forfeited: the member's data was erased"),
}


# Each message's text in each language, looked up once: a line is rendered for
# every entry written (the import and the nightly jobs write hundreds of
# thousands), and gettext through the lazy string was most of its cost. Not
# the plural ones, whose text depends on the arguments (ngettext_lazy).
_SINGULAR = type(_(""))
_TEXTS: dict[tuple[str | None, str], str] = {}


def _text(key: str) -> str | Promise:
    message = MESSAGES[key]
    if type(message) is not _SINGULAR:
        return message
    language = get_language()
    text = _TEXTS.get((language, key))
    if text is None:
        text = _TEXTS[(language, key)] = str(message)
    return text


def _texts_forget(*, setting: str, **kwargs: Any) -> None:
    # As Django's own catalogues are (django.test.signals): other files, other texts.
    if setting in {"LANGUAGES", "LANGUAGE_CODE", "LOCALE_PATHS", "INSTALLED_APPS"}:
        _TEXTS.clear()


setting_changed.connect(_texts_forget)


class Text(Promise):
    """One history line: its message key and arguments, rendered in the active
    language by `str()`."""

    __slots__ = ("args", "key")

    def __init__(self, key: str, **args: Any) -> None:
        if key not in MESSAGES:
            raise KeyError(f"no history message {key!r}")
        for name, value in args.items():
            if isinstance(value, Decimal):
                args[name] = str(value.normalize())
            elif isinstance(value, Promise) and not isinstance(value, Text):
                # A lazy string has no key to store: it would freeze in one language.
                raise TypeError(f"{name}: give a Text, not a lazy string")
            elif not isinstance(value, str | int | Text) or isinstance(value, bool):
                raise TypeError(f"{name}: {type(value).__name__} is not a history argument")
        self.key = key
        self.args = args

    def __str__(self) -> str:
        args = {
            name: str(value) if isinstance(value, Text) else value
            for name, value in self.args.items()
        }
        return str(_text(self.key) % args)

    def __format__(self, spec: str) -> str:
        return format(str(self), spec)

    def __eq__(self, other: object) -> bool:
        return isinstance(other, Text) and (self.key, self.args) == (other.key, other.args)

    def __hash__(self) -> int:
        return hash((self.key, tuple(sorted(self.args))))

    def __repr__(self) -> str:
        return f"Text({self.key!r}, {self.args!r})"

    def as_json(self) -> dict[str, Any]:
        return {
            "key": self.key,
            "args": {
                name: value.as_json() if isinstance(value, Text) else value
                for name, value in self.args.items()
            },
        }

    @classmethod
    def from_json(cls, data: dict[str, Any]) -> Text:
        """The line stored as `data`. Raises KeyError, TypeError or ValueError
        when it is not one (`entry_text` falls back then)."""
        args = {
            name: cls.from_json(value) if isinstance(value, dict) else value
            for name, value in data["args"].items()
        }
        return cls(data["key"], **args)


def described(description: str | Text) -> tuple[str, dict[str, Any] | None]:
    """What an entry stores for `description`: the text in the active
    language (cut to the column) and the message, if it has one."""
    if isinstance(description, Text):
        return str(description)[:255], description.as_json()
    return str(description)[:255], None


def entry_text(entry: Any) -> str:
    """An entry's line in the active language: from its message when it has
    one that renders, else the text it was written with."""
    message = getattr(entry, "message", None)
    if message:
        try:
            return str(Text.from_json(message))
        except (KeyError, TypeError, ValueError, AttributeError):
            pass
    return entry.description
