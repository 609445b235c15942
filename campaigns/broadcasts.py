"""Broadcasts: a marketer's message to a segment's members (issue 11), told
through the one notification service (loyalty.notifications.notify, kind
"broadcast").

The rules this module keeps, and who checks them (tests/campaigns/test_broadcasts.py):

- Every marketer's write (create, edit, schedule, send now, cancel) goes
  through one function here, which checks the bounds (title and message
  lengths, one link at most, a time to send that is ahead and within a year)
  and writes its audit event in the same transaction.
- draft → scheduled → sending → sent, or draft/scheduled → cancelled. Only a
  draft or a scheduled broadcast can be edited. Starting is one conditional
  UPDATE (draft or scheduled → sending), so a broadcast starts once, however
  many times the `broadcasts_due` job or the "send now" button runs.
- The audience is fixed when sending starts: the segment's active members
  (members.segments), or every active member without a segment, cut by id
  into batches of BROADCAST_BATCH_SIZE, one BroadcastBatch row each.
- Each batch is one Celery task and one transaction: it claims its row
  (`done_at` still empty, under the row's lock), calls `notify` for each
  member with event key `broadcast:<id>`, adds its counts to the broadcast
  and marks itself done. A batch task that runs twice finds its row done and
  sends nothing; one that failed half-way rolled everything back and runs
  again whole; and `notify` itself never writes a member's entry of one
  event twice. The last batch to commit marks the broadcast sent, under the
  broadcast row's lock (taken after the batch's), so two batches finishing
  together cannot both miss it.
- Only members with marketing consent get it: `notify` refuses the others
  (a marketing kind), and they are counted as `skipped`, not failed.
  Consent is read when the batch runs, so consent withdrawn after the
  broadcast was scheduled is honoured.
"""

from __future__ import annotations

from collections.abc import Iterator
from datetime import datetime, timedelta
from typing import Any

from django.db import transaction
from django.db.models import F, QuerySet
from django.urls import reverse
from django.utils import timezone
from django.utils.translation import gettext as _

from campaigns.models import (
    BROADCAST_BATCH_SIZE,
    Broadcast,
    BroadcastBatch,
    BroadcastStatus,
    Campaign,
    CampaignStatus,
)
from loyalty.actors import Actor
from loyalty.errors import ValidationFailed
from loyalty.notifications import notify
from loyalty.services import audit_record, model_validate, snapshot
from members.models import Member, MemberStatus, Segment
from members.segments import segment_rules_queryset
from rewards.models import Reward

BROADCAST_FIELDS = (
    "title_en",
    "title_ms",
    "body_en",
    "body_ms",
    "image",
    "reward",
    "campaign",
    "segment",
)
EDITABLE = (BroadcastStatus.DRAFT, BroadcastStatus.SCHEDULED)
CANCELLABLE = (BroadcastStatus.DRAFT, BroadcastStatus.SCHEDULED)
# How far ahead a broadcast may be scheduled.
SCHEDULE_AHEAD_MAX = timedelta(days=366)
KIND = "broadcast"


class BroadcastStatusRefused(ValidationFailed):
    default_message = _("This broadcast cannot do that in its present status.")


def _picture(broadcast: Broadcast) -> dict[str, Any]:
    fields = [name for name in BROADCAST_FIELDS if name != "image"]
    picture = snapshot(broadcast, [*fields, "status", "scheduled_at"])
    picture["image"] = broadcast.image.name or ""
    return picture


def _strip(values: dict[str, Any]) -> dict[str, Any]:
    return {
        name: value.strip() if isinstance(value, str) and name != "image" else value
        for name, value in values.items()
    }


