"""Predictions: members' churn risk and 12-month value from BG/NBD and
Gamma-Gamma fitted on the program's own history, the at-risk list, and the
expected breakage of points (docs/analytics.md, "Predictions").

What this module guarantees:

- A member's history is their `MemberActivity` before the time asked for,
  by day in the program's time zone: a day with a sale is one purchase
  (several sales in a day are one), worth its spend net of the returns of
  that day's sales (returns are dated at their sale). Deleted members are
  left out of the fits and of the predictions.
- `prediction_fit` reads and fits and writes nothing (`manage.py clv_fit`).
  `predictions_refresh` (the nightly job `predictions`) stores the fit of a
  time once (`PredictionFit`, keyed by that time) and every member's latest
  prediction (`MemberPrediction`, one row a member); running it again for the
  same time writes the same values, so nothing changes. A run for a time
  earlier than the latest fit stores its fit only.
- The at-risk list is a segment's rules (`at_risk_rules`), so "make a
  segment" gives a segment of exactly the members the page lists, and the
  segment follows the predictions as they are refreshed.
- `points_expected_breakage` estimates, from the ledger alone, the share of
  outstanding points that will never be redeemed.
"""

from __future__ import annotations

import time
from dataclasses import dataclass
from datetime import UTC, date, datetime, timedelta
from decimal import ROUND_HALF_UP, Decimal
from typing import Any

import numpy as np
from django.db import connection, transaction
from django.db.models import Q, QuerySet, Sum
from django.utils import timezone
from django.utils.translation import gettext as _

from analytics import clv
from analytics.models import MemberPrediction, PredictionFit, PredictionPeriod
from loyalty import limits
from loyalty.actors import Actor
from loyalty.money import CENT
from members.models import EntryKind, Member, MemberActivity, MemberStatus, PointsEntry, Segment
from members.segments import segment_create, segment_rules_clean, segment_rules_queryset

PURCHASE = "purchase"  # MemberActivity.source_type of a sale
PERIOD_DAYS = {PredictionPeriod.DAY: 1.0, PredictionPeriod.WEEK: 7.0}
HORIZON_DAYS = 365  # "predicted 12-month value"
WRITE_BATCH = 5000
MONEY_MAX = float(limits.MONEY_MAX)
PREDICTION_FIELDS = (
    "fit",
    "churn_risk",
    "expected_purchases",
    "expected_spend",
    "predicted_value",
    "purchases",
    "last_purchase_on",
)


@dataclass(frozen=True)
class PurchaseSummary:
    """Each member's (x, t_x, T) in days, and their spend, as numpy arrays in
    the order of `member_ids`."""

    member_ids: np.ndarray
    x: np.ndarray
    t_x: np.ndarray
    T: np.ndarray
    repeat_value: np.ndarray  # mean net spend of the repeat purchase days; 0 when x = 0
    first_value: np.ndarray  # net spend of the first purchase day
    last_day: np.ndarray  # days since 1970-01-01


@dataclass(frozen=True)
class Fit:
    as_of: datetime
    period: str
    bgnbd: clv.BgNbd
    gamma_gamma: clv.GammaGamma | None
    seconds: float


@dataclass(frozen=True)
class Breakage:
    """Points that left balances by redemption and by expiry up to a time,
    and the expected breakage: the share expired, None without any history."""

    redeemed: int
    expired: int
    rate: Decimal | None


def _local_day(moment: datetime) -> date:
    return timezone.localtime(moment).date()


