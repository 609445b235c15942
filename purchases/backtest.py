"""The back-test of a campaign over recorded purchases (issue 10; API.md
`POST /campaigns/{id}/simulate`): the recorded sales turned into the
campaigns engine's `SaleContext`s by the same function the live sale flow
uses (purchases.quote.campaign_context), then run through the pure
campaigns.simulation.campaign_simulate. Nothing of the sales, the ledger or
the campaign is written; only the back-test's own status row
(CampaignBacktest) and its audit event.

How the past is read (docs/campaigns.md, "Back-tests"):

- the purchases of members whose `occurred_at` is in [from, to), in the
  order they were recorded (by id), returns ignored;
- each with its recorded lines (net of their discount share), eligible
  amount and tier code, and the program's earning rate and the tiers'
  multipliers as they are now (a purchase's base and tier points are
  computed again from them, as the live quote does);
- the member's segment is the segment's membership now; a first purchase is
  the member's first recorded purchase;
- the campaign is run as if it were live over the whole range (its status
  and own window are set aside), with its full budget and its caps counted
  from zero, held-out members getting nothing.

`liability_change`: the points the campaign would have awarded, valued at
the program's `point_value`: what they would have added to the points
liability (outstanding points × point_value) had they been awarded and none
of them spent or expired yet. So it equals `cost` today; it is kept apart
because a later version may net off expiry.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Callable, Iterator
from datetime import date, datetime, time, timedelta
from decimal import Decimal
from typing import Any

from django.db import transaction
from django.db.models import Exists, OuterRef, Prefetch, QuerySet
from django.utils import timezone
from django.utils.translation import gettext as _

from campaigns import engine
from campaigns.models import SALE_KINDS, Campaign, CampaignStatus
from campaigns.selectors import campaign_snapshot
from campaigns.simulation import Simulation, campaign_simulate
from loyalty.actors import Actor
from loyalty.errors import ValidationFailed
from loyalty.models import ProgramSettings
from loyalty.money import CENT
from loyalty.services import audit_record
from members.models import Segment, Tier
from members.segments import segment_members
from purchases.earning import sale_awards
from purchases.models import BacktestStatus, CampaignBacktest, Purchase, PurchaseLine
from purchases.quote import ContextLine, campaign_context

# The longest range a back-test reads.
RANGE_DAYS_MAX = 366
# Above this many purchases in the range the staff page runs it as a task.
INLINE_PURCHASES_MAX = 5000
# A running task writes its progress every this many purchases.
PROGRESS_EVERY = 500
# Purchases read from the database at a time.
CHUNK = 2000


@dataclasses.dataclass(frozen=True)
class BacktestRange:
    starts_at: datetime  # included
    ends_at: datetime  # excluded


def _moment(value: date | datetime, *, end: bool) -> datetime:
    """A datetime as given (naive: the program's time zone); a date: the start
    of that day, or for the end the start of the next (the day included)."""
    if isinstance(value, datetime):
        return value if timezone.is_aware(value) else timezone.make_aware(value)
    day = value + timedelta(days=1) if end else value
    return timezone.make_aware(datetime.combine(day, time.min))


def backtest_range(*, start: date | datetime | None, end: date | datetime | None) -> BacktestRange:
    """The range of a back-test. Raises ValidationFailed when a bound is
    missing, `to` is not after `from`, or the range is longer than
    RANGE_DAYS_MAX days."""
    errors: dict[str, list[str]] = {}
    if start is None:
        errors["from"] = [_("This field is required.")]
    if end is None:
        errors["to"] = [_("This field is required.")]
    if errors:
        raise ValidationFailed(fields=errors)
    assert start is not None and end is not None
    starts_at, ends_at = _moment(start, end=False), _moment(end, end=True)
    if ends_at <= starts_at:
        raise ValidationFailed(fields={"to": [_("The end must be after the start.")]})
    if ends_at - starts_at > timedelta(days=RANGE_DAYS_MAX):
        raise ValidationFailed(
            fields={
                "to": [_("A back-test covers at most %(days)d days.") % {"days": RANGE_DAYS_MAX}]
            }
        )
    return BacktestRange(starts_at, ends_at)


def backtest_check(campaign: Campaign) -> None:
    """Raises ValidationFailed when the campaign does not award on sales."""
    if campaign.kind not in SALE_KINDS:
        raise ValidationFailed(
            _("Only campaigns that award on purchases can be back-tested."),
            fields={"campaign": [_("Only campaigns that award on purchases can be back-tested.")]},
        )


def _purchases(window: BacktestRange, *, first_purchase: bool) -> QuerySet[Purchase]:
    purchases = Purchase.objects.filter(
        member__isnull=False,
        occurred_at__gte=window.starts_at,
        occurred_at__lt=window.ends_at,
    ).order_by("pk")
    if first_purchase:
        earlier = Purchase.objects.filter(member_id=OuterRef("member_id"), pk__lt=OuterRef("pk"))
        purchases = purchases.annotate(had_earlier=Exists(earlier))
    return purchases


def backtest_purchase_count(window: BacktestRange) -> int:
    return _purchases(window, first_purchase=False).count()


def recorded_sales(
    *,
    campaign: engine.CampaignSnapshot,
    window: BacktestRange,
    program: ProgramSettings,
    progress: Callable[[int], None] | None = None,
) -> Iterator[engine.SaleContext]:
    """The recorded purchases of members in `window`, in recorded order, as
    the engine's sale contexts: statements for the tiers, the campaign's
    segment's members (when it has one), then the purchases with their store
    and their lines, CHUNK at a time (.iterator with a prefetch), whatever
    their number. `progress(done)` is called every PROGRESS_EVERY purchases."""
    multipliers = dict(Tier.objects.values_list("code", "multiplier"))
    in_segment: set[int] = set()
    if campaign.segment_id is not None:
        segment = Segment.objects.filter(pk=campaign.segment_id).first()
        if segment is not None:
            in_segment = set(segment_members(segment).values_list("pk", flat=True))
    wants_first = bool(getattr(campaign.params, "first_purchase_only", False))
    purchases = (
        _purchases(window, first_purchase=wants_first)
        .select_related("store")
        .only("pk", "member_id", "occurred_at", "eligible_amount", "tier_code", "store__code")
        .prefetch_related(
            Prefetch(
                "lines",
                queryset=PurchaseLine.objects.only(
                    "purchase_id",
                    "sku",
                    "category",
                    "quantity",
                    "unit_price",
                    "earns",
                    "discount_share",
                ).order_by("pk"),
            )
        )
    )
    for done, purchase in enumerate(purchases.iterator(chunk_size=CHUNK), start=1):
        lines = [
            ContextLine(line.sku, line.category, line.quantity, line.net, line.earns)
            for line in purchase.lines.all()
        ]
        earning_net = sum((line.net for line in lines if line.earns), Decimal("0.00"))
        tier_code = purchase.tier_code or None
        multiplier = multipliers.get(tier_code, Decimal("1")) if tier_code else Decimal("1")
        awards = sale_awards(
            eligible_amount=purchase.eligible_amount,
            earn_points=program.earn_points,
            earn_per_amount=program.earn_per_amount,
            tier_name=tier_code,
            tier_multiplier=multiplier,
        )
        member_id = purchase.member_id
        assert member_id is not None
        yield campaign_context(
            lines=lines,
            member_id=member_id,
            tier_code=tier_code,
            tier_multiplier=multiplier,
            earn_points=program.earn_points,
            earn_per_amount=program.earn_per_amount,
            eligible=purchase.eligible_amount,
            earning_net=earning_net,
            points=sum(award.points for award in awards),
            segment_ids=(
                frozenset({campaign.segment_id})
                if campaign.segment_id is not None and member_id in in_segment
                else frozenset()
            ),
            first_purchase=wants_first and not purchase.had_earlier,
            at=purchase.occurred_at,
            store_code=purchase.store.code,
        )
        if progress is not None and done % PROGRESS_EVERY == 0:
            progress(done)


def backtest_snapshot(campaign: Campaign, window: BacktestRange) -> engine.CampaignSnapshot:
    """The campaign as if live over the whole range: its status and its own
    window set aside, the rest (audience, stores, hold-out, budget, caps,
    params) as it is."""
    return dataclasses.replace(
        campaign_snapshot(campaign),
        status=CampaignStatus.ACTIVE,
        starts_at=window.starts_at,
        ends_at=window.ends_at,
    )


def simulation_json(simulation: Simulation, *, point_value: Decimal) -> dict[str, Any]:
    """The API's answer (API.md `POST /campaigns/{id}/simulate`)."""
    liability = (Decimal(simulation.points) * point_value).quantize(CENT)
    return {
        "purchases_matched": simulation.purchases_matched,
        "members_reached": simulation.members_reached,
        "points": simulation.points,
        "cost": str(simulation.cost),
        "by_day": [
            {"day": day.day.isoformat(), "purchases": day.purchases, "points": day.points}
            for day in simulation.by_day
        ],
        "liability_change": str(liability),
    }


def campaign_backtest(
    *,
    actor: Actor,
    campaign: Campaign,
    window: BacktestRange,
    program: ProgramSettings,
    run: CampaignBacktest | None = None,
) -> dict[str, Any]:
    """Back-test `campaign` over `window` and return the API's answer; the
    run is audited (`campaign.backtest`). With `run` (a task's status row),
    its progress is written every PROGRESS_EVERY purchases and its result at
    the end. Raises ValidationFailed for a campaign that does not award on
    sales."""
    backtest_check(campaign)
    snapshot = backtest_snapshot(campaign, window)

    def progress(done: int) -> None:
        if run is not None:
            CampaignBacktest.objects.filter(pk=run.pk).update(purchases_done=done)

    simulation = campaign_simulate(
        campaign=snapshot,
        sales=recorded_sales(campaign=snapshot, window=window, program=program, progress=progress),
        point_value=program.point_value,
    )
    result = simulation_json(simulation, point_value=program.point_value)
    with transaction.atomic():
        if run is not None:
            run.status = BacktestStatus.DONE
            run.purchases_done = run.purchases_total
            run.result = result
            run.finished_at = timezone.now()
            run.save(update_fields=["status", "purchases_done", "result", "finished_at"])
        audit_record(
            actor=actor,
            action="campaign.backtest",
            obj=campaign,
            after={
                "from": window.starts_at.isoformat(),
                "to": window.ends_at.isoformat(),
                "run": run.pk if run is not None else None,
                **{k: v for k, v in result.items() if k != "by_day"},
            },
        )
    return result


def backtest_start(*, actor: Actor, campaign: Campaign, window: BacktestRange) -> CampaignBacktest:
    """A status row for a back-test run as a task (purchases.tasks), queued
    on commit. Raises ValidationFailed for a campaign that does not award
    on sales."""
    backtest_check(campaign)
    run = CampaignBacktest.objects.create(
        campaign=campaign,
        starts_at=window.starts_at,
        ends_at=window.ends_at,
        purchases_total=backtest_purchase_count(window),
        created_by=actor.user,
    )
    from purchases.tasks import campaign_backtest_run

    user_id = actor.user.pk if actor.user is not None else None
    transaction.on_commit(lambda: campaign_backtest_run.delay(run.pk, user_id, actor.ip))
    return run
