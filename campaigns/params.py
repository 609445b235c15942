"""A campaign's `params` by kind (API.md's table): checked strictly when a
campaign is written, so a stored campaign never breaks a later sale, and read
into the engine's dataclasses (`params_parse`).

`params_clean(kind, data)` returns the params in their stored form (money as
strings with 2 places, days sorted, SKUs stripped, categories and event names
as given but matched without case) or raises ValidationFailed with the
problems by field (`params.factor`, ...). Unknown keys are refused: a typo
must not silently turn a filter off.
"""

from __future__ import annotations

import re
from datetime import time
from decimal import Decimal
from typing import Any

from django.utils.translation import gettext as _

from campaigns.engine import (
    BirthdayParams,
    CategoryBonusParams,
    EventParams,
    Hours,
    LineFilter,
    MultiplierParams,
    Params,
    PointsParams,
    ReferralParams,
    SpendBonusParams,
)
from loyalty import limits
from loyalty.errors import ValidationFailed
from loyalty.money import CENT

FACTOR_MIN = Decimal("1.01")
FACTOR_MAX = Decimal("10.00")
# One campaign's bonus points per event, per amount, per enrolment...
BONUS_POINTS_MAX = 1_000_000
LIST_MAX = 200  # SKUs or categories in one filter
CODE_MAX_LENGTH = 64  # one SKU or category, as the sale's line fields
EVENT_NAME = re.compile(r"^[a-z0-9][a-z0-9_.-]{0,63}$")
AMOUNT = re.compile(r"^\d{1,12}(\.\d{1,2})?$")
HOUR = re.compile(r"^([01]\d|2[0-3]):([0-5]\d)$")
MONTHLY_CAP_MAX = 1_000

# key: (required, kind of value)
SHAPES: dict[str, dict[str, tuple[bool, str]]] = {
    "multiplier": {
        "factor": (True, "factor"),
        "days_of_week": (False, "days"),
        "hours": (False, "hours"),
        "min_spend": (False, "money"),
        "skus": (False, "codes"),
        "categories": (False, "codes"),
    },
    "category_bonus": {
        "skus": (False, "codes"),
        "categories": (False, "codes"),
        "points": (True, "points"),
        "per_amount": (True, "positive_money"),
    },
    "spend_bonus": {
        "min_spend": (True, "money"),
        "points": (True, "points"),
        "first_purchase_only": (False, "bool"),
    },
    "event": {"event": (True, "event"), "points": (True, "points")},
    "signup": {"points": (True, "points")},
    "birthday": {"points": (True, "points"), "when": (True, "when")},
    "anniversary": {"points": (True, "points")},
    "referral": {
        "referrer_points": (True, "points"),
        "friend_points": (True, "points"),
        "min_spend": (True, "money"),
        "within_days": (True, "days_count"),
        "monthly_cap": (False, "monthly_cap"),
    },
}


class _Bad(Exception):
    pass


def _money(value: Any, *, positive: bool = False) -> str:
    if isinstance(value, bool) or not isinstance(value, str | int):
        raise _Bad(_('Give an amount as a string, e.g. "100.00".'))
    if not AMOUNT.match(str(value).strip()):
        raise _Bad(_('Give an amount with at most 2 decimal places, e.g. "100.00".'))
    amount = Decimal(str(value).strip())
    low = CENT if positive else Decimal("0.00")
    if amount < low or amount > limits.MONEY_MAX:
        raise _Bad(
            _("Give an amount from %(low)s to %(high)s.") % {"low": low, "high": limits.MONEY_MAX}
        )
    return str(amount.quantize(CENT))


def _integer(value: Any, low: int, high: int) -> int:
    if isinstance(value, bool) or not isinstance(value, int):
        raise _Bad(_("Give a whole number."))
    if not low <= value <= high:
        raise _Bad(_("Give a whole number from %(low)s to %(high)s.") % {"low": low, "high": high})
    return value


def _factor(value: Any) -> str:
    if isinstance(value, bool) or not isinstance(value, str | int):
        raise _Bad(_('Give the factor as a string, e.g. "2.00".'))
    if not AMOUNT.match(str(value).strip()):
        raise _Bad(_('Give the factor with at most 2 decimal places, e.g. "2.00".'))
    factor = Decimal(str(value).strip())
    if not FACTOR_MIN <= factor <= FACTOR_MAX:
        raise _Bad(
            _("Give a factor from %(low)s to %(high)s.") % {"low": FACTOR_MIN, "high": FACTOR_MAX}
        )
    return str(factor.quantize(CENT))


def _days(value: Any) -> list[int]:
    if not isinstance(value, list) or not value:
        raise _Bad(_("Give the days as a list of numbers from 0 (Monday) to 6 (Sunday)."))
    days = {_integer(day, 0, 6) for day in value}
    return sorted(days)


def _hours(value: Any) -> list[str]:
    if (
        not isinstance(value, list)
        or len(value) != 2
        or not all(isinstance(v, str) and HOUR.match(v) for v in value)
    ):
        raise _Bad(_('Give the hours as two times, e.g. ["18:00", "22:00"].'))
    if value[0] == value[1]:
        raise _Bad(_("The hours must not start and end at the same time."))
    return list(value)


