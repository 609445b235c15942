"""The earning rules engine: pure functions, no database (DESIGN.md §5).

In: a context (a sale, a custom event, or a member's own moment: enrolment,
birthday, anniversary) and snapshots of the campaigns that may apply
(`CampaignSnapshot`, built by campaigns.selectors). Out: an `Evaluation`, the
awards that count and, for every campaign that gave nothing, the reason
(`NotMatched`), plus the campaigns whose hold-out the member is in.

The rules of API.md, in the order they are checked for each campaign:

1. the campaign is live: status scheduled or active (a scheduled campaign
   turns active at `starts_at` when read, campaigns.selectors) and
   `starts_at <= at < ends_at`; else `inactive` or `window`;
2. the store is one of its stores (none: all) → `store`;
3. the member is in its audience: tiers (none: all) → `tier`; segment → `segment`;
4. the member is not in its hold-out: a stable hash of (member, campaign)
   modulo 100 below `holdout_percent` → `holdout` (reported in `holdouts`,
   the control group);
5. the kind's own conditions: days of week → `days`, hours → `hours`,
   `min_spend` → `min_spend`, `first_purchase_only` → `first_purchase`, SKU or
   category filter → `no_matching_line`, event name → `other_event`; an award
   that comes to 0 points → `no_points`;
6. what is left of its budget and of the member's cap, when given
   (`limits_left`) → `budget` or `cap`: an award is cut to what is left;
7. stacking: every stackable award adds; of the non-stackable ones only the
   largest counts (ties: higher priority, then the older campaign) and the
   others are `superseded`.

Awards are never negative and never above `POINTS_MAX`. `at` is an aware
datetime in the program's time zone: days of week (0 = Monday) and hours are
read from it as they are.
"""

from __future__ import annotations

import hashlib
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass, field
from datetime import date, datetime, time
from decimal import ROUND_DOWN, Decimal

from loyalty.limits import POINTS_MAX

# Reasons a campaign gave nothing (NotMatched.reason); campaigns.reasons has
# the sentences people read.
INACTIVE = "inactive"
WINDOW = "window"
STORE = "store"
TIER = "tier"
SEGMENT = "segment"
HOLDOUT = "holdout"
DAYS = "days"
HOURS = "hours"
MIN_SPEND = "min_spend"
FIRST_PURCHASE = "first_purchase"
NO_MATCHING_LINE = "no_matching_line"
OTHER_EVENT = "other_event"
NO_POINTS = "no_points"
BUDGET = "budget"
CAP = "cap"
SUPERSEDED = "superseded"

REASONS = (
    INACTIVE,
    WINDOW,
    STORE,
    TIER,
    SEGMENT,
    HOLDOUT,
    DAYS,
    HOURS,
    MIN_SPEND,
    FIRST_PURCHASE,
    NO_MATCHING_LINE,
    OTHER_EVENT,
    NO_POINTS,
    BUDGET,
    CAP,
    SUPERSEDED,
)

LIVE_STATUSES = ("scheduled", "active")


# --- Params, one dataclass per kind (parsed and checked by campaigns.params) ---------------


@dataclass(frozen=True)
class Hours:
    """From `start` (included) to `end` (excluded); an end at or before the
    start runs past midnight (22:00–02:00)."""

    start: time
    end: time

    def contain(self, moment: time) -> bool:
        if self.start < self.end:
            return self.start <= moment < self.end
        return moment >= self.start or moment < self.end


@dataclass(frozen=True)
class LineFilter:
    """Lines whose SKU or category is listed; both empty: every line."""

    skus: frozenset[str] = frozenset()
    categories: frozenset[str] = frozenset()  # casefolded

    @property
    def is_open(self) -> bool:
        return not self.skus and not self.categories

    def match(self, line: SaleLine) -> bool:
        return self.is_open or line.sku in self.skus or line.category.casefold() in self.categories


@dataclass(frozen=True)
class MultiplierParams:
    factor: Decimal
    days_of_week: frozenset[int] | None = None
    hours: Hours | None = None
    min_spend: Decimal = Decimal("0.00")
    lines: LineFilter = field(default_factory=LineFilter)


