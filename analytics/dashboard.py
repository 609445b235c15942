"""What the analytics dashboard shows, composed from the KPI selectors
(docs/analytics.md, "Dashboard"). Selectors only: no page reads raw
purchases; the figures come from analytics.kpis (roll-ups) and
analytics.feedback (survey answers).

The rules, and who keeps them:

- **This period beside the one before.** Every tile has the same figure for
  the period of the same length just before (`kpis.kpi_compare`), and a
  trend mark when both are numbers.
- **No value is not 0.** A figure that cannot be worked out (no sale, no
  answer) is None, shown "—" and written as an empty cell; a 0 is a 0.
- **One table, three uses.** A `Table` is drawn as a chart, shown as its
  table view and exported to CSV (`Table.export_rows`): the same rows, so a
  download holds exactly what the page shows. Cells keep their types (int,
  Decimal, date) so the CSV writes numbers as numbers (loyalty.csv_files).
"""

from __future__ import annotations

from collections.abc import Iterator, Sequence
from dataclasses import dataclass, field
from datetime import date, datetime, timedelta
from decimal import Decimal
from typing import Any

from django.conf import settings
from django.core.cache import cache
from django.db.models import Q, Sum
from django.db.models.functions import Coalesce
from django.utils import timezone
from django.utils.translation import get_language, ngettext
from django.utils.translation import gettext as _

from analytics.charts import HeatCell, heat_cells
from analytics.dashboard_forms import DashboardFilter
from analytics.feedback import FeedbackFigure
from analytics.kpis import (
    LIFT_MIN_GROUP,
    ZERO,
    Period,
    SalesFigures,
    Scope,
    buyers_kpi,
    campaign_results,
    challenge_participation,
    clv_kpi,
    cohort_retention,
    feedback_kpi,
    feedback_trends,
    kpi_compare,
    members_kpi,
    points_kpi,
    referral_kpi,
    retention_kpi,
    reward_popularity,
    sales_kpi,
    tier_distribution,
    tier_movements,
)
from analytics.models import LedgerDay, RollupState, StoreDay, SurveyKind
from analytics.rollups import day_bounds
from campaigns.models import Campaign, CampaignStatus
from loyalty.models import Store
from members.models import MemberStatus, Tier, TierChange
from rewards.models import Redemption, RedemptionStatus

# How a cell or a tile reads (analytics/templatetags/dashboard.py).
COUNT, POINTS, MONEY, RATE, DECIMAL, SCORE, TEXT, DAY, MONTH = (
    "count",
    "points",
    "money",
    "rate",
    "decimal",
    "score",
    "text",
    "day",
    "month",
)


@dataclass(frozen=True)
class Tile:
    """One KPI: this period's value and the previous period's, how they read
    (`kind`), and the definition shown a click away."""

    key: str
    label: str
    kind: str
    value: Any
    previous: Any
    definition: str
    note: str = ""
    # Which way is good news: "up" (sales), "down" (churn), "" (neither:
    # points outstanding, the liability).
    better: str = "up"

    @property
    def trend(self) -> str:
        """`up`, `down` or `same` against the period before, when both values
        are numbers; else empty."""
        if self.value is None or self.previous is None:
            return ""
        if self.value > self.previous:
            return "up"
        if self.value < self.previous:
            return "down"
        return "same"

    @property
    def tone(self) -> str:
        """`good` or `bad` news for a change the tile says which way is good."""
        if not self.better or self.trend in ("", "same"):
            return ""
        return "good" if self.trend == self.better else "bad"


@dataclass(frozen=True)
class TileGroup:
    key: str
    title: str
    tiles: list[Tile]


@dataclass(frozen=True)
class Column:
    label: str
    kind: str


@dataclass(frozen=True)
class Table:
    """A table of the dashboard: `key` names it in its CSV's address and file."""

    key: str
    title: str
    columns: Sequence[Column]
    rows: Sequence[Sequence[Any]]
    summary: str = ""
    empty: str = ""
    # The columns a chart of the table draws, one series each (not the labels).
    plot: tuple[int, ...] = ()

    @property
    def display_rows(self) -> Iterator[list[tuple[Any, str]]]:
        """Each row's cells with the kind they read as."""
        kinds = [column.kind for column in self.columns]
        for row in self.rows:
            yield list(zip(row, kinds, strict=True))

    def export_rows(self) -> Iterator[Sequence[Any]]:
        """The CSV: the header, then the rows as they are (rates as fractions
        0-1, amounts as decimals, days ISO; None is the empty cell)."""
        yield [
            f"{column.label} (0-1)" if column.kind == RATE else column.label
            for column in self.columns
        ]
        for row in self.rows:
            yield [cell.isoformat() if isinstance(cell, date) else cell for cell in row]


