"""The program's KPIs, read from the roll-ups (analytics.rollups), never from
raw purchases. Each figure's definition is in docs/analytics.md, under the
anchor named in its function's docstring (`#kpi-...`), which the dashboard
links to.

Every KPI function takes keyword arguments `period` (local days, both ends
included) and `scope` (store, tier, segment; all optional) and returns a
frozen dataclass for that period alone; `kpi_compare(kpi, period=, scope=)`
gives it beside the previous period of the same length. A figure that cannot
be worked out (a rate over nothing) is None, never 0; a 0 is a real 0.

What the scope filters:

- `store`: sales figures are the store's sales; figures that count buyers
  are purchases at the store; member counts and points are of the members
  whose home store it is.
- `tier` (the member's current tier) and `segment` (its members now): the
  figures about members and buyers; the sales figures (participation, order
  values) and the points (LedgerDay keeps no member) stay those of all.

Figures that count distinct buyers (frequency, repeat rate, retention,
cohorts, campaign lift) are counted over the calendar months the period
covers (`MemberMonth`), the month of `start` to the month of `end`.
"""

from __future__ import annotations

import math
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import date, datetime, timedelta
from decimal import ROUND_HALF_UP, Decimal
from typing import Any, Generic, TypeVar

from django.db import connection
from django.db.models import Count, DateField, Q, QuerySet, Sum
from django.db.models.functions import Coalesce, TruncMonth
from django.utils import timezone

from analytics.feedback import FeedbackFigure, feedback_figure, feedback_trend
from analytics.models import (
    ActiveCell,
    BuyerCell,
    CohortCell,
    CohortDay,
    LedgerDay,
    MemberMonth,
    StoreDay,
    SurveyKind,
)
from analytics.predictions import breakage_estimate
from analytics.rollups import day_bounds, month_start, next_month
from campaigns.challenge_reports import challenge_participation_counts
from campaigns.models import Campaign, CampaignHoldout, Challenge, Referral, ReferralStatus
from campaigns.selectors import campaign_figures
from loyalty.models import Store
from loyalty.money import CENT
from loyalty.selectors import program_settings_get
from members.models import Member, MemberStatus, Segment, Tier, TierChange
from members.segments import segment_members
from rewards.models import Redemption, RedemptionStatus

# The longest period a KPI is asked for (the API refuses longer).
PERIOD_DAYS_MAX = 366
# Days without a purchase after which a member no longer counts as active.
ACTIVE_DAYS = 90
# Below this many members in either group a lift has no interval.
LIFT_MIN_GROUP = 30
RATE_PLACES = Decimal("0.0001")
ZERO = Decimal("0.00")

T = TypeVar("T")


@dataclass(frozen=True)
class Period:
    """Local days `start` to `end`, both included."""

    start: date
    end: date

    def __post_init__(self) -> None:
        if self.end < self.start:
            raise ValueError("a period ends on or after its start")

    @property
    def days(self) -> int:
        return (self.end - self.start).days + 1

    def previous(self) -> Period:
        """The period of the same length that ends the day before this one."""
        end = self.start - timedelta(days=1)
        return Period(end - timedelta(days=self.days - 1), end)

    @property
    def months(self) -> list[date]:
        """The first days of the calendar months the period touches."""
        months, month = [], month_start(self.start)
        while month <= self.end:
            months.append(month)
            month = next_month(month)
        return months


@dataclass(frozen=True)
class Scope:
    """What a KPI is about: one store, one tier, one segment, or all (None)."""

    store: Store | None = None
    tier: Tier | None = None
    segment: Segment | None = None

    @property
    def filters_members(self) -> bool:
        return self.tier is not None or self.segment is not None

    def members(self) -> QuerySet[Member]:
        """The members of the tier and segment (all members without either)."""
        members = (
            segment_members(self.segment) if self.segment is not None else Member.objects.all()
        )
        if self.tier is not None:
            members = members.filter(tier=self.tier)
        return members


ALL = Scope()


@dataclass(frozen=True)
class Compared(Generic[T]):
    """A KPI for the period and for the previous period of the same length."""

    current: T
    previous: T


def kpi_compare(
    kpi: Callable[..., T], *, period: Period, scope: Scope = ALL, **kwargs: Any
) -> Compared[T]:
    """`kpi` for `period` and for `period.previous()`, with the same scope."""
    return Compared(
        current=kpi(period=period, scope=scope, **kwargs),
        previous=kpi(period=period.previous(), scope=scope, **kwargs),
    )


