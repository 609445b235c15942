"""`GET /analytics/summary` (API.md "Analytics"): the KPIs of a period and a
store in one answer, read from the roll-ups (analytics.kpis), cached until
the roll-ups next change (each `rollups` run) or SUMMARY_CACHE_SECONDS."""

from __future__ import annotations

from datetime import date
from decimal import Decimal
from typing import Any

from django.core.cache import cache

from analytics.feedback import feedback_summary
from analytics.kpis import (
    Period,
    Scope,
    buyers_kpi,
    clv_kpi,
    members_kpi,
    points_kpi,
    retention_kpi,
    sales_kpi,
)
from analytics.models import RollupState
from loyalty.models import Store

SUMMARY_CACHE_SECONDS = 300


def _text(value: Decimal | None) -> str | None:
    return None if value is None else str(value)


def analytics_summary(*, period: Period, store: Store | None = None) -> dict[str, Any]:
    """The summary of `period` at `store` (None: every store): money and rates
    as decimal strings, null where a figure has nothing to be worked out from."""
    scope = Scope(store=store)
    members = members_kpi(period=period, scope=scope)
    sales = sales_kpi(period=period, scope=scope)
    buyers = buyers_kpi(period=period, scope=scope)
    retention = retention_kpi(period=period, scope=scope)
    points = points_kpi(period=period, scope=scope)
    clv = clv_kpi(period=period, scope=scope)
    feedback = feedback_summary(start=period.start, end=period.end, store=store)
    return {
        "period": {"from": period.start.isoformat(), "to": period.end.isoformat()},
        "store": store.code if store is not None else None,
        "members": {"total": members.total, "new": members.new, "active": members.active},
        "sales": {
            "count": sales.sales,
            "amount": str(sales.amount),
            "member_share": _text(sales.participation_rate),
        },
        "repeat_purchase_rate": _text(buyers.repeat_purchase_rate),
        "purchase_frequency": _text(buyers.purchase_frequency),
        "retention_rate": _text(retention.retention_rate),
        "churn_rate": _text(retention.churn_rate),
        "average_order_value": {
            "members": _text(sales.average_order_value_members),
            "non_members": _text(sales.average_order_value_non_members),
        },
        "clv_historical": _text(clv.value),
        "points": {
            "issued": points.issued,
            "redeemed": points.redeemed,
            "expired": points.expired,
            "outstanding": points.outstanding,
        },
        "redemption_rate": _text(points.redemption_rate),
        "breakage_rate": _text(points.breakage_rate),
        "expected_breakage": _text(points.expected_breakage),
        "liability": str(points.liability),
        "nps": feedback["nps"],
        "csat": feedback["csat"],
    }


def analytics_summary_cached(*, start: date, end: date, store: Store | None) -> dict[str, Any]:
    """`analytics_summary`, kept in the cache under the roll-ups' last run, so
    a run of the `rollups` job makes the next answer fresh."""
    ran_at = RollupState.objects.filter(pk=1).values_list("ran_at", flat=True).first()
    stamp = ran_at.timestamp() if ran_at is not None else 0
    key = f"analytics-summary:{start}:{end}:{store.pk if store else '-'}:{stamp}"
    summary = cache.get(key)
    if summary is None:
        summary = analytics_summary(period=Period(start, end), store=store)
        cache.set(key, summary, SUMMARY_CACHE_SECONDS)
    return summary
