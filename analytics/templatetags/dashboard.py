"""The dashboard's figures as people read them: `{{ value|figure:kind }}`.

Kinds (analytics.dashboard.Kind): `count` and `points` with the active
language's grouping, `money` in the program currency, `day` and `month`
dates, `rate` (a fraction
0-1) as a percentage to one decimal, `score` as it is. No value is "—", never
0: a figure that cannot be worked out is not a zero, and a 0 is written 0."""

from __future__ import annotations

from decimal import ROUND_HALF_UP, Decimal
from typing import Any

from django import template
from django.utils.formats import date_format, number_format

from loyalty.money import money_format

register = template.Library()

DASH = "—"


@register.filter
def figure(value: Any, kind: str) -> str:
    if value is None or value == "":
        return DASH
    if kind == "money":
        return money_format(value)
    if kind == "rate":
        percent = (Decimal(value) * 100).quantize(Decimal("0.1"), rounding=ROUND_HALF_UP)
        return f"{number_format(percent, decimal_pos=1)} %"
    if kind in ("count", "points"):
        return number_format(value, force_grouping=True)
    if kind == "day":
        return date_format(value, "j M Y")
    if kind == "month":
        return date_format(value, "F Y")
    if kind == "decimal":
        return number_format(Decimal(value).quantize(Decimal("0.01")), decimal_pos=2)
    return str(value)