def rate(part: int | Decimal, whole: int | Decimal) -> Decimal | None:
    """part / whole as a fraction to 4 places (half up), None over nothing."""
    if not whole:
        return None
    return (Decimal(part) / Decimal(whole)).quantize(RATE_PLACES, rounding=ROUND_HALF_UP)


def money(amount: Decimal | int | None) -> Decimal:
    return Decimal(amount or 0).quantize(CENT, rounding=ROUND_HALF_UP)


def average(amount: Decimal, count: int) -> Decimal | None:
    return money(Decimal(amount) / count) if count else None


def _member_months(period_months: list[date], scope: Scope) -> QuerySet[MemberMonth]:
    rows = MemberMonth.objects.filter(month__gte=period_months[0], month__lte=period_months[-1])
    if scope.store is not None:
        rows = rows.filter(store=scope.store)
    if scope.filters_members:
        rows = rows.filter(member_id__in=scope.members().values("pk"))
    return rows


def _ledger_days(scope: Scope) -> QuerySet[LedgerDay]:
    rows = LedgerDay.objects.all()
    if scope.store is not None:
        rows = rows.filter(store=scope.store)
    return rows


def _store_days(period: Period, scope: Scope) -> QuerySet[StoreDay]:
    rows = StoreDay.objects.filter(day__gte=period.start, day__lte=period.end)
    if scope.store is not None:
        rows = rows.filter(store=scope.store)
    return rows


# --- Members ----------------------------------------------------------------------------------


@dataclass(frozen=True)
class MemberCounts:
    """docs/analytics.md#kpi-members."""

    total: int
    new: int
    active: int


def _joined(period: Period, scope: Scope) -> tuple[int, int]:
    """Members (not deleted) who joined by the period's end, and in it."""
    if scope.filters_members:
        members = scope.members().exclude(status=MemberStatus.DELETED)
        if scope.store is not None:
            members = members.filter(home_store=scope.store)
        _lo, hi = day_bounds(period.end, period.end)
        lo, _hi = day_bounds(period.start, period.start)
        counts = members.aggregate(
            total=Count("pk", filter=Q(joined_at__lt=hi)),
            new=Count("pk", filter=Q(joined_at__gte=lo, joined_at__lt=hi)),
        )
    else:
        counts = (
            _ledger_days(scope)
            .filter(day__lte=period.end)
            .aggregate(
                total=Coalesce(Sum("members_joined"), 0),
                new=Coalesce(Sum("members_joined", filter=Q(day__gte=period.start)), 0),
            )
        )
    return counts["total"], counts["new"]


def members_kpi(*, period: Period, scope: Scope = ALL) -> MemberCounts:
    """Members who joined by the period's end (`total`), in it (`new`), and who
    bought in the ACTIVE_DAYS days up to its end (`active`). Deleted members
    are not counted. Anchor #kpi-members."""
    total, new = _joined(period, scope)
    since = period.end - timedelta(days=ACTIVE_DAYS - 1)
    if not scope.filters_members:
        # The first day each buyer bought in [since, end] is the one whose
        # previous purchase day is before it (analytics.models.ActiveCell).
        key = scope.store.pk if scope.store is not None else 0
        active = ActiveCell.objects.filter(
            store_key=key, day__gte=since, day__lte=period.end, prev_day__lt=since
        ).aggregate(n=Coalesce(Sum("members"), 0))["n"]
        return MemberCounts(total=total, new=new, active=active)
    # A member bought in [since, end] when a month of theirs starts or ends in
    # it: no month is longer than the window, so one cannot straddle it.
    active = (
        _member_months([month_start(since), month_start(period.end)], scope)
        .filter(
            Q(first_day__gte=since, first_day__lte=period.end)
            | Q(last_day__gte=since, last_day__lte=period.end)
        )
        .values("member_id")
        .distinct()
        .count()
    )
    return MemberCounts(total=total, new=new, active=active)


# --- Sales ------------------------------------------------------------------------------------


@dataclass(frozen=True)
class SalesFigures:
    """docs/analytics.md#kpi-sales. Amounts net of returns."""

    sales: int
    amount: Decimal
    member_sales: int
    member_amount: Decimal
    anonymous_sales: int
    anonymous_amount: Decimal
    participation_rate: Decimal | None
    average_order_value_members: Decimal | None
    average_order_value_non_members: Decimal | None


