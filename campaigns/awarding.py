"""Paying a member the awards of the campaigns that are not sales (custom
events, the welcome bonus, birthdays, anniversaries): who the member is for
the audience rules, and the writes of an evaluation.

Every flow here holds the member's points-account lock (members.locks) in
its transaction before it calls `campaign_awards_pay`: the lock serialises the
member's cap counters, and campaign_awards_reserve locks the budget rows
after it, last in the global lock order (rewards.locks).
"""

from __future__ import annotations

from collections.abc import Callable, Iterable
from datetime import datetime

from django.utils import timezone

from campaigns.engine import CampaignAward, CampaignSnapshot, Evaluation
from campaigns.selectors import SOURCE_TYPE, member_audience
from campaigns.services import campaign_awards_reserve, campaign_holdouts_record
from loyalty.models import ProgramSettings, WebhookEventType
from loyalty.notifications import notify, notify_on_commit
from loyalty.webhooks import webhook_emit
from members.history import Text
from members.ledger import Source
from members.models import EntryKind, Member, PointsAccount
from members.points import points_earn


def campaign_awards_pay(
    *,
    member: Member,
    account: PointsAccount,
    evaluation: Evaluation,
    campaigns: Iterable[CampaignSnapshot],
    at: datetime,
    occurred_at: datetime,
    now: datetime,
    program: ProgramSettings,
    key: Callable[[CampaignAward], str],
    description: Callable[[CampaignAward], str | Text],
    key_unused: bool = False,
) -> Evaluation:
    """Record the hold-outs of `evaluation`, cut its awards to the budgets and
    caps left (campaign_awards_reserve), and write each award that is left as
    its own bonus entry (source ("campaign", id), idempotency key `key(award)`,
    `description(award)`) on the member's locked `account`. Returns the final
    evaluation. Call it in the flow's transaction, holding the account lock."""
    campaigns = list(campaigns)
    campaign_holdouts_record(member_id=member.pk, campaign_ids=evaluation.holdouts)
    final = campaign_awards_reserve(
        member_id=member.pk, evaluation=evaluation, campaigns=campaigns, at=at
    )
    for award in final.awards:
        points_earn(
            member=member,
            points=award.points,
            kind=EntryKind.BONUS,
            description=description(award),
            source=Source(SOURCE_TYPE, str(award.campaign_id)),
            occurred_at=occurred_at,
            now=now,
            program=program,
            idempotency_key=key(award),
            key_unused=key_unused,
            account=account,
        )
        campaign_awarded_emit(
            member=member,
            campaign_id=award.campaign_id,
            points=award.points,
            label=award.label,
            occurred_at=occurred_at,
            now=now,
        )
    return final


def campaign_award_notify(
    *,
    member: Member,
    evaluation: Evaluation,
    event_key: str,
    at: datetime,
    after_commit: bool = False,
) -> None:
    """Tell the member of the bonus points `evaluation` paid them (nothing when
    it paid none), once for `event_key`. `after_commit`: written by a task
    after the commit, adding no statement to the caller's transaction (a
    till's custom event)."""
    if not evaluation.points:
        return
    context = {
        "points": evaluation.points,
        "campaign": ", ".join(dict.fromkeys(str(award.label) for award in evaluation.awards)),
    }
    if after_commit:
        notify_on_commit(
            member_id=member.pk,
            kind="campaign_award",
            context=context,
            event_key=event_key,
            at=at,
        )
    else:
        notify(member, "campaign_award", context, event_key=event_key, at=at)


def campaign_awarded_emit(
    *,
    member: Member,
    campaign_id: int,
    points: int,
    label: str,
    occurred_at: datetime,
    now: datetime,
    purchase_id: int | None = None,
) -> None:
    """The campaign.awarded webhook of one award (nothing without a subscriber)."""
    webhook_emit(
        WebhookEventType.CAMPAIGN_AWARDED,
        lambda: {
            "member_id": member.public_id,
            "campaign": campaign_id,
            "points": points,
            "label": label,
            "purchase_id": purchase_id,
            "occurred_at": occurred_at,
        },
        now=now,
    )


__all__ = [
    "campaign_award_notify",
    "campaign_awarded_emit",
    "campaign_awards_pay",
    "local",
    "member_audience",
]


def local(moment: datetime) -> datetime:
    """`moment` in the program's time zone (the engine's days, hours and cap periods)."""
    return timezone.localtime(moment)