# The history is read as plain rows (member, time, spend, a sale or not) and
# grouped by member and day with numpy: a plain scan is what PostgreSQL does
# fastest, and grouping by local day in SQL cost it more than the rest of the
# fit (benchmarks/clv_fit.py). On PostgreSQL the rows come by binary COPY into
# one numpy array; other databases (SQLite in development and tests) go
# through the ORM. A PostgreSQL test checks that both give the same summary.
_POSTGRES_ROWS = (
    "COPY (SELECT a.member_id, extract(epoch FROM a.occurred_at)::float8, a.spend::float8, "
    "(a.source_type = 'purchase')::int4 FROM members_memberactivity a "
    "WHERE a.occurred_at < {as_of} AND a.member_id NOT IN "
    "(SELECT id FROM members_member WHERE status = 'deleted')) TO STDOUT (FORMAT BINARY)"
)
# A row of that COPY: field count, then each field's length and value.
_POSTGRES_ROW = np.dtype(
    [
        ("fields", ">i2"),
        ("member_length", ">i4"),
        ("member", ">i8"),
        ("epoch_length", ">i4"),
        ("epoch", ">f8"),
        ("spend_length", ">i4"),
        ("spend", ">f8"),
        ("sale_length", ">i4"),
        ("sale", ">i4"),
    ]
)
_COPY_HEADER = 19  # signature, flags, extension length
_COPY_TRAILER = 2
EPOCH = date(1970, 1, 1)
DAY_SECONDS = 86_400


def _epoch_day(day: date) -> int:
    return (day - EPOCH).days


def _rows_postgres(as_of: datetime) -> tuple[np.ndarray, ...]:
    from psycopg import sql

    statement = sql.SQL(_POSTGRES_ROWS).format(as_of=sql.Literal(as_of))
    chunks = []
    with connection.cursor() as cursor, cursor.cursor.copy(statement) as copy:
        chunks.extend(bytes(chunk) for chunk in copy)
    body = b"".join(chunks)[_COPY_HEADER:-_COPY_TRAILER]
    rows = np.frombuffer(body, dtype=_POSTGRES_ROW)
    return (
        rows["member"].astype(np.int64),
        rows["epoch"].astype(float),
        rows["spend"].astype(float),
        rows["sale"].astype(bool),
    )


def _rows_orm(as_of: datetime) -> tuple[np.ndarray, ...]:
    rows = (
        MemberActivity.objects.filter(occurred_at__lt=as_of)
        .exclude(member__status=MemberStatus.DELETED)
        .values_list("member_id", "occurred_at", "spend", "source_type")
        .order_by()
    )
    members, seconds, spends, sales = [], [], [], []
    for member_id, occurred_at, spend, source_type in rows.iterator(chunk_size=20_000):
        members.append(member_id)
        seconds.append(occurred_at.timestamp())
        spends.append(float(spend))
        sales.append(source_type == PURCHASE)
    return (
        np.asarray(members, dtype=np.int64),
        np.asarray(seconds, dtype=float),
        np.asarray(spends, dtype=float),
        np.asarray(sales, dtype=bool),
    )


def local_days(seconds: np.ndarray) -> np.ndarray:
    """The day number (since 1970-01-01) in the program's time zone of each
    time in seconds since the epoch: the zone's offset is looked up once per
    distinct hour (offsets change on the hour)."""
    if seconds.size == 0:
        return np.zeros(0, dtype=np.int64)
    zone = timezone.get_current_timezone()
    hours, where = np.unique(np.floor(seconds / 3600), return_inverse=True)
    offsets = np.array(
        [
            zone.utcoffset(datetime.fromtimestamp(hour * 3600, UTC)).total_seconds()
            for hour in hours.tolist()
        ]
    )
    return np.floor((seconds + offsets[where.ravel()]) / DAY_SECONDS).astype(np.int64)


def purchase_summary_read(*, as_of: datetime) -> PurchaseSummary:
    """The summary of every member who is not deleted and bought before `as_of`."""
    read = _rows_postgres if connection.vendor == "postgresql" else _rows_orm
    members, seconds, spend, sale = read(as_of)
    days = local_days(seconds)
    order = np.lexsort((days, members))
    members, days, spend, sale = members[order], days[order], spend[order], sale[order]
    if members.size:
        starts = np.flatnonzero(
            np.r_[True, (members[1:] != members[:-1]) | (days[1:] != days[:-1])]
        )
        with_sale = np.maximum.reduceat(sale.astype(np.int8), starts) > 0
        members, days = members[starts][with_sale], days[starts][with_sale]
        spend = np.add.reduceat(spend, starts)[with_sale]
    return summary_from_days(
        member_ids=members, days=days, spend=spend, as_of_day=_epoch_day(_local_day(as_of))
    )


