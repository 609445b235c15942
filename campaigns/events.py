"""Custom events (`POST /events`): something a member did — a review, a
share, an app download, any name a marketer types — recorded, and paid by the
event campaigns that reward it.

`event_record` is all or nothing, in one transaction:

1. check the input alone (name, time);
2. claim the event: insert its row; with a `reference` the row is unique per
   member (`event_member_reference_unique`), so the same event reported again
   meets the first one in the database and replays its answer, before any
   lock (two reports at the same moment: the second waits on the index for
   the first to commit, then replays it);
3. lock the member's points account (members.locks), so the member's cap
   counters are read and written in turn;
4. evaluate the live event campaigns (campaigns.engine, at the event's local
   time: a cap per day counts the day the event happened), record the
   hold-outs, cut to budgets and caps (budget rows locked last), and write
   each award as its own bonus entry with source ("campaign", id);
5. store the answer on the event row.

An event that no campaign rewards is recorded with no awards.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

from django.utils import timezone
from django.utils.translation import gettext as _

from campaigns.awarding import (
    campaign_award_notify,
    campaign_awards_pay,
    local,
    member_audience,
)
from campaigns.challenges import challenges_event_recorded
from campaigns.engine import EventContext, event_evaluate
from campaigns.errors import EventReferenceTaken
from campaigns.models import EVENT_REFERENCE_MAX_LENGTH, CampaignKind, MemberEvent
from campaigns.params import EVENT_NAME
from campaigns.selectors import campaigns_active
from loyalty.actors import Actor
from loyalty.db import Lookup, atomic_whole, insert, insert_unless_taken, update
from loyalty.errors import ValidationFailed
from loyalty.limits import text_problem
from loyalty.models import Store
from loyalty.selectors import program_settings_get
from loyalty.services import audit_record
from members.locks import account_lock
from members.models import Member
from members.points import points_account_writes
from members.services import member_ensure_active

# As a sale: a till's clock may run a little ahead; an event older than a
# year is not a campaign's business any more.
FUTURE_SKEW = timedelta(minutes=5)
OLDEST = timedelta(days=365)


@dataclass(frozen=True)
class EventRecorded:
    """The API's answer (`awards`, `balance`) and whether it is a replay."""

    response: dict[str, Any]
    replayed: bool
    event_id: int


def event_name_clean(name: str) -> str:
    """The event's name as stored: stripped, lowercase. Raises ValidationFailed."""
    cleaned = name.strip().casefold() if isinstance(name, str) else ""
    if not EVENT_NAME.match(cleaned):
        raise ValidationFailed(
            fields={
                "name": [
                    _(
                        "Give the event's name: lowercase letters, digits, _ . or -, "
                        "at most 64, e.g. review."
                    )
                ]
            }
        )
    return cleaned


def _event_validate(*, reference: str | None, occurred_at: datetime, now: datetime) -> None:
    errors: dict[str, list[str]] = {}
    if reference is not None:
        problem = text_problem(reference)
        if not reference.strip() or len(reference) > EVENT_REFERENCE_MAX_LENGTH:
            errors["reference"] = [
                _("Give a reference of 1 to %(length)s characters.")
                % {"length": EVENT_REFERENCE_MAX_LENGTH}
            ]
        elif problem:
            errors["reference"] = [problem]
    if occurred_at > now + FUTURE_SKEW:
        errors["occurred_at"] = [_("An event cannot happen in the future.")]
    elif occurred_at < now - OLDEST:
        errors["occurred_at"] = [_("An event may be at most a year old.")]
    if errors:
        raise ValidationFailed(fields=errors)


_BY_REFERENCE = Lookup(MemberEvent, "member_id", "reference")


def _event_replay(*, member: Member, name: str, reference: str) -> EventRecorded:
    existing = _BY_REFERENCE.get(member.pk, reference)
    if existing is None or existing.name != name:
        # Another event holds the reference (or the one that held it rolled back).
        raise EventReferenceTaken()
    return EventRecorded(response=existing.response, replayed=True, event_id=existing.pk)


@atomic_whole
def event_record(
    *,
    member: Member,
    name: str,
    reference: str | None,
    occurred_at: datetime | None,
    actor: Actor,
    store: Store | None = None,
    now: datetime | None = None,
) -> EventRecorded:
    """Record the member's event `name` (at `occurred_at`, default now) and pay
    what the live event campaigns give for it, each award its own ledger entry
    labelled with the campaign's name, within their budgets and the member's
    caps per period. The same `reference` for the same member replays the
    first answer (`replayed`), whatever the campaigns say now. `store`: where
    it happened (the API key's store), for campaigns limited to stores.

    Raises ValidationFailed (name, reference, occurred_at), MemberInactive,
    EventReferenceTaken (the reference holds an event of another name); then
    nothing is written."""
    now = now or timezone.now()
    name = event_name_clean(name)
    occurred_at = occurred_at or now
    _event_validate(reference=reference, occurred_at=occurred_at, now=now)
    event = MemberEvent(
        member=member,
        name=name,
        reference=reference,
        occurred_at=occurred_at,
        recorded_at=now,
        store=store,
    )
    if reference is None:
        insert(event)
    elif not insert_unless_taken(event, unique=("member", "reference")):
        return _event_replay(member=member, name=name, reference=reference)
    member_ensure_active(member)
    account = account_lock(member_id=member.pk)
    campaigns = campaigns_active(now=now, kinds=[CampaignKind.EVENT])
    at = local(occurred_at)
    evaluation = event_evaluate(
        EventContext(
            member=member_audience(member=member, campaigns=campaigns, now=now),
            event=name,
            at=at,
            store_code=store.code if store is not None else None,
        ),
        campaigns,
    )
    program = program_settings_get()
    with points_account_writes(account):
        final = campaign_awards_pay(
            member=member,
            account=account,
            evaluation=evaluation,
            campaigns=campaigns,
            at=at,
            occurred_at=occurred_at,
            now=now,
            program=program,
            # The event row is this transaction's own: no entry has its keys.
            key=lambda award: f"event:{event.pk}:{award.campaign_id}",
            key_unused=True,
            description=lambda award: award.label,
        )
        challenges_event_recorded(
            member=member,
            account=account,
            event_id=event.pk,
            name=name,
            occurred_at=occurred_at,
            now=now,
            program=program,
        )
    awards = [
        {"source": award.source, "points": award.points, "label": award.label}
        for award in final.awards
    ]
    campaign_award_notify(
        member=member,
        evaluation=final,
        event_key=f"event:{event.pk}",
        at=occurred_at,
        after_commit=True,
    )
    event.points = final.points
    event.response = {"awards": awards, "balance": account.balance}
    update(event, ["points", "response"])
    if actor.user is not None:
        audit_record(
            actor=actor,
            action="event.record",
            obj=member,
            after={"event": name, "reference": reference, "points": final.points},
        )
    return EventRecorded(response=event.response, replayed=False, event_id=event.pk)