@dataclass
class Overview:
    """Everything the dashboard draws for one filter."""

    choice: DashboardFilter
    previous_start: date
    previous_end: date
    groups: list[TileGroup] = field(default_factory=list)
    # Drawn as charts, in this order: (table, "line" | "bar" | "hbar").
    charts: list[tuple[Table, str]] = field(default_factory=list)
    cohorts: Table | None = None
    cohort_rows: list[CohortLine] = field(default_factory=list)
    tables: list[Table] = field(default_factory=list)
    rolled_up_at: datetime | None = None

    def table(self, key: str) -> Table | None:
        every = [table for table, _kind in self.charts] + self.tables
        if self.cohorts is not None:
            every.append(self.cohorts)
        if self.groups:
            every.append(kpi_table(self.groups))
        return next((table for table in every if table.key == key), None)


def _unit(kind: str) -> str:
    return {
        RATE: _("fraction 0-1"),
        MONEY: settings.LOYALTY_CURRENCY,
        COUNT: _("count"),
        POINTS: _("points"),
        DECIMAL: _("purchases per buyer"),
        SCORE: _("score -100 to 100"),
    }.get(kind, "")


def kpi_table(groups: Sequence[TileGroup]) -> Table:
    """The tiles as one table, for their CSV: each figure, its unit, this
    period's value and the period before's."""
    return Table(
        key="kpis",
        title=_("Key figures"),
        columns=[
            Column(_("Group"), TEXT),
            Column(_("Figure"), TEXT),
            Column(_("Unit"), TEXT),
            Column(_("This period"), TEXT),
            Column(_("Period before"), TEXT),
        ],
        rows=[
            [group.title, tile.label, _unit(tile.kind), tile.value, tile.previous]
            for group in groups
            for tile in group.tiles
        ],
    )


# --- Tiles ---------------------------------------------------------------------------------------


def _tile(
    key: str,
    label: str,
    kind: str,
    now: Any,
    before: Any,
    definition: str,
    note: str = "",
    *,
    better: str = "up",
) -> Tile:
    return Tile(
        key=key,
        label=label,
        kind=kind,
        value=now,
        previous=before,
        definition=definition,
        note=note,
        better=better,
    )


def member_tiles(period: Period, scope: Scope) -> TileGroup:
    counts = kpi_compare(members_kpi, period=period, scope=scope)
    buyers = kpi_compare(buyers_kpi, period=period, scope=scope)
    retention = kpi_compare(retention_kpi, period=period, scope=scope)
    clv = kpi_compare(clv_kpi, period=period, scope=scope)
    now, before = counts.current, counts.previous
    return TileGroup(
        key="members",
        title=_("Members"),
        tiles=[
            _tile(
                "members-total",
                _("Members"),
                COUNT,
                now.total,
                before.total,
                _("Members who had joined by the last day of the period (deleted ones left out)."),
            ),
            _tile(
                "members-new",
                _("New members"),
                COUNT,
                now.new,
                before.new,
                _("Members who joined during the period."),
            ),
            _tile(
                "members-active",
                _("Active members"),
                COUNT,
                now.active,
                before.active,
                _("Members who bought in the 90 days up to the last day of the period."),
            ),
            _tile(
                "purchase-frequency",
                _("Purchase frequency"),
                DECIMAL,
                buyers.current.purchase_frequency,
                buyers.previous.purchase_frequency,
                _(
                    "Purchases per member who bought, over the calendar months the period "
                    "covers (a sale returned in full does not count)."
                ),
            ),
            _tile(
                "repeat-rate",
                _("Repeat purchase rate"),
                RATE,
                buyers.current.repeat_purchase_rate,
                buyers.previous.repeat_purchase_rate,
                _(
                    "Of the members who bought in the period's months, the share who bought twice "
                    "or more."
                ),
            ),
            _tile(
                "retention-rate",
                _("Retention rate"),
                RATE,
                retention.current.retention_rate,
                retention.previous.retention_rate,
                _(
                    "Of the members who bought in the months before, as many months as the period "
                    "covers, the share who bought again in the period's months."
                ),
            ),
            _tile(
                "churn-rate",
                _("Churn rate"),
                RATE,
                retention.current.churn_rate,
                retention.previous.churn_rate,
                _(
                    "1 - the retention rate: of the members who bought before, the share who did "
                    "not buy again."
                ),
                better="down",
            ),
            _tile(
                "clv",
                _("Historical CLV"),
                MONEY,
                clv.current.value,
                clv.previous.value,
                _(
                    "Members' spend from the start of the program to the last day of the period, "
                    "net of returns, per member who had joined by then."
                ),
            ),
        ],
    )