def summary_from_days(
    *, member_ids: np.ndarray, days: np.ndarray, spend: np.ndarray, as_of_day: int
) -> PurchaseSummary:
    """Summaries from purchase days (day numbers) sorted by member then day,
    one row a member and day. T counts whole days from the first purchase
    day to `as_of_day`."""
    n = member_ids.size
    if n == 0:
        empty = np.zeros(0)
        ids = member_ids.astype(np.int64)
        return PurchaseSummary(ids, empty, empty, empty, empty, empty, empty)
    starts = np.flatnonzero(np.r_[True, member_ids[1:] != member_ids[:-1]])
    counts = np.diff(np.r_[starts, n])
    ends = starts + counts - 1
    first_day = days[starts]
    x = (counts - 1).astype(float)
    repeat_total = np.add.reduceat(spend, starts) - spend[starts]
    repeat_value = np.divide(repeat_total, x, out=np.zeros_like(x), where=x > 0)
    t_x = (days[ends] - first_day).astype(float)
    return PurchaseSummary(
        member_ids=member_ids[starts],
        x=x,
        t_x=t_x,
        T=np.maximum(as_of_day - first_day, t_x),
        repeat_value=repeat_value,
        first_value=spend[starts],
        last_day=days[ends],
    )


def prediction_fit_summary(
    *, summary: PurchaseSummary, period: str = PredictionPeriod.DAY
) -> tuple[clv.BgNbd, clv.GammaGamma | None]:
    """Both fits on `summary` with times in `period`s. Gamma-Gamma is None when
    too few members bought again for it. Raises clv.FitFailed when BG/NBD cannot be fitted."""
    scale = PERIOD_DAYS[PredictionPeriod(period)]
    bgnbd = clv.bgnbd_fit(summary.x, summary.t_x / scale, summary.T / scale)
    try:
        spend = clv.gamma_gamma_fit(summary.x, summary.repeat_value)
    except clv.FitFailed:
        spend = None
    if spend is not None and spend.q <= 1:
        spend = None  # its mean is infinite: no use for a value
    return bgnbd, spend


def prediction_fit(*, as_of: datetime, period: str = PredictionPeriod.DAY) -> Fit:
    """Fit both models on the purchases before `as_of`; writes nothing.
    Raises clv.FitFailed when the history is too thin."""
    started = time.perf_counter()
    summary = purchase_summary_read(as_of=as_of)
    bgnbd, spend = prediction_fit_summary(summary=summary, period=period)
    return Fit(as_of, str(period), bgnbd, spend, time.perf_counter() - started)


def _money(values: np.ndarray) -> list[Decimal]:
    """Amounts in cents, within the columns' bounds (a value the model cannot
    give, from an extreme history, counts as 0)."""
    bounded = np.clip(np.nan_to_num(values, nan=0.0, posinf=0.0, neginf=0.0), 0.0, MONEY_MAX)
    return [Decimal(repr(value)).quantize(CENT, ROUND_HALF_UP) for value in bounded.tolist()]


def member_predictions_compute(
    *,
    summary: PurchaseSummary,
    bgnbd: clv.BgNbd,
    spend: clv.GammaGamma | None,
    period: str = PredictionPeriod.DAY,
) -> dict[str, np.ndarray]:
    """Churn risk, purchases expected in the next 365 days, spend expected per
    purchase (Gamma-Gamma; without a fit, the mean net spend of all purchase
    days) and their product, the predicted 12-month value, for each member."""
    scale = PERIOD_DAYS[PredictionPeriod(period)]
    t_x, T = summary.t_x / scale, summary.T / scale
    alive = clv.bgnbd_p_alive(bgnbd, summary.x, t_x, T)
    purchases = clv.bgnbd_expected_purchases(bgnbd, HORIZON_DAYS / scale, summary.x, t_x, T)
    if spend is not None:
        value = clv.gamma_gamma_expected_spend(spend, summary.x, summary.repeat_value)
    else:
        days = summary.x + 1
        total = summary.first_value + summary.repeat_value * summary.x
        value = np.full(days.size, max(float(total.sum() / days.sum()), 0.0))
    return {
        "churn_risk": np.clip(np.nan_to_num(1.0 - alive, nan=0.0), 0.0, 1.0),
        "expected_purchases": np.nan_to_num(purchases, nan=0.0, posinf=0.0),
        "expected_spend": value,
        "predicted_value": purchases * value,
    }