def sales_kpi(*, period: Period, scope: Scope = ALL) -> SalesFigures:
    """The period's sales (by the day of the sale, net of their returns), the
    members' share of them (participation: member sales / all sales, the
    anonymous ones counted) and the average order value of members and of
    non-members. Anchors #kpi-sales, #kpi-participation, #kpi-aov."""
    totals = _store_days(period, scope).aggregate(
        sales=Coalesce(Sum("sales"), 0),
        amount=Coalesce(Sum("amount"), ZERO),
        member_sales=Coalesce(Sum("member_sales"), 0),
        member_amount=Coalesce(Sum("member_amount"), ZERO),
    )
    sales, member_sales = totals["sales"], totals["member_sales"]
    amount, member_amount = money(totals["amount"]), money(totals["member_amount"])
    anonymous_sales, anonymous_amount = sales - member_sales, amount - member_amount
    return SalesFigures(
        sales=sales,
        amount=amount,
        member_sales=member_sales,
        member_amount=member_amount,
        anonymous_sales=anonymous_sales,
        anonymous_amount=anonymous_amount,
        participation_rate=rate(member_sales, sales),
        average_order_value_members=average(member_amount, member_sales),
        average_order_value_non_members=average(anonymous_amount, anonymous_sales),
    )


# --- Buyers: frequency, repeat, retention, cohorts ---------------------------------------------


@dataclass(frozen=True)
class BuyerFigures:
    """docs/analytics.md#kpi-frequency and #kpi-repeat."""

    buyers: int
    purchases: int
    amount: Decimal
    purchase_frequency: Decimal | None
    repeat_buyers: int
    repeat_purchase_rate: Decimal | None


def _cells(months: list[date], scope: Scope) -> QuerySet[BuyerCell]:
    key = scope.store.pk if scope.store is not None else 0
    return BuyerCell.objects.filter(store_key=key, month__gte=months[0], month__lte=months[-1])


def _buyer_figures(buyers: int, purchases: int, amount: Decimal, repeat: int) -> BuyerFigures:
    frequency = rate(purchases, buyers)
    return BuyerFigures(
        buyers=buyers,
        purchases=purchases,
        amount=money(amount),
        purchase_frequency=frequency.quantize(Decimal("0.01")) if frequency is not None else None,
        repeat_buyers=repeat,
        repeat_purchase_rate=rate(repeat, buyers),
    )


def _buyers_from_cells(months: list[date], scope: Scope) -> BuyerFigures:
    """buyers_kpi without a tier or segment: sums of BuyerCells (one query
    over a few thousand rows, whatever the number of members)."""
    first, last = months[0], months[-1]
    t = _cells(months, scope).aggregate(
        buyers=Coalesce(Sum("members", filter=Q(prev_month__lt=first)), 0),
        once=Coalesce(
            Sum("members", filter=Q(prev_month__lt=first, next_month__gt=last, single=True)), 0
        ),
        purchases=Coalesce(Sum("purchases"), 0),
        amount=Coalesce(Sum("amount"), ZERO),
    )
    return _buyer_figures(t["buyers"], t["purchases"], t["amount"], t["buyers"] - t["once"])


def _retention_from_cells(months: list[date], previous: list[date], scope: Scope) -> Retention:
    """retention_kpi without a tier or segment, from BuyerCells: the base are
    the previous months' buyers; the retained, this period's buyers whose
    month before it is one of the previous months."""
    base = _cells(previous, scope).aggregate(
        n=Coalesce(Sum("members", filter=Q(prev_month__lt=previous[0])), 0)
    )["n"]
    retained = _cells(months, scope).aggregate(
        n=Coalesce(
            Sum("members", filter=Q(prev_month__gte=previous[0], prev_month__lt=months[0])), 0
        )
    )["n"]
    retention = rate(retained, base)
    return Retention(
        base=base,
        retained=retained,
        retention_rate=retention,
        churn_rate=(1 - retention) if retention is not None else None,
    )


def buyers_kpi(*, period: Period, scope: Scope = ALL) -> BuyerFigures:
    """Members who bought in the period's months, their purchases (sales not
    returned in full), purchases per buyer (frequency) and the share who
    bought at least twice (repeat purchase rate). Anchors #kpi-frequency,
    #kpi-repeat."""
    if not scope.filters_members:
        return _buyers_from_cells(period.months, scope)
    per_member = (
        _member_months(period.months, scope)
        .values("member_id")
        .annotate(n=Sum("purchases"), spent=Sum("amount"))
        .filter(n__gt=0)
        .order_by()
    )
    # Counted over the per-member sums in the database: a year's buyers are
    # hundreds of thousands of rows that need not travel.
    sql, params = per_member.query.get_compiler(connection=connection).as_sql()
    with connection.cursor() as cursor:
        # `sql` is the ORM's own compiled query; every value is in `params`.
        outer = (
            "SELECT COUNT(*), COALESCE(SUM(n), 0), COALESCE(SUM(spent), 0), "
            "COALESCE(SUM(CASE WHEN n >= 2 THEN 1 ELSE 0 END), 0) FROM ({}) AS per_member"
        )
        cursor.execute(outer.format(sql), params)
        buyers, purchases, spent, repeat = cursor.fetchone()
    return _buyer_figures(int(buyers), int(purchases), Decimal(str(spent)), int(repeat))


