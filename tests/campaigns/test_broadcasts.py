"""Broadcasts (campaigns.broadcasts): bounds, the audience and consent, batches
sent once, the scheduled start by the job, and the figures."""

from __future__ import annotations

from datetime import timedelta

import pytest
from django.core.files.uploadedfile import SimpleUploadedFile
from django.utils import timezone

from campaigns import broadcasts
from campaigns.broadcast_selectors import broadcast_figures, broadcast_preview
from campaigns.broadcasts import (
    BroadcastStatusRefused,
    broadcast_batch_send,
    broadcast_cancel,
    broadcast_create,
    broadcast_schedule,
    broadcast_send_now,
    broadcast_update,
)
from campaigns.models import BroadcastBatch, BroadcastStatus
from loyalty.actors import Actor
from loyalty.errors import ValidationFailed
from loyalty.jobs import job_run
from loyalty.models import AuditEvent, Notification
from loyalty.notifications import notification_mark_read
from members.models import MemberStatus
from members.segments import segment_create
from tests.factories import MemberFactory

pytestmark = pytest.mark.django_db

PNG = b"\x89PNG\r\n\x1a\n" + b"\x00" * 64
VIP = {"all": [{"field": "tags", "op": "contains", "value": "vip"}]}


@pytest.fixture
def vip_segment():
    return segment_create(actor=Actor.system(), name="VIP", rules=VIP)


@pytest.fixture
def actor(marketer):
    return Actor(user=marketer, ip="127.0.0.1")


def broadcast_of(actor, segment, **values):
    return broadcast_create(
        actor=actor,
        title_en=values.pop("title_en", "Durian week"),
        body_en=values.pop("body_en", "Double points on durian all week."),
        segment=segment,
        **values,
    )


def inbox(event_key):
    return Notification.objects.filter(kind="broadcast", event_key=event_key)


def send(actor, broadcast, django_capture_on_commit_callbacks):
    with django_capture_on_commit_callbacks(execute=True):
        broadcast_send_now(actor=actor, broadcast=broadcast)
    broadcast.refresh_from_db()
    return broadcast


def test_only_consenting_members_of_the_segment_get_it_and_the_others_are_skipped(
    actor, vip_segment, django_capture_on_commit_callbacks
):
    yes = MemberFactory(tags=["vip"], marketing_consent=True)
    no = MemberFactory(tags=["vip"], marketing_consent=False)
    outside = MemberFactory(tags=["regular"], marketing_consent=True)
    broadcast = send(actor, broadcast_of(actor, vip_segment), django_capture_on_commit_callbacks)

    assert set(inbox(broadcast.event_key).values_list("member_id", flat=True)) == {yes.pk}
    assert not Notification.objects.filter(member__in=[no, outside], kind="broadcast").exists()
    assert broadcast.status == BroadcastStatus.SENT
    assert (broadcast.recipients, broadcast.delivered, broadcast.skipped) == (2, 1, 1)
    figures = broadcast_figures(broadcasts=[broadcast])[broadcast.pk]
    assert figures.failed == 0


def test_consent_withdrawn_after_scheduling_is_honoured(
    actor, vip_segment, django_capture_on_commit_callbacks
):
    member = MemberFactory(tags=["vip"], marketing_consent=True)
    broadcast = broadcast_of(actor, vip_segment)
    member.marketing_consent = False
    member.save(update_fields=["marketing_consent"])
    broadcast = send(actor, broadcast, django_capture_on_commit_callbacks)
    assert not inbox(broadcast.event_key).exists()
    assert broadcast.skipped == 1


def test_batches_send_once_even_when_a_batch_task_runs_twice(
    actor, vip_segment, monkeypatch, django_capture_on_commit_callbacks
):
    monkeypatch.setattr(broadcasts, "BROADCAST_BATCH_SIZE", 2)
    members = [MemberFactory(tags=["vip"], marketing_consent=True) for _ in range(5)]
    broadcast = send(actor, broadcast_of(actor, vip_segment), django_capture_on_commit_callbacks)
    batches = list(BroadcastBatch.objects.filter(broadcast=broadcast))
    assert [len(batch.member_ids) for batch in batches] == [2, 2, 1]
    assert broadcast.batches_done == broadcast.batches_total == 3

    with django_capture_on_commit_callbacks(execute=True):
        again = [broadcast_batch_send(batch_id=batch.pk) for batch in batches]
    assert again == ["done", "done", "done"]
    broadcast.refresh_from_db()
    assert inbox(broadcast.event_key).count() == len(members)
    assert (broadcast.delivered, broadcast.batches_done) == (5, 3)
    assert broadcast.status == BroadcastStatus.SENT