@dataclass(frozen=True)
class CategoryBonusParams:
    points: int
    per_amount: Decimal
    lines: LineFilter = field(default_factory=LineFilter)


@dataclass(frozen=True)
class SpendBonusParams:
    min_spend: Decimal
    points: int
    first_purchase_only: bool = False


@dataclass(frozen=True)
class EventParams:
    event: str  # casefolded
    points: int


@dataclass(frozen=True)
class PointsParams:
    """signup and anniversary: a fixed number of points."""

    points: int


@dataclass(frozen=True)
class BirthdayParams:
    points: int
    when: str  # "day" | "month"


@dataclass(frozen=True)
class ReferralParams:
    referrer_points: int
    friend_points: int
    min_spend: Decimal
    within_days: int
    monthly_cap: int | None = None


Params = (
    MultiplierParams
    | CategoryBonusParams
    | SpendBonusParams
    | EventParams
    | PointsParams
    | BirthdayParams
    | ReferralParams
)


# --- Inputs -----------------------------------------------------------------------------


@dataclass(frozen=True)
class CampaignSnapshot:
    """A campaign as the engine sees it: plain values, no model."""

    id: int
    name: str
    kind: str
    status: str
    starts_at: datetime
    ends_at: datetime | None
    params: Params
    tier_codes: frozenset[str] = frozenset()
    segment_id: int | None = None
    store_codes: frozenset[str] = frozenset()
    budget_points: int | None = None
    per_member_cap: int | None = None
    cap_period: str = "campaign"
    stackable: bool = True
    priority: int = 0
    holdout_percent: int = 0
    created_at: datetime | None = None

    @property
    def limited(self) -> bool:
        """True when awarding from it writes a row (budget or cap)."""
        return self.budget_points is not None or self.per_member_cap is not None


@dataclass(frozen=True)
class SaleLine:
    sku: str
    category: str
    quantity: int
    net_amount: Decimal  # after the till's and the vouchers' discounts
    earns: bool
    points: int  # the line's base points after the tier multiplier


@dataclass(frozen=True)
class Audience:
    """Who the member is, for the audience rules."""

    member_id: int
    tier_code: str | None = None
    segment_ids: frozenset[int] = frozenset()


@dataclass(frozen=True)
class SaleContext:
    member: Audience
    store_code: str
    at: datetime  # aware, in the program's time zone
    lines: tuple[SaleLine, ...]
    eligible_amount: Decimal
    points: int  # the sale's base points after the tier multiplier (base + tier)
    first_purchase: bool = False


@dataclass(frozen=True)
class EventContext:
    member: Audience
    event: str
    at: datetime
    store_code: str | None = None


@dataclass(frozen=True)
class MemberContext:
    """Enrolment, a birthday, an anniversary: the member alone."""

    member: Audience
    at: datetime
    store_code: str | None = None


# --- Outputs ----------------------------------------------------------------------------


@dataclass(frozen=True)
class CampaignAward:
    campaign_id: int
    points: int
    label: str  # the campaign's name

    @property
    def source(self) -> str:
        return f"campaign:{self.campaign_id}"


@dataclass(frozen=True)
class NotMatched:
    campaign_id: int
    reason: str


@dataclass(frozen=True)
class Evaluation:
    """`candidates`: every award the campaigns' rules give, before limits and
    stacking (what campaigns.services.campaign_awards_reserve cuts); `awards`:
    those that count once limits (if given) and stacking apply."""

    awards: tuple[CampaignAward, ...] = ()
    not_matched: tuple[NotMatched, ...] = ()
    holdouts: tuple[int, ...] = ()
    candidates: tuple[CampaignAward, ...] = ()

    @property
    def points(self) -> int:
        return sum(award.points for award in self.awards)


@dataclass(frozen=True)
class LimitLeft:
    """What a campaign may still give this member now: the smaller of its
    budget left and the member's cap left, and which of them it is."""

    points: int
    reason: str  # BUDGET or CAP


# --- Rules ------------------------------------------------------------------------------


def floor_points(value: Decimal) -> int:
    return int(value.to_integral_value(rounding=ROUND_DOWN))