@dataclass(frozen=True)
class Retention:
    """docs/analytics.md#kpi-retention."""

    base: int
    retained: int
    retention_rate: Decimal | None
    churn_rate: Decimal | None


def _buyers(months: list[date], scope: Scope) -> QuerySet:
    return _member_months(months, scope).filter(purchases__gt=0).values("member_id").distinct()


def retention_kpi(*, period: Period, scope: Scope = ALL) -> Retention:
    """Of the members who bought in the previous period's months (`base`), the
    share who bought again in this period's months (retention) and the share
    who did not (churn = 1 - retention). Anchor #kpi-retention."""
    months = period.months
    previous = Period(*_month_span(months[0], len(months))).months
    if not scope.filters_members:
        return _retention_from_cells(months, previous, scope)
    base_members = _buyers(previous, scope)
    base = base_members.count()
    retained = _buyers(months, scope).filter(member_id__in=base_members).count()
    retention = rate(retained, base)
    return Retention(
        base=base,
        retained=retained,
        retention_rate=retention,
        churn_rate=(1 - retention) if retention is not None else None,
    )


def _month_span(first: date, count: int) -> tuple[date, date]:
    """The first and last day of the `count` months before month `first`."""
    start = first
    for _ in range(count):
        start = month_start(start - timedelta(days=1))
    return start, first - timedelta(days=1)


@dataclass(frozen=True)
class CohortRow:
    cohort: date
    size: int
    # Members of the cohort who bought in each month from their join month on.
    buyers: list[int] = field(default_factory=list)
    rates: list[Decimal | None] = field(default_factory=list)


@dataclass(frozen=True)
class CohortMatrix:
    """docs/analytics.md#kpi-cohorts. `rows[i].rates[k]`: the share of
    cohort i who bought in its k-th month after joining (k = 0: its own)."""

    months: list[date]
    rows: list[CohortRow]


def _as_date(value: date | datetime) -> date:
    return value.date() if isinstance(value, datetime) else value


def _cohorts_from_cells(
    period: Period, scope: Scope
) -> tuple[dict[date, int], dict[tuple[date, date], int]]:
    """cohort_retention's sizes and buyers without a tier or segment: sums of
    CohortDays and CohortCells of the members who joined from the period's
    first month to its end (a few thousand rows, whatever the members)."""
    months = period.months
    key = scope.store.pk if scope.store is not None else 0
    joined = Q(store_key=key, joined__gte=months[0], joined__lte=period.end)
    cohort = TruncMonth("joined", output_field=DateField())
    sizes = {
        _as_date(row["cohort"]): row["n"]
        for row in CohortDay.objects.filter(joined)
        .annotate(cohort=cohort)
        .values("cohort")
        .annotate(n=Sum("members"))
        .order_by()
    }
    rows = (
        CohortCell.objects.filter(joined, month__gte=months[0], month__lte=months[-1])
        .annotate(cohort=cohort)
        .values("cohort", "month")
        .annotate(n=Sum("members"))
        .order_by()
    )
    return sizes, {(_as_date(row["cohort"]), row["month"]): row["n"] for row in rows}


def cohort_retention(*, period: Period, scope: Scope = ALL) -> CohortMatrix:
    """Members by join month (the cohorts of the period's months) and, for
    each month since up to the period's last, the share of them who bought
    in it: the heat map. Without a tier or segment, from the cohort cells;
    with one, counted over its members' months. Anchor #kpi-cohorts."""
    months = period.months
    if scope.filters_members:
        sizes, buyers = _cohorts_of_members(period, scope)
    else:
        sizes, buyers = _cohorts_from_cells(period, scope)
    matrix = []
    for cohort in months:
        later = [month for month in months if month >= cohort]
        counts = [buyers.get((cohort, month), 0) for month in later]
        matrix.append(
            CohortRow(
                cohort=cohort,
                size=sizes.get(cohort, 0),
                buyers=counts,
                rates=[rate(count, sizes.get(cohort, 0)) for count in counts],
            )
        )
    return CohortMatrix(months=months, rows=matrix)