def test_a_batch_that_fails_half_way_writes_nothing_and_runs_again_whole(
    actor, vip_segment, monkeypatch, django_capture_on_commit_callbacks
):
    monkeypatch.setattr(broadcasts, "BROADCAST_BATCH_SIZE", 10)
    for _ in range(3):
        MemberFactory(tags=["vip"], marketing_consent=True)
    real_notify = broadcasts.notify
    calls = []

    def flaky(member, kind, context, *, event_key):
        calls.append(member.pk)
        if len(calls) == 2:
            raise RuntimeError("worker lost")
        return real_notify(member, kind, context, event_key=event_key)

    monkeypatch.setattr(broadcasts, "notify", flaky)
    broadcast = broadcast_of(actor, vip_segment)
    with pytest.raises(RuntimeError), django_capture_on_commit_callbacks(execute=True):
        broadcast_send_now(actor=actor, broadcast=broadcast)
    broadcast.refresh_from_db()
    assert broadcast.status == BroadcastStatus.SENDING
    assert not inbox(broadcast.event_key).exists()
    assert broadcast.delivered == 0

    batch = BroadcastBatch.objects.get(broadcast=broadcast)
    with django_capture_on_commit_callbacks(execute=True):
        assert broadcast_batch_send(batch_id=batch.pk) == "sent"
    broadcast.refresh_from_db()
    assert inbox(broadcast.event_key).count() == 3
    assert (broadcast.delivered, broadcast.status) == (3, BroadcastStatus.SENT)


def test_a_scheduled_broadcast_is_started_by_the_job_once_when_due(
    actor, vip_segment, django_capture_on_commit_callbacks
):
    MemberFactory(tags=["vip"], marketing_consent=True)
    now = timezone.now()
    broadcast = broadcast_schedule(
        actor=actor, broadcast=broadcast_of(actor, vip_segment), at=now + timedelta(hours=1)
    )
    assert job_run("broadcasts_due", as_of=now) == "0 scheduled broadcasts started"
    assert not inbox(broadcast.event_key).exists()

    later = now + timedelta(hours=2)
    with django_capture_on_commit_callbacks(execute=True):
        assert job_run("broadcasts_due", as_of=later) == "1 scheduled broadcasts started"
    with django_capture_on_commit_callbacks(execute=True):
        assert job_run("broadcasts_due", as_of=later) == "0 scheduled broadcasts started"
    broadcast.refresh_from_db()
    assert broadcast.status == BroadcastStatus.SENT
    assert inbox(broadcast.event_key).count() == 1
    assert AuditEvent.objects.filter(action="broadcast.send", actor_label="system").count() == 1


def test_a_cancelled_broadcast_is_never_started_and_a_sent_one_cannot_be_cancelled(
    actor, vip_segment, django_capture_on_commit_callbacks
):
    MemberFactory(tags=["vip"], marketing_consent=True)
    now = timezone.now()
    scheduled = broadcast_schedule(
        actor=actor, broadcast=broadcast_of(actor, vip_segment), at=now + timedelta(minutes=5)
    )
    broadcast_cancel(actor=actor, broadcast=scheduled)
    with django_capture_on_commit_callbacks(execute=True):
        job_run("broadcasts_due", as_of=now + timedelta(hours=1))
    scheduled.refresh_from_db()
    assert scheduled.status == BroadcastStatus.CANCELLED
    assert not inbox(scheduled.event_key).exists()

    sent = send(actor, broadcast_of(actor, vip_segment), django_capture_on_commit_callbacks)
    with pytest.raises(BroadcastStatusRefused):
        broadcast_cancel(actor=actor, broadcast=sent)
    with pytest.raises(BroadcastStatusRefused):
        broadcast_update(actor=actor, broadcast=sent, title_en="Changed")
    with pytest.raises(BroadcastStatusRefused):
        broadcast_send_now(actor=actor, broadcast=sent)


def test_opened_counts_the_entries_read_in_the_inbox(
    actor, vip_segment, django_capture_on_commit_callbacks
):
    members = [MemberFactory(tags=["vip"], marketing_consent=True) for _ in range(3)]
    broadcast = send(actor, broadcast_of(actor, vip_segment), django_capture_on_commit_callbacks)
    assert broadcast_figures(broadcasts=[broadcast])[broadcast.pk].opened == 0
    entry = inbox(broadcast.event_key).get(member=members[0])
    notification_mark_read(member_id=members[0].pk, notification_id=entry.pk)
    # Another member's welcome read does not count, nor a second read of the same.
    notification_mark_read(member_id=members[0].pk, notification_id=entry.pk)
    welcome = Notification.objects.filter(member=members[1], kind="welcome").first()
    if welcome is not None:
        notification_mark_read(member_id=members[1].pk, notification_id=welcome.pk)
    figures = broadcast_figures(broadcasts=[broadcast])[broadcast.pk]
    assert (figures.delivered, figures.opened, figures.open_rate) == (3, 1, 33)