def _broadcast_check(broadcast: Broadcast) -> None:
    """The model's bounds and the rules across fields. Raises ValidationFailed."""
    errors: dict[str, list[str]] = {}
    try:
        model_validate(broadcast, exclude=["created_by"])
    except ValidationFailed as failed:
        errors.update(failed.fields or {})
    if broadcast.reward_id is not None and broadcast.campaign_id is not None:
        errors.setdefault("campaign", []).append(
            _("Link to a reward or to a campaign, not to both.")
        )
    if broadcast.reward_id is not None and "reward" not in errors:
        reward = Reward.objects.filter(pk=broadcast.reward_id).first()
        if reward is None or not reward.active or reward.archived_at is not None:
            errors.setdefault("reward", []).append(_("Link to a reward members can see."))
    if broadcast.campaign_id is not None and "campaign" not in errors:
        campaign = Campaign.objects.filter(pk=broadcast.campaign_id).first()
        if campaign is None or campaign.status == CampaignStatus.ENDED:
            errors.setdefault("campaign", []).append(_("Link to a campaign that has not ended."))
    if errors:
        raise ValidationFailed(fields=errors)


def _editable(broadcast: Broadcast) -> None:
    if broadcast.status not in EDITABLE:
        raise BroadcastStatusRefused(
            _("Only a draft or a scheduled broadcast can be changed; this one is %(status)s.")
            % {"status": BroadcastStatus(broadcast.status).label.lower()}
        )


@transaction.atomic
def broadcast_create(*, actor: Actor, **values: Any) -> Broadcast:
    """A draft broadcast of `values` (BROADCAST_FIELDS). Raises ValidationFailed
    naming each field that is out of bounds."""
    broadcast = Broadcast(created_by=actor.user, **_strip(values))
    _broadcast_check(broadcast)
    broadcast.save()
    audit_record(actor=actor, action="broadcast.create", obj=broadcast, after=_picture(broadcast))
    return broadcast


@transaction.atomic
def broadcast_update(*, actor: Actor, broadcast: Broadcast, **changes: Any) -> Broadcast:
    """Change a draft or scheduled broadcast (a scheduled one stays scheduled).
    Raises BroadcastStatusRefused for one that is sending, sent or cancelled,
    ValidationFailed for a value out of bounds."""
    broadcast = Broadcast.objects.select_for_update().get(pk=broadcast.pk)
    _editable(broadcast)
    before = _picture(broadcast)
    for name, value in _strip(changes).items():
        if name not in BROADCAST_FIELDS:
            raise TypeError(name)
        setattr(broadcast, name, value)
    _broadcast_check(broadcast)
    broadcast.save()
    audit_record(
        actor=actor,
        action="broadcast.update",
        obj=broadcast,
        before=before,
        after=_picture(broadcast),
    )
    return broadcast


@transaction.atomic
def broadcast_schedule(
    *, actor: Actor, broadcast: Broadcast, at: datetime, now: datetime | None = None
) -> Broadcast:
    """Schedule a draft (or move a scheduled broadcast) to be sent at `at`, by
    the `broadcasts_due` job. Raises ValidationFailed when `at` is not ahead
    of now or more than a year ahead, BroadcastStatusRefused when it is not a
    draft or scheduled."""
    now = now or timezone.now()
    broadcast = Broadcast.objects.select_for_update().get(pk=broadcast.pk)
    _editable(broadcast)
    if at <= now:
        raise ValidationFailed(fields={"scheduled_at": [_("Choose a time ahead of now.")]})
    if at > now + SCHEDULE_AHEAD_MAX:
        raise ValidationFailed(
            fields={"scheduled_at": [_("A broadcast can be scheduled at most a year ahead.")]}
        )
    before = _picture(broadcast)
    broadcast.status = BroadcastStatus.SCHEDULED
    broadcast.scheduled_at = at
    broadcast.save(update_fields=["status", "scheduled_at", "updated_at"])
    audit_record(
        actor=actor,
        action="broadcast.schedule",
        obj=broadcast,
        before=before,
        after=_picture(broadcast),
    )
    return broadcast


@transaction.atomic
def broadcast_cancel(*, actor: Actor, broadcast: Broadcast) -> Broadcast:
    """Cancel a draft or scheduled broadcast: it will never be sent. Raises
    BroadcastStatusRefused once it is sending or sent (what went out is out)."""
    broadcast.refresh_from_db()
    before = _picture(broadcast)
    cancelled = Broadcast.objects.filter(pk=broadcast.pk, status__in=CANCELLABLE).update(
        status=BroadcastStatus.CANCELLED, updated_at=timezone.now()
    )
    broadcast.refresh_from_db()
    if not cancelled:
        raise BroadcastStatusRefused(
            _("Only a draft or a scheduled broadcast can be cancelled; this one is %(status)s.")
            % {"status": BroadcastStatus(broadcast.status).label.lower()}
        )
    audit_record(
        actor=actor,
        action="broadcast.cancel",
        obj=broadcast,
        before=before,
        after=_picture(broadcast),
    )
    return broadcast