def sales_tiles(period: Period, scope: Scope) -> TileGroup:
    sales = kpi_compare(sales_kpi, period=period, scope=scope)
    now, before = sales.current, sales.previous
    note = (
        _("All sales of the store: a sale keeps no tier or segment.")
        if scope.filters_members
        else ""
    )
    return TileGroup(
        key="sales",
        title=_("Sales"),
        tiles=[
            _tile(
                "sales-count",
                _("Sales"),
                COUNT,
                now.sales,
                before.sales,
                _(
                    "Sales in the period, by the day of the sale; a sale returned in full still "
                    "counts, at 0.00."
                ),
                note,
            ),
            _tile(
                "sales-amount",
                _("Sales amount"),
                MONEY,
                now.amount,
                before.amount,
                _("What the period's sales came to, net of what was returned of them."),
                note,
            ),
            _tile(
                "participation",
                _("Participation rate"),
                RATE,
                now.participation_rate,
                before.participation_rate,
                _("Member sales ÷ all sales, anonymous sales counted."),
                note,
            ),
            _tile(
                "aov-members",
                _("Average order, members"),
                MONEY,
                now.average_order_value_members,
                before.average_order_value_members,
                _("Members' sales amount ÷ their number of sales."),
                note,
            ),
            _tile(
                "aov-non-members",
                _("Average order, non-members"),
                MONEY,
                now.average_order_value_non_members,
                before.average_order_value_non_members,
                _("Anonymous sales amount ÷ their number of sales."),
                note,
            ),
        ],
    )


def points_tiles(period: Period, scope: Scope) -> TileGroup:
    points = kpi_compare(points_kpi, period=period, scope=scope)
    now, before = points.current, points.previous
    note = (
        _("Of every member: the ledger's roll-up keeps no tier or segment.")
        if scope.filters_members
        else ""
    )
    if now.expected_breakage is None:
        breakage = _("No expected breakage yet (no point redeemed or expired): nothing deducted.")
    else:
        breakage = _("Expected breakage %(percent)s %% (from the program's own history).") % {
            "percent": (now.expected_breakage * 100).quantize(Decimal("0.1"))
        }
    return TileGroup(
        key="points",
        title=_("Points"),
        tiles=[
            _tile(
                "points-issued",
                _("Points issued"),
                POINTS,
                now.issued,
                before.issued,
                _("Points earned in the period, net of the points reversed by returns."),
                note,
            ),
            _tile(
                "points-redeemed",
                _("Points redeemed"),
                POINTS,
                now.redeemed,
                before.redeemed,
                _("Points spent on rewards in the period, net of the points refunded."),
                note,
            ),
            _tile(
                "points-expired",
                _("Points expired"),
                POINTS,
                now.expired,
                before.expired,
                _("Points that expired in the period."),
                note,
                better="",
            ),
            _tile(
                "points-outstanding",
                _("Points outstanding"),
                POINTS,
                now.outstanding,
                before.outstanding,
                _("Points members held at the end of the period (spendable and pending)."),
                note,
                better="",
            ),
            _tile(
                "redemption-rate",
                _("Redemption rate"),
                RATE,
                now.redemption_rate,
                before.redemption_rate,
                _(
                    "Points redeemed ÷ points issued, from the start of the program to the end of "
                    "the period."
                ),
                note,
            ),
            _tile(
                "breakage-rate",
                _("Breakage rate"),
                RATE,
                now.breakage_rate,
                before.breakage_rate,
                _(
                    "Points expired ÷ points issued, from the start of the program to the end of "
                    "the period."
                ),
                note,
                better="",
            ),
            _tile(
                "liability",
                _("Points liability"),
                MONEY,
                now.liability,
                before.liability,
                _(
                    "Outstanding points × the value of a point × (1 - expected breakage): what "
                    "finance books for the points not yet used (IFRS 15). Expected breakage is "
                    "the share of points that left balances by expiring, not by being redeemed."
                ),
                breakage,
                better="",
            ),
        ],
    )