def test_without_a_segment_every_active_consenting_member_gets_it(
    actor, django_capture_on_commit_callbacks
):
    first = MemberFactory(marketing_consent=True)
    second = MemberFactory(marketing_consent=True)
    blocked = MemberFactory(marketing_consent=True)
    blocked.status = MemberStatus.BLOCKED
    blocked.save(update_fields=["status"])
    broadcast = send(actor, broadcast_of(actor, None), django_capture_on_commit_callbacks)
    assert set(inbox(broadcast.event_key).values_list("member_id", flat=True)) == {
        first.pk,
        second.pk,
    }
    assert broadcast.recipients == 2


def test_members_get_their_language_and_english_when_the_malay_is_empty(
    actor, vip_segment, django_capture_on_commit_callbacks
):
    malay = MemberFactory(tags=["vip"], marketing_consent=True, language="ms")
    english_only = send(actor, broadcast_of(actor, vip_segment), django_capture_on_commit_callbacks)
    assert inbox(english_only.event_key).get(member=malay).title == "Durian week"
    both = send(
        actor,
        broadcast_of(
            actor, vip_segment, title_ms="Minggu durian", body_ms="Mata ganda dua untuk durian."
        ),
        django_capture_on_commit_callbacks,
    )
    entry = inbox(both.event_key).get(member=malay)
    assert (entry.title, entry.body) == ("Minggu durian", "Mata ganda dua untuk durian.")
    assert broadcast_preview(both, "ms")["title"] == "Minggu durian"
    assert broadcast_preview(english_only, "ms")["fallback"] is True


def test_bounds_are_checked_and_nothing_is_written(actor, vip_segment, program):
    from rewards.models import Reward, RewardKind

    with pytest.raises(ValidationFailed) as failed:
        broadcast_of(actor, vip_segment, title_en="x" * 81, body_en="y" * 1001)
    assert set(failed.value.fields) == {"title_en", "body_en"}
    with pytest.raises(ValidationFailed) as failed:
        broadcast_of(actor, vip_segment, title_en="   ")
    assert "title_en" in failed.value.fields

    from campaigns.models import Campaign, CampaignKind

    reward = Reward.objects.create(name="Kopi", kind=RewardKind.EXPERIENCE, points_cost=100)
    campaign = Campaign.objects.create(
        name="Double", kind=CampaignKind.SIGNUP, starts_at=timezone.now(), params={"points": 5}
    )
    with pytest.raises(ValidationFailed) as failed:
        broadcast_of(actor, vip_segment, reward=reward, campaign=campaign)
    assert "campaign" in failed.value.fields
    assert not AuditEvent.objects.filter(action="broadcast.create").exists()

    with pytest.raises(ValidationFailed) as failed:
        broadcast_schedule(
            actor=actor,
            broadcast=broadcast_of(actor, vip_segment),
            at=timezone.now() - timedelta(minutes=1),
        )
    assert "scheduled_at" in failed.value.fields


@pytest.mark.parametrize(
    ("name", "content", "accepted"),
    [
        ("offer.png", PNG, True),
        ("offer.webp", b"RIFF\x00\x00\x00\x00WEBPVP8 " + b"\x00" * 16, True),
        ("offer.gif", b"GIF89a" + b"\x00" * 16, False),
        ("offer.png", b"<svg onload=alert(1)>", False),
        ("offer.png", PNG + b"\x00" * (1024 * 1024), False),
    ],
)
def test_a_picture_must_be_a_small_png_jpeg_or_webp(
    actor, vip_segment, settings, tmp_path, name, content, accepted
):
    settings.MEDIA_ROOT = tmp_path
    upload = SimpleUploadedFile(name, content)
    if accepted:
        broadcast = broadcast_of(actor, vip_segment, image=upload)
        assert broadcast.image.name.startswith("broadcasts/")
    else:
        with pytest.raises(ValidationFailed) as failed:
            broadcast_of(actor, vip_segment, image=upload)
        assert "image" in failed.value.fields


def test_the_picture_shows_in_the_opened_message(
    actor, vip_segment, settings, tmp_path, client, django_capture_on_commit_callbacks
):
    settings.MEDIA_ROOT = tmp_path
    member = MemberFactory(tags=["vip"], marketing_consent=True)
    broadcast = broadcast_of(actor, vip_segment, image=SimpleUploadedFile("durian.png", PNG))
    send(actor, broadcast, django_capture_on_commit_callbacks)
    [notification] = inbox(f"broadcast:{broadcast.pk}")
    client.force_login(member.user)
    page = client.get(f"/portal/inbox/{notification.pk}/").content.decode()
    assert f'src="{broadcast.image.url}"' in page