def in_holdout(*, member_id: int, campaign_id: int, holdout_percent: int) -> bool:
    """Stable per member and campaign: the same member is on the same side at
    every sale, and different campaigns draw different members."""
    if holdout_percent <= 0:
        return False
    digest = hashlib.sha256(f"setia-holdout:{campaign_id}:{member_id}".encode()).digest()
    return int.from_bytes(digest[:8], "big") % 100 < holdout_percent


def cap_period_key(period: str, moment: date | datetime) -> str:
    """The cap counter's key of `moment` (local): the day, ISO week, month, or
    the whole campaign."""
    day = moment.date() if isinstance(moment, datetime) else moment
    if period == "day":
        return day.isoformat()
    if period == "week":
        year, week, _ = day.isocalendar()
        return f"{year}-W{week:02d}"
    if period == "month":
        return f"{day.year}-{day.month:02d}"
    return "campaign"


def _common_reason(
    campaign: CampaignSnapshot, member: Audience, store_code: str | None, at: datetime
) -> str | None:
    if campaign.status not in LIVE_STATUSES:
        return INACTIVE
    if at < campaign.starts_at or (campaign.ends_at is not None and at >= campaign.ends_at):
        return WINDOW
    if campaign.store_codes and store_code not in campaign.store_codes:
        return STORE
    if campaign.tier_codes and member.tier_code not in campaign.tier_codes:
        return TIER
    if campaign.segment_id is not None and campaign.segment_id not in member.segment_ids:
        return SEGMENT
    return None


def _capped(points: int) -> int:
    return max(0, min(points, POINTS_MAX))


def _multiplier(params: MultiplierParams, sale: SaleContext) -> tuple[int, str | None]:
    if params.days_of_week is not None and sale.at.weekday() not in params.days_of_week:
        return 0, DAYS
    if params.hours is not None and not params.hours.contain(sale.at.time()):
        return 0, HOURS
    if sale.eligible_amount < params.min_spend:
        return 0, MIN_SPEND
    if params.lines.is_open:
        base = sale.points
    else:
        matching = [line for line in sale.lines if line.earns and params.lines.match(line)]
        if not matching:
            return 0, NO_MATCHING_LINE
        base = sum(line.points for line in matching)
    return floor_points(Decimal(max(base, 0)) * (params.factor - 1)), None


def _category_bonus(params: CategoryBonusParams, sale: SaleContext) -> tuple[int, str | None]:
    matching = [line for line in sale.lines if line.earns and params.lines.match(line)]
    if not matching:
        return 0, NO_MATCHING_LINE
    amount = sum((line.net_amount for line in matching), Decimal("0.00"))
    if amount <= 0:
        return 0, NO_POINTS
    return floor_points(amount / params.per_amount) * params.points, None


def _spend_bonus(params: SpendBonusParams, sale: SaleContext) -> tuple[int, str | None]:
    if params.first_purchase_only and not sale.first_purchase:
        return 0, FIRST_PURCHASE
    if sale.eligible_amount < params.min_spend:
        return 0, MIN_SPEND
    return params.points, None


SALE_RULES = {
    "multiplier": _multiplier,
    "category_bonus": _category_bonus,
    "spend_bonus": _spend_bonus,
}


def resolve(
    campaigns: Iterable[CampaignSnapshot],
    candidates: Iterable[CampaignAward],
    limits_left: Mapping[int, LimitLeft] | None = None,
) -> tuple[tuple[CampaignAward, ...], tuple[NotMatched, ...]]:
    """Steps 6 and 7: cut each candidate to its limit left, then stack. The
    result does not depend on the order of `candidates`."""
    by_id = {campaign.id: campaign for campaign in campaigns}
    limits_left = limits_left or {}
    not_matched: list[NotMatched] = []
    kept: list[CampaignAward] = []
    for award in candidates:
        left = limits_left.get(award.campaign_id)
        points = award.points
        if left is not None and points > left.points:
            points = max(0, left.points)
            if points == 0:
                not_matched.append(NotMatched(award.campaign_id, left.reason))
                continue
        kept.append(CampaignAward(award.campaign_id, points, award.label))
    stackable = [a for a in kept if by_id[a.campaign_id].stackable]
    exclusive = [a for a in kept if not by_id[a.campaign_id].stackable]
    if exclusive:

        def rank(award: CampaignAward) -> tuple:
            campaign = by_id[award.campaign_id]
            created = campaign.created_at.timestamp() if campaign.created_at else 0.0
            return (-award.points, -campaign.priority, created, campaign.id)

        exclusive.sort(key=rank)
        stackable.append(exclusive[0])
        not_matched += [NotMatched(a.campaign_id, SUPERSEDED) for a in exclusive[1:]]
    stackable.sort(key=lambda a: a.campaign_id)
    not_matched.sort(key=lambda n: n.campaign_id)
    return tuple(stackable), tuple(not_matched)