def feedback_tiles(period: Period, scope: Scope) -> TileGroup:
    """NPS and CSAT of the period and the one before, at the chosen store
    (answers are not sliced by tier or segment: the tiles say so)."""
    feedback = kpi_compare(feedback_kpi, period=period, scope=scope)
    sliced = _("Every member's answers: not by tier or segment.") if scope.filters_members else ""
    tiles = []
    for key, label, kind, now, before, definition in (
        (
            "nps",
            _("NPS"),
            SCORE,
            feedback.current.nps,
            feedback.previous.nps,
            _(
                "Of the NPS answers in the period: the percentage of promoters (9 or 10) "
                "minus the percentage of detractors (0 to 6). From -100 to 100; a 0 counts "
                "as a detractor."
            ),
        ),
        (
            "csat",
            _("CSAT"),
            RATE,
            feedback.current.csat,
            feedback.previous.csat,
            _("Of the CSAT answers in the period: the share that are 4 or 5 (satisfied)."),
        ),
    ):
        answers = ngettext("%(count)s answer", "%(count)s answers", now.responses) % {
            "count": now.responses
        }
        tiles.append(
            _tile(
                key,
                label,
                kind,
                now.score,
                before.score,
                definition,
                f"{answers} · {sliced}" if sliced else answers,
            )
        )
    return TileGroup(key="feedback", title=_("Feedback"), tiles=tiles)


# --- Charts and tables ---------------------------------------------------------------------------

# Past this many days the activity chart goes by week, past a half year by month.
DAILY_DAYS_MAX = 92
WEEKLY_DAYS_MAX = 183


def activity_step(days: int) -> str:
    if days <= DAILY_DAYS_MAX:
        return "day"
    if days <= WEEKLY_DAYS_MAX:
        return "week"
    return "month"


def _bucket(day: date, step: str) -> date:
    if step == "week":
        return day - timedelta(days=day.weekday())
    if step == "month":
        return day.replace(day=1)
    return day


def activity_table(period: Period, scope: Scope) -> Table:
    """Sales, member sales and new members by day (week, month for long
    periods), every step of the period listed, a step without any a 0. From
    the roll-ups (StoreDay, LedgerDay) and, for a tier or segment, the
    members' joining days."""
    step = activity_step(period.days)
    steps: dict[date, list[Any]] = {}
    day = period.start
    while day <= period.end:
        steps.setdefault(_bucket(day, step), [0, 0, ZERO, 0])
        day += timedelta(days=1)
    store_days = StoreDay.objects.filter(day__gte=period.start, day__lte=period.end)
    if scope.store is not None:
        store_days = store_days.filter(store=scope.store)
    for row in store_days.values("day").annotate(
        n=Sum("sales"), members=Sum("member_sales"), amount=Sum("amount")
    ):
        cells = steps[_bucket(row["day"], step)]
        cells[0] += row["n"] or 0
        cells[1] += row["members"] or 0
        cells[2] += row["amount"] or ZERO
    for joined, count in _joined_by_day(period, scope):
        steps[_bucket(joined, step)][3] += count
    label = {"day": _("Day"), "week": _("Week of"), "month": _("Month")}[step]
    return Table(
        key="activity",
        title=_("Members and sales over time"),
        columns=[
            Column(label, MONTH if step == "month" else DAY),
            Column(_("Sales"), COUNT),
            Column(_("Member sales"), COUNT),
            Column(_("Sales amount"), MONEY),
            Column(_("New members"), COUNT),
        ],
        rows=[[start, *cells] for start, cells in sorted(steps.items())],
        plot=(1, 2, 4),
        summary=(
            _("Sales are all the store's sales: a sale keeps no tier or segment.")
            if scope.filters_members
            else ""
        ),
    )


def _joined_by_day(period: Period, scope: Scope) -> list[tuple[date, int]]:
    if not scope.filters_members:
        rows = LedgerDay.objects.filter(day__gte=period.start, day__lte=period.end)
        if scope.store is not None:
            rows = rows.filter(store=scope.store)
        return list(rows.values("day").annotate(n=Sum("members_joined")).values_list("day", "n"))
    lo, hi = day_bounds(period.start, period.end)
    members = scope.members().exclude(status=MemberStatus.DELETED)
    if scope.store is not None:
        members = members.filter(home_store=scope.store)
    counts: dict[date, int] = {}
    for joined in members.filter(joined_at__gte=lo, joined_at__lt=hi).values_list(
        "joined_at", flat=True
    ):
        day = timezone.localtime(joined).date()
        counts[day] = counts.get(day, 0) + 1
    return list(counts.items())


