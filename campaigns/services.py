"""Every write about campaigns: the marketers' (create, edit, status changes,
duplicate; audited) and the flows' (what a sale or an event uses of a
campaign's budget and of a member's cap; the hold-out's control group).

Budget and caps are never exceeded, also under concurrent sales
(`campaign_awards_reserve`): the caller holds the member's points-account lock,
which serialises one member's awards (so the member's cap counters are read and
written without a race), and the service locks the budget rows of the
campaigns it awards from, last in the global lock order (campaigns.locks), so
two sales drawing from one budget take turns and the second sees what the
first used. A CHECK constraint (`budget_used <= budget_points`) is the last
guard.
"""

from __future__ import annotations

from collections.abc import Iterable
from datetime import datetime
from typing import Any

from django.db import transaction
from django.db.models import Q
from django.utils import timezone
from django.utils.translation import gettext as _

from campaigns import engine, locks
from campaigns.engine import BUDGET, CAP, SUPERSEDED, CampaignSnapshot, Evaluation, LimitLeft
from campaigns.errors import CampaignStatusRefused
from campaigns.models import (
    Campaign,
    CampaignHoldout,
    CampaignKind,
    CampaignMemberUse,
    CampaignStatus,
)
from campaigns.params import params_clean
from campaigns.selectors import campaign_status
from loyalty.actors import Actor
from loyalty.errors import ValidationFailed
from loyalty.models import Store
from loyalty.services import audit_record, model_validate, snapshot
from members.models import Tier

CAMPAIGN_FIELDS = (
    "name",
    "kind",
    "starts_at",
    "ends_at",
    "segment_id",
    "budget_points",
    "per_member_cap",
    "cap_period",
    "stackable",
    "priority",
    "holdout_percent",
    "params",
)
LIVE = (CampaignStatus.SCHEDULED, CampaignStatus.ACTIVE)


# --- The marketers' writes --------------------------------------------------------------------


def _picture(campaign: Campaign) -> dict[str, Any]:
    picture = snapshot(campaign, [*CAMPAIGN_FIELDS, "status", "budget_used"])
    picture["tiers"] = sorted(campaign.tiers.values_list("code", flat=True)) if campaign.pk else []
    picture["stores"] = (
        sorted(campaign.stores.values_list("code", flat=True)) if campaign.pk else []
    )
    return picture


def _campaign_check(campaign: Campaign) -> None:
    """The model's bounds, the params of its kind, and the rules across fields.
    Writes the params back in their stored form. Raises ValidationFailed."""
    errors: dict[str, list[str]] = {}
    try:
        model_validate(campaign, exclude=["params", "created_by"])
    except ValidationFailed as failed:
        errors.update(failed.fields or {})
    if "kind" not in errors:
        try:
            campaign.params = params_clean(campaign.kind, campaign.params)
        except ValidationFailed as failed:
            errors.update(failed.fields or {})
    if campaign.starts_at and campaign.ends_at and campaign.ends_at <= campaign.starts_at:
        errors.setdefault("ends_at", []).append(_("The end must come after the start."))
    if campaign.kind == CampaignKind.REFERRAL:
        # A referral is promised to both members when the friend joins, and
        # its limit per advocate is the params' monthly cap.
        if campaign.holdout_percent:
            errors.setdefault("holdout_percent", []).append(
                _("A referral campaign has no hold-out: both members are promised their points.")
            )
        if campaign.per_member_cap is not None:
            errors.setdefault("per_member_cap", []).append(
                _("A referral campaign limits each member with its monthly cap of referrals.")
            )
    if campaign.budget_points is not None and campaign.budget_points < campaign.budget_used:
        errors.setdefault("budget_points", []).append(
            _("%(used)s points of the budget are already used: give at least that much.")
            % {"used": campaign.budget_used}
        )
    if errors:
        raise ValidationFailed(fields=errors)