# --- Sending ---------------------------------------------------------------------------------


def broadcast_audience(*, segment: Segment | None, now: datetime | None = None) -> QuerySet[Member]:
    """Who a broadcast goes to, consent aside: the segment's members, or every
    active member without a segment; by id."""
    if segment is None:
        return Member.objects.filter(status=MemberStatus.ACTIVE).order_by("id")
    return segment_rules_queryset(rules=segment.rules, now=now)


def _chunks(ids: Iterator[int]) -> Iterator[list[int]]:
    chunk: list[int] = []
    for member_id in ids:
        chunk.append(member_id)
        if len(chunk) == BROADCAST_BATCH_SIZE:
            yield chunk
            chunk = []
    if chunk:
        yield chunk


def broadcast_send_now(*, actor: Actor, broadcast: Broadcast) -> Broadcast:
    """Start sending a draft or scheduled broadcast now. Raises
    BroadcastStatusRefused when it is already sending, sent or cancelled."""
    started = broadcast_start(broadcast_id=broadcast.pk, actor=actor)
    if started is None:
        broadcast.refresh_from_db()
        raise BroadcastStatusRefused(
            _("This broadcast is %(status)s: it cannot be sent now.")
            % {"status": BroadcastStatus(broadcast.status).label.lower()}
        )
    # Read again: with Celery eager the batches ran at the commit (tests, dev).
    started.refresh_from_db()
    return started


@transaction.atomic
def broadcast_start(
    *, broadcast_id: int, actor: Actor, now: datetime | None = None, due_only: bool = False
) -> Broadcast | None:
    """Claim the broadcast (draft or scheduled → sending; with `due_only`
    scheduled ones due by `now` only), fix its audience into batches and
    queue a task per batch after the commit. Returns None when another run
    claimed it first or it is not to start, so it starts once."""
    now = now or timezone.now()
    earlier = Broadcast.objects.filter(pk=broadcast_id).first()
    if earlier is None:
        return None
    claim = Broadcast.objects.filter(pk=broadcast_id)
    if due_only:
        claim = claim.filter(status=BroadcastStatus.SCHEDULED, scheduled_at__lte=now)
    else:
        claim = claim.filter(status__in=EDITABLE)
    if not claim.update(status=BroadcastStatus.SENDING, started_at=now, updated_at=now):
        return None
    broadcast = Broadcast.objects.select_related("segment").get(pk=broadcast_id)
    ids = broadcast_audience(segment=broadcast.segment, now=now).values_list("pk", flat=True)
    recipients = batches = 0
    pending: list[BroadcastBatch] = []
    for number, chunk in enumerate(_chunks(ids.iterator(chunk_size=2000)), start=1):
        pending.append(BroadcastBatch(broadcast=broadcast, number=number, member_ids=chunk))
        recipients += len(chunk)
        batches = number
        if len(pending) == 100:
            BroadcastBatch.objects.bulk_create(pending)
            pending = []
    BroadcastBatch.objects.bulk_create(pending)
    broadcast.recipients = recipients
    broadcast.batches_total = batches
    fields = ["recipients", "batches_total"]
    if not batches:
        broadcast.status = BroadcastStatus.SENT
        broadcast.finished_at = now
        fields += ["status", "finished_at"]
    broadcast.save(update_fields=fields)
    audit_record(
        actor=actor,
        action="broadcast.send",
        obj=broadcast,
        before=_picture(earlier),
        after={"status": broadcast.status, "recipients": recipients, "batches": batches},
    )
    transaction.on_commit(lambda: broadcast_batches_queue(broadcast_id=broadcast_id))
    return broadcast