def _cohorts_of_members(
    period: Period, scope: Scope
) -> tuple[dict[date, int], dict[tuple[date, date], int]]:
    """cohort_retention's sizes and buyers counted over the members of the
    scope and their member-months (the cells keep no tier or segment)."""
    months = period.months
    members = Member.objects.exclude(status=MemberStatus.DELETED)
    if scope.filters_members:
        members = scope.members().exclude(status=MemberStatus.DELETED)
    if scope.store is not None:
        members = members.filter(home_store=scope.store)
    lo, _hi = day_bounds(months[0], months[0])
    _lo, hi = day_bounds(period.end, period.end)
    tz = timezone.get_current_timezone()
    cohort_members = members.filter(joined_at__gte=lo, joined_at__lt=hi)
    sizes = {
        _as_date(row["cohort"]): row["n"]
        for row in cohort_members.annotate(
            cohort=TruncMonth("joined_at", tzinfo=tz, output_field=DateField())
        )
        .values("cohort")
        .annotate(n=Count("pk"))
        .order_by()
    }
    rows = (
        _member_months(months, scope)
        .filter(member_id__in=cohort_members.values("pk"), purchases__gt=0)
        .annotate(cohort=TruncMonth("member__joined_at", tzinfo=tz, output_field=DateField()))
        .values("cohort", "month")
        .annotate(n=Count("member_id", distinct=True))
        .order_by()
    )
    return sizes, {(_as_date(row["cohort"]), row["month"]): row["n"] for row in rows}


# --- Value ------------------------------------------------------------------------------------


@dataclass(frozen=True)
class HistoricalClv:
    """docs/analytics.md#kpi-clv."""

    members: int
    spend: Decimal
    value: Decimal | None


def clv_kpi(*, period: Period, scope: Scope = ALL) -> HistoricalClv:
    """Historical CLV: the members' net spend from the start of the program to
    the period's end, per member who had joined by then. Anchor #kpi-clv."""
    members, _new = _joined(period, scope)
    if scope.filters_members:
        rows = MemberMonth.objects.filter(
            month__lte=period.end, member_id__in=scope.members().values("pk")
        )
        if scope.store is not None:
            rows = rows.filter(store=scope.store)
        spend = rows.aggregate(s=Coalesce(Sum("amount"), ZERO))["s"]
    else:
        rows = StoreDay.objects.filter(day__lte=period.end)
        if scope.store is not None:
            rows = rows.filter(store=scope.store)
        spend = rows.aggregate(s=Coalesce(Sum("member_amount"), ZERO))["s"]
    spend = money(spend)
    return HistoricalClv(members=members, spend=spend, value=average(spend, members))


# --- Points -----------------------------------------------------------------------------------


@dataclass(frozen=True)
class PointsFigures:
    """docs/analytics.md#kpi-points, #kpi-redemption-rate, #kpi-breakage,
    #kpi-liability."""

    issued: int
    redeemed: int
    expired: int
    adjusted: int
    outstanding: int
    redemption_rate: Decimal | None
    breakage_rate: Decimal | None
    expected_breakage: Decimal | None
    point_value: Decimal
    liability: Decimal


def points_kpi(*, period: Period, scope: Scope = ALL) -> PointsFigures:
    """Points issued (earned net of reversals), redeemed (net of refunds) and
    expired in the period; outstanding at its end; the redemption and
    breakage rates of all points issued up to its end; and the liability:
    outstanding × point value × (1 - expected breakage), the breakage
    estimated from the program's own history up to the period's end
    (analytics.predictions.breakage_estimate; none yet: no deduction).
    The tier and segment do not apply (the roll-up keeps no member).
    Anchors #kpi-points, #kpi-redemption-rate, #kpi-breakage, #kpi-liability."""
    rows = _ledger_days(scope).filter(day__lte=period.end)
    in_period = Q(day__gte=period.start)
    names = ("earned", "reversed", "adjusted", "redeemed", "refunded", "expired")
    sums = {f"all_{name}": Coalesce(Sum(name), 0) for name in names}
    sums |= {f"p_{name}": Coalesce(Sum(name, filter=in_period), 0) for name in names}
    t = rows.aggregate(**sums)
    issued_to_date = t["all_earned"] - t["all_reversed"]
    redeemed_to_date = t["all_redeemed"] - t["all_refunded"]
    expired_to_date = t["all_expired"]
    outstanding = issued_to_date + t["all_adjusted"] - redeemed_to_date - expired_to_date
    breakage = breakage_estimate(redeemed=redeemed_to_date, expired=expired_to_date).rate
    point_value = program_settings_get().point_value
    kept = 1 - (breakage or 0)
    liability = money(Decimal(max(outstanding, 0)) * point_value * kept)
    return PointsFigures(
        issued=t["p_earned"] - t["p_reversed"],
        redeemed=t["p_redeemed"] - t["p_refunded"],
        expired=t["p_expired"],
        adjusted=t["p_adjusted"],
        outstanding=outstanding,
        redemption_rate=rate(redeemed_to_date, issued_to_date),
        breakage_rate=rate(expired_to_date, issued_to_date),
        expected_breakage=breakage,
        point_value=point_value,
        liability=liability,
    )