def _codes(value: Any) -> list[str]:
    if not isinstance(value, list):
        raise _Bad(_("Give a list."))
    if len(value) > LIST_MAX:
        raise _Bad(_("Give at most %(count)s entries.") % {"count": LIST_MAX})
    codes: list[str] = []
    for item in value:
        if not isinstance(item, str) or not item.strip():
            raise _Bad(_("Every entry must be a non-empty text."))
        text = item.strip()
        if len(text) > CODE_MAX_LENGTH or limits.text_problem(text):
            raise _Bad(
                _("Every entry must be at most %(length)s characters of text.")
                % {"length": CODE_MAX_LENGTH}
            )
        if text not in codes:
            codes.append(text)
    return codes


def _event(value: Any) -> str:
    if not isinstance(value, str) or not EVENT_NAME.match(value.strip().casefold()):
        raise _Bad(
            _(
                "Give the event's name: lowercase letters, digits, _ . or -, at most 64, "
                "e.g. review."
            )
        )
    return value.strip().casefold()


def _when(value: Any) -> str:
    if value not in ("day", "month"):
        raise _Bad(_('Give "day" or "month".'))
    return value


def _bool(value: Any) -> bool:
    if not isinstance(value, bool):
        raise _Bad(_("Give true or false."))
    return value


CLEANERS = {
    "money": _money,
    "positive_money": lambda v: _money(v, positive=True),
    "points": lambda v: _integer(v, 1, BONUS_POINTS_MAX),
    "factor": _factor,
    "days": _days,
    "hours": _hours,
    "codes": _codes,
    "event": _event,
    "when": _when,
    "bool": _bool,
    "days_count": lambda v: _integer(v, 1, limits.DAYS_MAX),
    "monthly_cap": lambda v: _integer(v, 1, MONTHLY_CAP_MAX),
}


def params_clean(kind: str, data: Any) -> dict[str, Any]:
    """The params of `kind`, checked and normalised. Raises ValidationFailed."""
    shape = SHAPES.get(kind)
    if shape is None:
        raise ValidationFailed(fields={"kind": [_("Not a kind of campaign.")]})
    if not isinstance(data, dict):
        raise ValidationFailed(fields={"params": [_("Give the rule as an object.")]})
    errors: dict[str, list[str]] = {}
    clean: dict[str, Any] = {}
    for key in data:
        if key not in shape:
            errors[f"params.{key}"] = [_("Not a setting of this kind of campaign.")]
    for key, (required, cleaner) in shape.items():
        if key not in data or data[key] is None:
            if required:
                errors[f"params.{key}"] = [_("This setting is required.")]
            continue
        try:
            clean[key] = CLEANERS[cleaner](data[key])
        except _Bad as bad:
            errors[f"params.{key}"] = [str(bad)]
    if (
        kind == "category_bonus"
        and not errors
        and not clean.get("skus")
        and not clean.get("categories")
    ):
        errors["params.categories"] = [_("Name at least one category or SKU.")]
    if errors:
        raise ValidationFailed(fields=errors)
    return clean


def _line_filter(data: dict[str, Any]) -> LineFilter:
    return LineFilter(
        skus=frozenset(data.get("skus") or ()),
        categories=frozenset(c.casefold() for c in data.get("categories") or ()),
    )


def _time(text: str) -> time:
    hour, minute = text.split(":")
    return time(int(hour), int(minute))


def params_parse(kind: str, data: dict[str, Any]) -> Params:
    """Stored params (already clean) → the engine's dataclass of the kind."""
    if kind == "multiplier":
        hours = data.get("hours")
        days = data.get("days_of_week")
        return MultiplierParams(
            factor=Decimal(data["factor"]),
            days_of_week=frozenset(days) if days else None,
            hours=Hours(_time(hours[0]), _time(hours[1])) if hours else None,
            min_spend=Decimal(data.get("min_spend") or "0.00"),
            lines=_line_filter(data),
        )
    if kind == "category_bonus":
        return CategoryBonusParams(
            points=data["points"], per_amount=Decimal(data["per_amount"]), lines=_line_filter(data)
        )
    if kind == "spend_bonus":
        return SpendBonusParams(
            min_spend=Decimal(data["min_spend"]),
            points=data["points"],
            first_purchase_only=bool(data.get("first_purchase_only", False)),
        )
    if kind == "event":
        return EventParams(event=data["event"], points=data["points"])
    if kind == "birthday":
        return BirthdayParams(points=data["points"], when=data["when"])
    if kind == "referral":
        return ReferralParams(
            referrer_points=data["referrer_points"],
            friend_points=data["friend_points"],
            min_spend=Decimal(data["min_spend"]),
            within_days=data["within_days"],
            monthly_cap=data.get("monthly_cap"),
        )
    if kind in ("signup", "anniversary"):
        return PointsParams(points=data["points"])
    raise ValueError(f"not a kind of campaign: {kind}")