def broadcast_batches_queue(*, broadcast_id: int) -> int:
    """Queue a task for each batch of the broadcast not yet done (after the
    start, and again by the `broadcasts_due` job for batches whose task was
    lost: a batch that is done is never run twice). Returns how many."""
    from campaigns.tasks import broadcast_batch_send_task

    ids = list(
        BroadcastBatch.objects.filter(broadcast_id=broadcast_id, done_at__isnull=True)
        .order_by("number")
        .values_list("pk", flat=True)
    )
    for batch_id in ids:
        broadcast_batch_send_task.delay(batch_id)
    return len(ids)


def broadcast_context(broadcast: Broadcast) -> dict[str, Any]:
    """What the "broadcast" notification is written from (loyalty.notifications.
    broadcast_render): the texts in both languages (an empty Malay one left
    out, so Malay readers get the English), the link and the picture."""
    title = {"en": broadcast.title_en}
    body = {"en": broadcast.body_en}
    if broadcast.title_ms:
        title["ms"] = broadcast.title_ms
    if broadcast.body_ms:
        body["ms"] = broadcast.body_ms
    context: dict[str, Any] = {"title": title, "body": body, "broadcast": broadcast.pk}
    link = broadcast_link(broadcast)
    if link:
        context["link"] = link
    if broadcast.image:
        context["image"] = broadcast.image.url
    return context


def broadcast_link(broadcast: Broadcast) -> str:
    """The portal path the message points to: the reward's page, or the portal
    home for a campaign (its "Your offers now" and "Ways to earn"); "" for none."""
    if broadcast.reward_id is not None:
        return reverse("portal:reward", args=[broadcast.reward_id])
    if broadcast.campaign_id is not None:
        return reverse("portal:home")
    return ""


def broadcast_batch_send(*, batch_id: int) -> str:
    """Tell one batch's members, once: "sent", or "done" when another run
    did it already, or "cancelled" for a broadcast no longer sending."""
    with transaction.atomic():
        batch = (
            BroadcastBatch.objects.select_for_update()
            .filter(pk=batch_id, done_at__isnull=True)
            .first()
        )
        if batch is None:
            return "done"
        broadcast = Broadcast.objects.get(pk=batch.broadcast_id)
        if broadcast.status != BroadcastStatus.SENDING:
            return "cancelled"
        context = broadcast_context(broadcast)
        delivered = skipped = 0
        members = Member.objects.filter(pk__in=batch.member_ids).order_by("pk")
        for member in members.iterator(chunk_size=BROADCAST_BATCH_SIZE):
            if not member.marketing_consent or member.status != MemberStatus.ACTIVE:
                skipped += 1
                continue
            if notify(member, KIND, context, event_key=broadcast.event_key) is not None:
                delivered += 1
        now = timezone.now()
        BroadcastBatch.objects.filter(pk=batch.pk).update(
            done_at=now, delivered=delivered, skipped=skipped
        )
        # This UPDATE locks the broadcast's row (after the batch's) until the
        # commit: of two batches finishing together the later one waits, then
        # sees the other done, and the last to commit marks the broadcast sent.
        Broadcast.objects.filter(pk=broadcast.pk).update(
            delivered=F("delivered") + delivered,
            skipped=F("skipped") + skipped,
            batches_done=F("batches_done") + 1,
        )
        Broadcast.objects.filter(pk=broadcast.pk, status=BroadcastStatus.SENDING).exclude(
            batches__done_at__isnull=True
        ).update(status=BroadcastStatus.SENT, finished_at=now)
    return "sent"


def broadcasts_start_due(*, now: datetime) -> int:
    """Start the scheduled broadcasts due by `now` and queue again the
    batches of sending ones whose task may have been lost (not done a
    quarter of an hour after sending started). Returns how many started."""
    started = 0
    due = Broadcast.objects.filter(
        status=BroadcastStatus.SCHEDULED, scheduled_at__lte=now
    ).values_list("pk", flat=True)
    for broadcast_id in list(due):
        if broadcast_start(broadcast_id=broadcast_id, actor=Actor.system(), now=now, due_only=True):
            started += 1
    stalled = Broadcast.objects.filter(
        status=BroadcastStatus.SENDING, started_at__lt=now - timedelta(minutes=15)
    ).values_list("pk", flat=True)
    for broadcast_id in list(stalled):
        broadcast_batches_queue(broadcast_id=broadcast_id)
    return started