# --- Tiers, referrals, rewards ------------------------------------------------------------------


@dataclass(frozen=True)
class TierCount:
    code: str
    name: str
    members: int
    share: Decimal | None


def tier_distribution(*, scope: Scope = ALL) -> list[TierCount]:
    """Members (not deleted) by their tier now, lowest tier first, with
    members of no tier as code ''. Anchor #kpi-tiers."""
    members = scope.members().exclude(status=MemberStatus.DELETED)
    if scope.store is not None:
        members = members.filter(home_store=scope.store)
    counts = dict(members.values("tier_id").annotate(n=Count("*")).values_list("tier_id", "n"))
    total = sum(counts.values())
    tiers = [
        TierCount(
            tier.code, str(tier.name), counts.get(tier.pk, 0), rate(counts.get(tier.pk, 0), total)
        )
        for tier in Tier.objects.order_by("threshold", "pk")
    ]
    if counts.get(None):
        tiers.insert(0, TierCount("", "", counts[None], rate(counts[None], total)))
    return tiers


@dataclass(frozen=True)
class TierMovement:
    from_code: str
    to_code: str
    reason: str
    members: int


def tier_movements(*, period: Period, scope: Scope = ALL) -> list[TierMovement]:
    """Tier changes in the period, by from tier, to tier and reason (join,
    upgrade, downgrade, manual), the most frequent first. Anchor #kpi-tiers."""
    lo, hi = day_bounds(period.start, period.end)
    changes = TierChange.objects.filter(created_at__gte=lo, created_at__lt=hi)
    if scope.filters_members:
        changes = changes.filter(member_id__in=scope.members().values("pk"))
    if scope.store is not None:
        changes = changes.filter(member__home_store=scope.store)
    rows = (
        changes.values("from_tier__code", "to_tier__code", "reason")
        .annotate(n=Count("member", distinct=True))
        .order_by("-n", "from_tier__code", "to_tier__code")
    )
    return [
        TierMovement(r["from_tier__code"] or "", r["to_tier__code"] or "", r["reason"], r["n"])
        for r in rows
    ]


@dataclass(frozen=True)
class GroupValue:
    members: int
    clv: Decimal | None
    churn_rate: Decimal | None


@dataclass(frozen=True)
class ReferralFunnel:
    """docs/analytics.md#kpi-referrals."""

    joined: int
    qualified: int
    rewarded: int
    rejected: int
    referred: GroupValue
    others: GroupValue


def _group(members: int, spend: Decimal, base: int, retained: int) -> GroupValue:
    retention = rate(retained, base)
    return GroupValue(
        members=members,
        clv=average(money(spend), members),
        churn_rate=(1 - retention) if retention is not None else None,
    )


def referral_kpi(*, period: Period, scope: Scope = ALL) -> ReferralFunnel:
    """Friends who joined with a referral code in the period, how many of them
    qualified, were rewarded or rejected (by their status now); and members
    who joined by a referral against the others: historical CLV and churn.
    The referred are few, so their figures come from their own member-months;
    the others' are the whole program's (clv_kpi, retention_kpi: roll-up sums,
    whatever the number of members) less the referred, so the two groups add
    up to the program's figures. Anchor #kpi-referrals."""
    lo, hi = day_bounds(period.start, period.end)
    referrals = Referral.objects.filter(created_at__gte=lo, created_at__lt=hi)
    if scope.store is not None:
        referrals = referrals.filter(friend__home_store=scope.store)
    counts = referrals.aggregate(
        joined=Count("pk"),
        qualified=Count(
            "pk", filter=Q(status__in=[ReferralStatus.QUALIFIED, ReferralStatus.REWARDED])
        ),
        rewarded=Count("pk", filter=Q(status=ReferralStatus.REWARDED)),
        rejected=Count("pk", filter=Q(status=ReferralStatus.REJECTED)),
    )
    _lo, end = day_bounds(period.end, period.end)
    members = scope.members().exclude(status=MemberStatus.DELETED).filter(joined_at__lt=end)
    if scope.store is not None:
        members = members.filter(home_store=scope.store)
    referred = list(
        members.filter(pk__in=Referral.objects.values("friend_id")).values_list("pk", flat=True)
    )
    spend = MemberMonth.objects.filter(month__lte=period.end, member_id__in=referred)
    if scope.store is not None:
        spend = spend.filter(store=scope.store)
    referred_spend = money(spend.aggregate(s=Coalesce(Sum("amount"), ZERO))["s"])
    months = period.months
    previous = Period(*_month_span(months[0], len(months))).months
    store_only = Scope(store=scope.store)
    base = list(_buyers(previous, store_only).filter(member_id__in=referred))
    referred_base = len(base)
    referred_retained = (
        _buyers(months, store_only).filter(member_id__in=[row["member_id"] for row in base]).count()
    )
    whole = clv_kpi(period=period, scope=scope)
    retention = retention_kpi(period=period, scope=scope)
    return ReferralFunnel(
        **counts,
        referred=_group(len(referred), referred_spend, referred_base, referred_retained),
        others=_group(
            max(0, whole.members - len(referred)),
            whole.spend - referred_spend,
            max(0, retention.base - referred_base),
            max(0, retention.retained - referred_retained),
        ),
    )


