"""Amounts as people read them: `{{ amount|money }}` → "RM9,860.00" in the
active language (loyalty.money.money_format)."""

from __future__ import annotations

from decimal import Decimal

from django import template

from loyalty.money import money_format

register = template.Library()


@register.filter
def money(amount: Decimal | int | str | None) -> str:
    return money_format(amount)