def tiers_table(scope: Scope) -> Table:
    rows = [
        [tier.name or _("No tier"), tier.members, tier.share]
        for tier in tier_distribution(scope=scope)
    ]
    return Table(
        key="tiers",
        title=_("Members by tier"),
        columns=[Column(_("Tier"), TEXT), Column(_("Members"), COUNT), Column(_("Share"), RATE)],
        rows=rows,
        plot=(1,),
        summary=_("Members by the tier they hold now."),
        empty=_("No tier yet."),
    )


def tier_movements_table(period: Period, scope: Scope) -> Table:
    names = {tier.code: str(tier.name) for tier in Tier.objects.all()}
    reasons = dict(TierChange.Reason.choices)
    return Table(
        key="tier-movements",
        title=_("Tier movements"),
        columns=[
            Column(_("From"), TEXT),
            Column(_("To"), TEXT),
            Column(_("Why"), TEXT),
            Column(_("Members"), COUNT),
        ],
        rows=[
            [
                names.get(move.from_code, "—") if move.from_code else "—",
                names.get(move.to_code, "—") if move.to_code else "—",
                str(reasons.get(move.reason, move.reason)),
                move.members,
            ]
            for move in tier_movements(period=period, scope=scope)
        ],
        empty=_("No member changed tier in this period."),
    )


def rewards_table(period: Period, scope: Scope) -> Table:
    return Table(
        key="rewards",
        title=_("Most redeemed rewards"),
        columns=[
            Column(_("Reward"), TEXT),
            Column(_("Quantity"), COUNT),
            Column(_("Redemptions"), COUNT),
            Column(_("Points"), POINTS),
        ],
        rows=[
            [reward.name, reward.quantity, reward.redemptions, reward.points]
            for reward in reward_popularity(period=period, scope=scope)
        ],
        plot=(1,),
        empty=_("No reward redeemed in this period."),
    )


@dataclass(frozen=True)
class CohortLine:
    label: date
    size: int
    cells: list[HeatCell]


def cohort_table(period: Period, scope: Scope) -> tuple[Table, list[CohortLine]]:
    """The cohort heat map: members by join month, and the share of them who
    bought in each month since (month 0: the month they joined)."""
    matrix = cohort_retention(period=period, scope=scope)
    width = len(matrix.months)
    rows, lines = [], []
    for row in matrix.rows:
        rates = list(row.rates) + [None] * (width - len(row.rates))
        rows.append([row.cohort, row.size, *rates])
        lines.append(CohortLine(label=row.cohort, size=row.size, cells=heat_cells(rates)))
    table = Table(
        key="cohorts",
        title=_("Cohort retention"),
        columns=[
            Column(_("Joined in"), MONTH),
            Column(_("Members"), COUNT),
            *[Column(_("Month %(number)s") % {"number": index}, RATE) for index in range(width)],
        ],
        rows=rows,
        summary=_(
            "Members by the month they joined, and the share of them who bought in each month "
            "since (month 0: the month they joined). The darker the cell, the more came back."
        ),
        empty=_("No member joined in these months yet."),
    )
    return table, lines


def referrals_table(period: Period, scope: Scope) -> Table:
    funnel = referral_kpi(period=period, scope=scope)
    return Table(
        key="referrals",
        title=_("Referrals"),
        columns=[
            Column(_("Members"), TEXT),
            Column(_("Count"), COUNT),
            Column(_("Historical CLV"), MONEY),
            Column(_("Churn rate"), RATE),
        ],
        rows=[
            [_("Friends who joined with a code in the period"), funnel.joined, None, None],
            [_("… of whom qualified"), funnel.qualified, None, None],
            [_("… of whom were rewarded"), funnel.rewarded, None, None],
            [_("… rejected"), funnel.rejected, None, None],
            [
                _("Members who joined by a referral"),
                funnel.referred.members,
                funnel.referred.clv,
                funnel.referred.churn_rate,
            ],
            [
                _("Other members"),
                funnel.others.members,
                funnel.others.clv,
                funnel.others.churn_rate,
            ],
        ],
        summary=_(
            "The referral funnel of the period, and members who joined by a referral against "
            "the others: historical CLV and churn rate."
        ),
    )