@dataclass(frozen=True)
class RewardCount:
    reward_id: int
    name: str
    redemptions: int
    quantity: int
    points: int


def reward_popularity(*, period: Period, scope: Scope = ALL, limit: int = 10) -> list[RewardCount]:
    """The rewards redeemed most in the period (completed redemptions), by
    quantity. Anchor #kpi-rewards."""
    lo, hi = day_bounds(period.start, period.end)
    redemptions = Redemption.objects.filter(
        created_at__gte=lo, created_at__lt=hi, status=RedemptionStatus.COMPLETED
    )
    if scope.store is not None:
        redemptions = redemptions.filter(store=scope.store)
    if scope.filters_members:
        redemptions = redemptions.filter(member_id__in=scope.members().values("pk"))
    rows = (
        redemptions.values("reward_id", "reward__name")
        .annotate(n=Count("pk"), quantity=Sum("quantity"), points=Sum("points"))
        .order_by("-quantity", "-n", "reward_id")[: max(1, min(limit, 100))]
    )
    return [
        RewardCount(r["reward_id"], r["reward__name"], r["n"], r["quantity"], r["points"])
        for r in rows
    ]


# --- Campaigns and challenges -------------------------------------------------------------------


@dataclass(frozen=True)
class Lift:
    """docs/analytics.md#kpi-lift: revenue per member in the campaign's
    audience against its hold-out, over the campaign's months. `enough_data`
    False (and no interval) while either group has fewer than LIFT_MIN_GROUP."""

    audience: int
    control: int
    audience_revenue: Decimal | None
    control_revenue: Decimal | None
    difference: Decimal | None
    low: Decimal | None
    high: Decimal | None
    enough_data: bool


@dataclass(frozen=True)
class CampaignResult:
    """docs/analytics.md#kpi-campaigns."""

    campaign_id: int
    name: str
    points: int
    cost: Decimal
    members_reached: int
    lift: Lift


def _revenues(member_ids: list[int], months: list[date]) -> list[Decimal]:
    """Each member's net spend over `months` (0 for those who bought nothing)."""
    spent: dict[int, Decimal] = dict.fromkeys(member_ids, ZERO)
    for start in range(0, len(member_ids), 5000):
        chunk = member_ids[start : start + 5000]
        rows = (
            MemberMonth.objects.filter(
                member_id__in=chunk, month__gte=months[0], month__lte=months[-1]
            )
            .values("member_id")
            .annotate(s=Sum("amount"))
        )
        for row in rows:
            spent[row["member_id"]] = Decimal(row["s"] or 0)
    return list(spent.values())


def lift_estimate(audience: list[Decimal], control: list[Decimal]) -> Lift:
    """Mean revenue per member of each group, their difference and its 95 %
    interval (Welch: difference ± 1.96 × √(s₁²/n₁ + s₂²/n₂))."""
    n1, n2 = len(audience), len(control)
    mean1 = money(sum(audience, ZERO) / n1) if n1 else None
    mean2 = money(sum(control, ZERO) / n2) if n2 else None
    if n1 < LIFT_MIN_GROUP or n2 < LIFT_MIN_GROUP:
        difference = mean1 - mean2 if mean1 is not None and mean2 is not None else None
        return Lift(n1, n2, mean1, mean2, difference, None, None, False)

    def variance(values: list[Decimal]) -> float:
        mean = float(sum(values, ZERO)) / len(values)
        return sum((float(v) - mean) ** 2 for v in values) / (len(values) - 1)

    exact1, exact2 = float(sum(audience, ZERO)) / n1, float(sum(control, ZERO)) / n2
    spread = 1.96 * math.sqrt(variance(audience) / n1 + variance(control) / n2)
    diff = exact1 - exact2
    return Lift(
        n1,
        n2,
        mean1,
        mean2,
        money(Decimal(repr(diff))),
        money(Decimal(repr(diff - spread))),
        money(Decimal(repr(diff + spread))),
        True,
    )