def _evaluate(
    campaigns: Iterable[CampaignSnapshot],
    member: Audience,
    store_code: str | None,
    at: datetime,
    kinds: Iterable[str],
    rule: Callable[[CampaignSnapshot], tuple[int, str | None]],
    limits_left: Mapping[int, LimitLeft] | None,
) -> Evaluation:
    wanted_kinds = set(kinds)
    considered = [c for c in campaigns if c.kind in wanted_kinds]
    not_matched: list[NotMatched] = []
    holdouts: list[int] = []
    candidates: list[CampaignAward] = []
    for campaign in considered:
        reason = _common_reason(campaign, member, store_code, at)
        if reason is None and in_holdout(
            member_id=member.member_id,
            campaign_id=campaign.id,
            holdout_percent=campaign.holdout_percent,
        ):
            holdouts.append(campaign.id)
            reason = HOLDOUT
        points = 0
        if reason is None:
            points, reason = rule(campaign)
            points = _capped(points)
            if reason is None and points == 0:
                reason = NO_POINTS
        if reason is not None:
            not_matched.append(NotMatched(campaign.id, reason))
            continue
        candidates.append(CampaignAward(campaign.id, points, campaign.name))
    awards, dropped = resolve(considered, candidates, limits_left)
    return Evaluation(
        awards=awards,
        not_matched=tuple(sorted(not_matched + list(dropped), key=lambda n: n.campaign_id)),
        holdouts=tuple(sorted(holdouts)),
        candidates=tuple(sorted(candidates, key=lambda a: a.campaign_id)),
    )


def sale_evaluate(
    sale: SaleContext,
    campaigns: Iterable[CampaignSnapshot],
    *,
    limits_left: Mapping[int, LimitLeft] | None = None,
) -> Evaluation:
    """The awards of a sale's campaigns (multiplier, category bonus, spend
    bonus); other kinds are ignored."""
    return _evaluate(
        campaigns,
        sale.member,
        sale.store_code,
        sale.at,
        SALE_RULES,
        lambda campaign: SALE_RULES[campaign.kind](campaign.params, sale),
        limits_left,
    )


def event_evaluate(
    event: EventContext,
    campaigns: Iterable[CampaignSnapshot],
    *,
    limits_left: Mapping[int, LimitLeft] | None = None,
) -> Evaluation:
    """The awards of a custom event (`POST /events`): the event campaigns
    whose event name is this one (case does not matter)."""
    name = event.event.strip().casefold()

    def rule(campaign: CampaignSnapshot) -> tuple[int, str | None]:
        params: EventParams = campaign.params  # type: ignore[assignment]
        return (params.points, None) if params.event == name else (0, OTHER_EVENT)

    return _evaluate(
        campaigns, event.member, event.store_code, event.at, ["event"], rule, limits_left
    )


def member_evaluate(
    moment: MemberContext,
    campaigns: Iterable[CampaignSnapshot],
    *,
    kind: str,
    limits_left: Mapping[int, LimitLeft] | None = None,
) -> Evaluation:
    """The awards of the member's own moment: `kind` "signup" (on enrolment),
    "birthday" or "anniversary" (their jobs decide when it is the day)."""
    if kind not in ("signup", "birthday", "anniversary"):
        raise ValueError(f"not a member moment: {kind}")
    return _evaluate(
        campaigns,
        moment.member,
        moment.store_code,
        moment.at,
        [kind],
        lambda campaign: (campaign.params.points, None),
        limits_left,
    )