def _status_for_going_live(campaign: Campaign, now: datetime) -> str:
    """Scheduled or active, as its window says. Raises CampaignStatusRefused
    when its window is already over."""
    if campaign.ends_at is not None and campaign.ends_at <= now:
        raise CampaignStatusRefused(
            _("Its end date has passed: move the end date first."), fields=None
        )
    return CampaignStatus.ACTIVE if campaign.starts_at <= now else CampaignStatus.SCHEDULED


# What each status may turn into (the effective status, selectors.campaign_status).
TRANSITIONS: dict[str, tuple[str, ...]] = {
    CampaignStatus.DRAFT: (CampaignStatus.SCHEDULED, CampaignStatus.ACTIVE, CampaignStatus.ENDED),
    CampaignStatus.SCHEDULED: (
        CampaignStatus.DRAFT,
        CampaignStatus.ACTIVE,
        CampaignStatus.PAUSED,
        CampaignStatus.ENDED,
    ),
    CampaignStatus.ACTIVE: (CampaignStatus.PAUSED, CampaignStatus.ENDED),
    CampaignStatus.PAUSED: (CampaignStatus.SCHEDULED, CampaignStatus.ACTIVE, CampaignStatus.ENDED),
    CampaignStatus.ENDED: (),
}


def _status_next(campaign: Campaign, wanted: str, now: datetime) -> str:
    """The status to store when `wanted` is asked. Raises CampaignStatusRefused."""
    current = campaign_status(campaign=campaign, now=now)
    if wanted == current:
        return campaign.status if current != CampaignStatus.ACTIVE else CampaignStatus.ACTIVE
    if wanted not in TRANSITIONS.get(current, ()):
        raise CampaignStatusRefused(
            _("A campaign that is %(current)s cannot become %(wanted)s.")
            % {
                "current": CampaignStatus(current).label.lower(),
                "wanted": CampaignStatus(wanted).label.lower(),
            }
        )
    if wanted in LIVE:
        going = _status_for_going_live(campaign, now)
        if wanted == CampaignStatus.ACTIVE and going == CampaignStatus.SCHEDULED:
            raise CampaignStatusRefused(
                _("It starts later: schedule it, it turns active at its start.")
            )
        return going
    return wanted


@transaction.atomic
def campaign_create(
    *,
    actor: Actor,
    tiers: Iterable[Tier] = (),
    stores: Iterable[Store] = (),
    status: str = CampaignStatus.DRAFT,
    now: datetime | None = None,
    **fields: Any,
) -> Campaign:
    """A new campaign, a draft unless `status` says otherwise (scheduled and
    active are stored as its window says). Raises ValidationFailed,
    CampaignStatusRefused."""
    unknown = set(fields) - set(CAMPAIGN_FIELDS)
    if unknown:
        raise TypeError(f"unknown campaign fields: {sorted(unknown)}")
    now = now or timezone.now()
    fields.setdefault("starts_at", now)
    campaign = Campaign(**fields, created_by=actor.user)
    _campaign_check(campaign)
    if status != CampaignStatus.DRAFT:
        campaign.status = _status_next(campaign, status, now)
    campaign.save()
    campaign.tiers.set(list(tiers))
    campaign.stores.set(list(stores))
    audit_record(actor=actor, action="campaign.create", obj=campaign, after=_picture(campaign))
    return campaign