def campaign_results(*, campaign: Campaign, as_of: datetime) -> CampaignResult:
    """What a campaign gave (points net of reversals, their cost at the point
    value, members reached) and its lift: revenue per member of those it
    reached against its hold-out members, over the months from its start
    to its end (or `as_of`). Anchor #kpi-campaigns."""

    figures = campaign_figures(campaign_ids=[campaign.pk]).get(campaign.pk)
    points = figures.points_awarded if figures else 0
    reached = figures.members_reached if figures else 0
    point_value = program_settings_get().point_value
    start = timezone.localtime(campaign.starts_at).date() if campaign.starts_at else None
    ends = campaign.ends_at if campaign.ends_at and campaign.ends_at < as_of else as_of
    end = timezone.localtime(ends).date()
    control_ids = list(
        CampaignHoldout.objects.filter(campaign=campaign).values_list("member_id", flat=True)
    )
    audience_ids = _campaign_audience(campaign)
    if start is None or end < start:
        lift = lift_estimate([], [])
    else:
        months = Period(start, end).months
        lift = lift_estimate(_revenues(audience_ids, months), _revenues(control_ids, months))
    return CampaignResult(
        campaign_id=campaign.pk,
        name=str(campaign.name),
        points=points,
        cost=money(Decimal(points) * point_value),
        members_reached=reached,
        lift=lift,
    )


def _campaign_audience(campaign: Campaign) -> list[int]:
    """The members the campaign gave points to (the treated group)."""
    from members.models import PointsEntry

    marker = f":campaign:{campaign.pk}"
    rewarded = PointsEntry.objects.filter(
        Q(source_type="campaign", source_id=str(campaign.pk))
        | Q(idempotency_key__startswith="purchase:", idempotency_key__endswith=marker)
    )
    return sorted(set(rewarded.values_list("member_id", flat=True)))


@dataclass(frozen=True)
class ChallengeFigures:
    challenge_id: int
    name: str
    participants: int
    completed: int
    completion_rate: Decimal | None


def challenge_participation(*, period: Period, scope: Scope = ALL) -> list[ChallengeFigures]:
    """The challenges running in the period, with their participants and how
    many completed them (campaigns.challenge_reports). Anchor #kpi-challenges."""
    lo, hi = day_bounds(period.start, period.end)
    challenges = list(
        Challenge.objects.filter(starts_at__lt=hi)
        .filter(Q(ends_at__isnull=True) | Q(ends_at__gte=lo))
        .order_by("starts_at", "pk")
    )
    counts = challenge_participation_counts(challenge_ids=[c.pk for c in challenges])
    result = []
    for challenge in challenges:
        joined, done = counts.get(challenge.pk, (0, 0))
        result.append(
            ChallengeFigures(challenge.pk, str(challenge.name), joined, done, rate(done, joined))
        )
    return result


# --- Feedback ---------------------------------------------------------------------------------


@dataclass(frozen=True)
class FeedbackFigures:
    """docs/analytics.md#nps-and-csat (analytics.feedback computes them)."""

    nps: FeedbackFigure
    csat: FeedbackFigure


def feedback_kpi(*, period: Period, scope: Scope = ALL) -> FeedbackFigures:
    """NPS and CSAT of the period at the store (analytics.feedback)."""
    return FeedbackFigures(
        nps=feedback_figure(
            kind=SurveyKind.NPS, start=period.start, end=period.end, store=scope.store
        ),
        csat=feedback_figure(
            kind=SurveyKind.CSAT, start=period.start, end=period.end, store=scope.store
        ),
    )


def feedback_trends(*, period: Period, scope: Scope = ALL, by: str = "week") -> dict[str, list]:
    """{"nps": [...], "csat": [...]} TrendPoints a week or month (analytics.feedback)."""
    return {
        kind: feedback_trend(
            kind=kind, start=period.start, end=period.end, store=scope.store, period=by
        )
        for kind in SurveyKind.values
    }