@transaction.atomic
def predictions_refresh(*, as_of: datetime, period: str = PredictionPeriod.DAY) -> str:
    """Fit on the purchases before `as_of`, store the fit (once per `as_of`)
    and, unless a later fit exists, every member's prediction; predictions of
    members no longer in the history (deleted) are removed. Returns a one-line
    summary; "too little history" when BG/NBD cannot be fitted (nothing stored)."""
    summary = purchase_summary_read(as_of=as_of)
    try:
        bgnbd, spend = prediction_fit_summary(summary=summary, period=period)
    except clv.FitFailed:
        return "too little history to fit the predictions"
    fit, _created = PredictionFit.objects.update_or_create(
        fitted_at=as_of,
        defaults={
            "period": period,
            "customers": bgnbd.customers,
            "r": bgnbd.r,
            "alpha": bgnbd.alpha,
            "a": bgnbd.a,
            "b": bgnbd.b,
            "log_likelihood": bgnbd.log_likelihood,
            "spenders": spend.customers if spend else 0,
            "p": spend.p if spend else None,
            "q": spend.q if spend else None,
            "v": spend.v if spend else None,
            "spend_log_likelihood": spend.log_likelihood if spend else None,
        },
    )
    if PredictionFit.objects.filter(fitted_at__gt=as_of).exists():
        return f"fit of {bgnbd.customers} members stored; later predictions kept"
    figures = member_predictions_compute(summary=summary, bgnbd=bgnbd, spend=spend, period=period)
    for start in range(0, summary.member_ids.size, WRITE_BATCH):
        part = slice(start, start + WRITE_BATCH)
        rows = zip(
            summary.member_ids[part].tolist(),
            figures["churn_risk"][part].tolist(),
            figures["expected_purchases"][part].tolist(),
            _money(figures["expected_spend"][part]),
            _money(figures["predicted_value"][part]),
            (summary.x[part] + 1).astype(int).tolist(),
            summary.last_day[part].tolist(),
            strict=True,
        )
        MemberPrediction.objects.bulk_create(
            [
                MemberPrediction(
                    member_id=member_id,
                    fit=fit,
                    churn_risk=risk,
                    expected_purchases=expected,
                    expected_spend=value,
                    predicted_value=predicted,
                    purchases=days,
                    last_purchase_on=EPOCH + timedelta(days=last),
                )
                for member_id, risk, expected, value, predicted, days, last in rows
            ],
            update_conflicts=True,
            unique_fields=["member"],
            update_fields=list(PREDICTION_FIELDS),
        )
    removed, _detail = MemberPrediction.objects.exclude(fit=fit).delete()
    return f"{summary.member_ids.size} members predicted, {removed} old predictions removed"


def prediction_latest_fit() -> PredictionFit | None:
    return PredictionFit.objects.order_by("-fitted_at").first()


# --- The at-risk list -------------------------------------------------------------------------


def at_risk_rules(
    *,
    risk_percent: int,
    value_min: Decimal,
    tier: str | None = None,
    home_store: str | None = None,
) -> dict[str, Any]:
    """The segment rules of the at-risk list: churn risk at least
    `risk_percent`, and predicted 12-month value or spend to date at least
    `value_min`; optionally of one tier and home store (codes). Raises
    ValidationFailed for a value out of its bounds or an unknown code."""
    value = str(value_min.quantize(CENT))
    rules: list[dict[str, Any]] = [
        {"field": "churn_risk", "op": "gte", "value": risk_percent},
        {
            "any": [
                {"field": "predicted_value", "op": "gte", "value": value},
                {"field": "spend", "op": "gte", "value": value},
            ]
        },
    ]
    if tier:
        rules.append({"field": "tier", "op": "eq", "value": tier})
    if home_store:
        rules.append({"field": "home_store", "op": "eq", "value": home_store})
    return segment_rules_clean({"all": rules})