@transaction.atomic
def campaign_update(
    *,
    actor: Actor,
    campaign: Campaign,
    tiers: Iterable[Tier] | None = None,
    stores: Iterable[Store] | None = None,
    status: str | None = None,
    now: datetime | None = None,
    **changes: Any,
) -> Campaign:
    """Change a campaign; `tiers` / `stores` None leave them alone. An ended
    campaign cannot change; the kind can change only while it is a draft;
    awards already made stay. Raises ValidationFailed, CampaignStatusRefused."""
    unknown = set(changes) - set(CAMPAIGN_FIELDS)
    if unknown:
        raise TypeError(f"unknown campaign fields: {sorted(unknown)}")
    now = now or timezone.now()
    campaign = locks.campaign_lock(campaign_id=campaign.pk)
    before = _picture(campaign)
    current = campaign_status(campaign=campaign, now=now)
    if current == CampaignStatus.ENDED and (changes or tiers is not None or stores is not None):
        raise CampaignStatusRefused(_("An ended campaign cannot change. Duplicate it instead."))
    if "kind" in changes and changes["kind"] != campaign.kind:
        if campaign.status != CampaignStatus.DRAFT:
            raise ValidationFailed(
                fields={"kind": [_("Only a draft can change its kind. Duplicate it instead.")]}
            )
        if "params" not in changes:
            raise ValidationFailed(fields={"params": [_("Give the rule of the new kind.")]})
    for name, value in changes.items():
        setattr(campaign, name, value)
    _campaign_check(campaign)
    if status is not None:
        campaign.status = _status_next(campaign, status, now)
    elif campaign.status in LIVE and changes.keys() & {"starts_at", "ends_at"}:
        # A live campaign whose window moved stays live, scheduled or active as
        # the new window says; one whose end moved into the past ends.
        if campaign.ends_at is not None and campaign.ends_at <= now:
            campaign.status = CampaignStatus.ENDED
        else:
            campaign.status = _status_for_going_live(campaign, now)
    campaign.save()
    if tiers is not None:
        campaign.tiers.set(list(tiers))
    if stores is not None:
        campaign.stores.set(list(stores))
    after = _picture(campaign)
    if after != before:
        action = "campaign.status" if status is not None and not changes else "campaign.update"
        audit_record(actor=actor, action=action, obj=campaign, before=before, after=after)
    return campaign


def campaign_status_set(
    *, actor: Actor, campaign: Campaign, status: str, now: datetime | None = None
) -> Campaign:
    """Pause (paused), resume (scheduled or active: stored as its window says),
    end (ended; for good), or take back to draft a campaign not started yet.
    Raises CampaignStatusRefused for a change that cannot work."""
    return campaign_update(actor=actor, campaign=campaign, status=status, now=now)


@transaction.atomic
def campaign_duplicate(*, actor: Actor, campaign: Campaign) -> Campaign:
    """A draft copy of `campaign` (rule, audience, stores, limits), with
    nothing used and nothing awarded."""
    copy = Campaign(
        **{name: getattr(campaign, name) for name in CAMPAIGN_FIELDS},
        created_by=actor.user,
    )
    copy.name = (_("Copy of %(name)s") % {"name": campaign.name})[:120]
    copy.save()
    copy.tiers.set(list(campaign.tiers.all()))
    copy.stores.set(list(campaign.stores.all()))
    audit_record(
        actor=actor,
        action="campaign.duplicate",
        obj=copy,
        before={"from": campaign.pk},
        after=_picture(copy),
    )
    return copy


def campaigns_status_catch_up(*, now: datetime) -> int:
    """Write the status every campaign has at `now` (selectors.campaign_status):
    scheduled ones that started become active, live ones past their end become
    ended. Two statements; running it twice changes nothing."""
    ended = Campaign.objects.filter(status__in=LIVE, ends_at__lte=now).update(
        status=CampaignStatus.ENDED, updated_at=now
    )
    started = (
        Campaign.objects.filter(status=CampaignStatus.SCHEDULED, starts_at__lte=now)
        .filter(Q(ends_at__isnull=True) | Q(ends_at__gt=now))
        .update(status=CampaignStatus.ACTIVE, updated_at=now)
    )
    return ended + started


# --- The flows' writes: budgets, caps, hold-outs -------------------------------------------------