CAMPAIGNS_MAX = 20


def campaigns_table(period: Period) -> Table:
    """The campaigns that ran in the period (at most CAMPAIGNS_MAX, the latest
    first): what they gave and their lift against their hold-out."""
    lo, hi = day_bounds(period.start, period.end)
    campaigns = (
        Campaign.objects.filter(starts_at__lt=hi)
        .filter(Q(ends_at__isnull=True) | Q(ends_at__gte=lo))
        .exclude(status=CampaignStatus.DRAFT)
        .order_by("-starts_at", "-pk")[:CAMPAIGNS_MAX]
    )
    as_of = min(hi, timezone.now())
    rows = []
    for campaign in campaigns:
        result = campaign_results(campaign=campaign, as_of=as_of)
        lift = result.lift
        rows.append(
            [
                result.name,
                result.points,
                result.cost,
                result.members_reached,
                lift.audience,
                lift.control,
                lift.audience_revenue,
                lift.control_revenue,
                lift.difference,
                lift.low if lift.enough_data else None,
                lift.high if lift.enough_data else None,
                "" if lift.enough_data else _("Not enough data yet"),
            ]
        )
    return Table(
        key="campaigns",
        title=_("Campaign results"),
        columns=[
            Column(_("Campaign"), TEXT),
            Column(_("Points"), POINTS),
            Column(_("Cost"), MONEY),
            Column(_("Members reached"), COUNT),
            Column(_("Audience"), COUNT),
            Column(_("Hold-out"), COUNT),
            Column(_("Revenue per member, audience"), MONEY),
            Column(_("Revenue per member, hold-out"), MONEY),
            Column(_("Lift"), MONEY),
            Column(_("Lift, lower bound"), MONEY),
            Column(_("Lift, upper bound"), MONEY),
            Column(_("Note"), TEXT),
        ],
        rows=rows,
        summary=_(
            "Lift: revenue per member of those the campaign reached against its hold-out group, "
            "over the campaign's months, with its 95 %% interval (lower and upper bound) once "
            "both groups have at least %(minimum)s members."
        )
        % {"minimum": LIFT_MIN_GROUP},
        empty=_("No campaign ran in this period."),
    )


def challenges_table(period: Period, scope: Scope) -> Table:
    return Table(
        key="challenges",
        title=_("Challenge participation"),
        columns=[
            Column(_("Challenge"), TEXT),
            Column(_("Participants"), COUNT),
            Column(_("Completed"), COUNT),
            Column(_("Completion rate"), RATE),
        ],
        rows=[
            [one.name, one.participants, one.completed, one.completion_rate]
            for one in challenge_participation(period=period, scope=scope)
        ],
        empty=_("No challenge ran in this period."),
    )


def feedback_table(period: Period, scope: Scope) -> Table:
    """NPS and CSAT by week (by month past half a year) with their answers."""
    step = "month" if period.days > WEEKLY_DAYS_MAX else "week"
    trends = feedback_trends(period=period, scope=scope, by=step)
    by_start: dict[date, dict[str, FeedbackFigure]] = {}
    for kind, points in trends.items():
        for point in points:
            by_start.setdefault(point.start, {})[kind] = point.figure
    rows = []
    for start in sorted(by_start):
        nps = by_start[start].get(SurveyKind.NPS, FeedbackFigure(kind=SurveyKind.NPS))
        csat = by_start[start].get(SurveyKind.CSAT, FeedbackFigure(kind=SurveyKind.CSAT))
        rows.append([start, nps.score, nps.responses, csat.score, csat.responses])
    monthly = step == "month"
    return Table(
        key="feedback",
        title=_("NPS and CSAT by month") if monthly else _("NPS and CSAT by week"),
        columns=[
            Column(_("Month") if monthly else _("Week of"), MONTH if monthly else DAY),
            Column(_("NPS"), SCORE),
            Column(_("NPS answers"), COUNT),
            Column(_("CSAT"), RATE),
            Column(_("CSAT answers"), COUNT),
        ],
        rows=rows,
        empty=_("No answers in this period."),
    )


# --- The page ------------------------------------------------------------------------------------

TABLES = (
    "activity",
    "tiers",
    "rewards",
    "cohorts",
    "tier-movements",
    "referrals",
    "campaigns",
    "challenges",
    "feedback",
)