def members_at_risk(*, rules: dict[str, Any]) -> QuerySet[Member]:
    """The active members matching the at-risk `rules` (from `at_risk_rules`),
    with their prediction and account, the most valuable at risk first."""
    return (
        segment_rules_queryset(rules=rules)
        .select_related("prediction", "account", "tier", "home_store")
        .order_by("-prediction__predicted_value", "-account__lifetime_spend", "id")
    )


def at_risk_segment_create(
    *, actor: Actor, name: str, rules: dict[str, Any], now: datetime | None = None
) -> Segment:
    """Save the at-risk list as a segment (audited as every segment is).
    Raises ValidationFailed for a name taken or invalid."""
    description = _("Members at risk of churning, from the predictions of %(day)s.") % {
        "day": _local_day(now or timezone.now()).isoformat()
    }
    return segment_create(actor=actor, name=name, rules=rules, description=description, now=now)


# --- Privacy ----------------------------------------------------------------------------------


def member_prediction_export(*, member: Member) -> dict[str, Any] | None:
    """The member's stored prediction for their privacy export (None without one)."""
    prediction = MemberPrediction.objects.filter(member=member).select_related("fit").first()
    if prediction is None:
        return None
    return {
        "predicted_at": prediction.fit.fitted_at.isoformat(),
        "churn_risk": round(prediction.churn_risk, 4),
        "expected_purchases_12_months": round(prediction.expected_purchases, 4),
        "expected_spend_per_purchase": str(prediction.expected_spend),
        "predicted_value_12_months": str(prediction.predicted_value),
        "purchase_days": prediction.purchases,
        "last_purchase_on": prediction.last_purchase_on.isoformat(),
    }


def member_prediction_forget(member: Member) -> int:
    """Remove the member's prediction (registered as a member deletion hook);
    returns how many rows went."""
    deleted, _detail = MemberPrediction.objects.filter(member=member).delete()
    return deleted


# --- Expected breakage ------------------------------------------------------------------------


def points_expected_breakage(*, as_of: datetime) -> Breakage:
    """The share of outstanding points expected never to be redeemed, from the
    program's own history before `as_of`: of the points that have left
    members' balances for good, the share that left by expiry,

        expired / (redeemed - refunded + expired),

    assuming today's points end as past points did. Reversals, clawbacks and
    adjustments are corrections, not outcomes, and are left out. `rate` is None
    when no point was ever redeemed or expired (nothing to estimate from)."""
    totals = PointsEntry.objects.filter(created_at__lt=as_of).aggregate(
        redeemed=Sum("points", filter=Q(kind=EntryKind.REDEEM)),
        refunded=Sum("points", filter=Q(kind=EntryKind.REFUND)),
        expired=Sum("points", filter=Q(kind=EntryKind.EXPIRE)),
    )
    return breakage_estimate(
        redeemed=-(totals["redeemed"] or 0) - (totals["refunded"] or 0),
        expired=-(totals["expired"] or 0),
    )


def breakage_estimate(*, redeemed: int, expired: int) -> Breakage:
    """The expected breakage of `points_expected_breakage` from the points
    redeemed (net of refunds) and expired; the roll-ups' liability
    (analytics.kpis) gives it the same totals from `LedgerDay`."""
    redeemed = max(redeemed, 0)
    if redeemed + expired <= 0:
        return Breakage(redeemed=redeemed, expired=expired, rate=None)
    rate = (Decimal(expired) / Decimal(redeemed + expired)).quantize(Decimal("0.0001"))
    return Breakage(redeemed=redeemed, expired=expired, rate=rate)