def campaign_awards_reserve(
    *,
    member_id: int,
    evaluation: Evaluation,
    campaigns: Iterable[CampaignSnapshot],
    at: datetime,
) -> Evaluation:
    """The awards of `evaluation` (from campaigns.engine) cut to what the
    campaigns' budgets and the member's caps leave, stacked again, and recorded
    as used. Returns the final evaluation: its `awards` are what to write to the
    ledger (one entry each); a campaign whose limit is reached is in
    `not_matched` with reason `budget` or `cap`.

    Call it inside the sale's (or the event's) transaction, holding the
    member's points-account lock (members.locks.account_lock): that lock
    serialises the member's cap counters. The budget rows are locked here, last
    in the global lock order. `at` is the award's local time (the cap period).

    Statements: none when no candidate has a budget or a cap; else 2 for the
    budgets (lock, update) and 2 for the caps (read, upsert), whatever the
    number of campaigns. Raises RuntimeError outside a transaction.
    """
    if not transaction.get_connection().in_atomic_block:
        raise RuntimeError("campaign_awards_reserve must run inside the caller's transaction")
    by_id = {campaign.id: campaign for campaign in campaigns}
    candidates = [a for a in evaluation.candidates if a.campaign_id in by_id]
    limited = [by_id[a.campaign_id] for a in candidates if by_id[a.campaign_id].limited]
    if not limited:
        return evaluation
    budgeted = [c.id for c in limited if c.budget_points is not None]
    capped = {c.id: engine.cap_period_key(c.cap_period, at) for c in limited if c.per_member_cap}
    budgets = locks.campaign_budgets_lock(campaign_ids=budgeted) if budgeted else {}
    uses: dict[int, CampaignMemberUse] = {}
    if capped:
        period_match = Q()
        for campaign_id, key in capped.items():
            period_match |= Q(campaign_id=campaign_id, period_key=key)
        uses = {
            use.campaign_id: use
            for use in CampaignMemberUse.objects.filter(period_match, member_id=member_id)
        }
    limits_left: dict[int, LimitLeft] = {}
    for campaign in limited:
        lefts = []
        if campaign.id in budgets and budgets[campaign.id][0] is not None:
            budget, used = budgets[campaign.id]
            lefts.append(LimitLeft(max(0, budget - used), BUDGET))
        if campaign.id in capped:
            got = uses[campaign.id].points if campaign.id in uses else 0
            lefts.append(LimitLeft(max(0, campaign.per_member_cap - got), CAP))
        if lefts:
            limits_left[campaign.id] = min(lefts, key=lambda left: left.points)
    awards, dropped = engine.resolve(by_id.values(), candidates, limits_left)
    awarded = {award.campaign_id: award.points for award in awards}
    spent = {pk: awarded[pk] for pk in budgets if pk in awarded and budgets[pk][0] is not None}
    locks.campaign_budgets_spend(spent=spent)
    rows = [
        CampaignMemberUse(
            campaign_id=pk,
            member_id=member_id,
            period_key=key,
            points=(uses[pk].points if pk in uses else 0) + awarded[pk],
            awards=(uses[pk].awards if pk in uses else 0) + 1,
            updated_at=timezone.now(),
        )
        for pk, key in capped.items()
        if pk in awarded
    ]
    if rows:
        CampaignMemberUse.objects.bulk_create(
            rows,
            update_conflicts=True,
            unique_fields=["campaign", "member", "period_key"],
            update_fields=["points", "awards", "updated_at"],
        )
    kept = [n for n in evaluation.not_matched if n.reason not in (SUPERSEDED, BUDGET, CAP)]
    return Evaluation(
        awards=awards,
        not_matched=tuple(sorted(kept + list(dropped), key=lambda n: n.campaign_id)),
        holdouts=evaluation.holdouts,
        candidates=evaluation.candidates,
    )


def campaign_holdouts_record(*, member_id: int, campaign_ids: Iterable[int]) -> None:
    """Count the member in the control group of each campaign of `campaign_ids`
    (an evaluation's `holdouts`), once: one INSERT … ON CONFLICT DO NOTHING,
    none when the list is empty. Call it in the sale's or event's transaction."""
    ids = sorted(set(campaign_ids))
    if ids:
        CampaignHoldout.objects.bulk_create(
            [CampaignHoldout(campaign_id=pk, member_id=member_id) for pk in ids],
            ignore_conflicts=True,
        )