def dashboard_scope(choice: DashboardFilter) -> tuple[Period, Scope]:
    return (
        Period(choice.start, choice.end),
        Scope(store=choice.store, tier=choice.tier, segment=choice.segment),
    )


def dashboard_overview(*, choice: DashboardFilter, only: str | None = None) -> Overview:
    """The dashboard of `choice`: its tiles, charts and tables. With `only`
    (a table's key, for its CSV) just that table is worked out."""
    period, scope = dashboard_scope(choice)
    previous = period.previous()
    overview = Overview(choice=choice, previous_start=previous.start, previous_end=previous.end)
    overview.rolled_up_at = rollups_ran_at()
    if only in (None, "kpis"):
        overview.groups = [
            member_tiles(period, scope),
            sales_tiles(period, scope),
            points_tiles(period, scope),
            feedback_tiles(period, scope),
        ]

    def wanted(key: str) -> bool:
        return only is None or only == key

    if wanted("activity"):
        overview.charts.append((activity_table(period, scope), "line"))
    if wanted("tiers"):
        overview.charts.append((tiers_table(scope), "hbar"))
    if wanted("rewards"):
        overview.charts.append((rewards_table(period, scope), "hbar"))
    if wanted("cohorts"):
        overview.cohorts, overview.cohort_rows = cohort_table(period, scope)
    builders = {
        "tier-movements": lambda: tier_movements_table(period, scope),
        "referrals": lambda: referrals_table(period, scope),
        "campaigns": lambda: campaigns_table(period),
        "challenges": lambda: challenges_table(period, scope),
        "feedback": lambda: feedback_table(period, scope),
    }
    for key, build in builders.items():
        if wanted(key):
            overview.tables.append(build())
    return overview


DASHBOARD_CACHE_SECONDS = 300


def dashboard_overview_cached(*, choice: DashboardFilter, only: str | None = None) -> Overview:
    """`dashboard_overview`, kept in the cache (as GET /analytics/summary is)
    under the roll-ups' last run and the language it was written in: a run
    of the `rollups` job makes the next page fresh; the figures read live
    (NPS and CSAT, tiers now) are at most DASHBOARD_CACHE_SECONDS old."""
    ran_at = rollups_ran_at()
    key = ":".join(
        str(part)
        for part in (
            "analytics-dashboard",
            get_language(),
            choice.start,
            choice.end,
            choice.store.pk if choice.store else "-",
            choice.tier.pk if choice.tier else "-",
            choice.segment.pk if choice.segment else "-",
            only or "*",
            ran_at.timestamp() if ran_at is not None else 0,
        )
    )
    overview = cache.get(key)
    if overview is None:
        overview = dashboard_overview(choice=choice, only=only)
        cache.set(key, overview, DASHBOARD_CACHE_SECONDS)
    # The filter as asked (its preset), whatever request filled the cache.
    overview.choice = choice
    return overview


def rollups_ran_at() -> datetime | None:
    """When the roll-ups were last brought up to date (the `rollups` job)."""
    return RollupState.objects.values_list("ran_at", flat=True).first()


# --- A store's day -------------------------------------------------------------------------------


@dataclass(frozen=True)
class StoreDayFigures:
    """A store's day for its staff, from the roll-ups: its sales (members'
    share), the points its sales earned and took at the till, and the
    rewards redeemed there."""

    store: Store
    day: date
    sales: SalesFigures
    points_earned: int
    points_paid: int
    redemptions: int
    rolled_up_at: datetime | None


def store_day(*, store: Store, day: date) -> StoreDayFigures:
    period = Period(day, day)
    scope = Scope(store=store)
    points = StoreDay.objects.filter(day=day, store=store).aggregate(
        earned=Coalesce(Sum("points_earned"), 0), paid=Coalesce(Sum("points_paid"), 0)
    )
    lo, hi = day_bounds(day, day)
    # Completed redemptions at the store, as the rewards KPI counts them.
    redemptions = Redemption.objects.filter(
        store=store, created_at__gte=lo, created_at__lt=hi, status=RedemptionStatus.COMPLETED
    ).count()
    return StoreDayFigures(
        store=store,
        day=day,
        sales=sales_kpi(period=period, scope=scope),
        points_earned=points["earned"],
        points_paid=points["paid"],
        redemptions=redemptions,
        rolled_up_at=rollups_ran_at(),
    )
