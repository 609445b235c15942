"""The marketers' broadcast pages: compose, preview in both languages, send,
schedule, cancel, figures and progress; refused to store staff and members."""

from __future__ import annotations

from datetime import timedelta

import pytest
from django.core.files.uploadedfile import SimpleUploadedFile
from django.urls import reverse
from django.utils import timezone

from campaigns.models import Broadcast, BroadcastStatus
from loyalty.actors import Actor
from loyalty.models import AuditEvent, Notification
from members.segments import segment_create
from tests.factories import MemberFactory

pytestmark = pytest.mark.django_db

PNG = b"\x89PNG\r\n\x1a\n" + b"\x00" * 64


@pytest.fixture(autouse=True)
def _media(settings, tmp_path) -> None:
    settings.MEDIA_ROOT = tmp_path


@pytest.fixture
def marketing(client, marketer, program):
    client.force_login(marketer)
    return client


@pytest.fixture
def vip():
    return segment_create(
        actor=Actor.system(),
        name="VIP",
        rules={"all": [{"field": "tags", "op": "contains", "value": "vip"}]},
    )


def compose(client, segment, **overrides):
    data = {
        "title_en": "Durian week",
        "body_en": "Double points on durian.",
        "title_ms": "Minggu durian",
        "body_ms": "Mata ganda dua untuk durian.",
        "segment": segment.pk if segment else "",
        "reward": "",
        "campaign": "",
        **overrides,
    }
    return client.post(reverse("staff:broadcast_create"), data)


def test_store_staff_and_members_are_refused_the_broadcast_pages(client, store_staff, member):
    for user in (store_staff, member.user):
        client.force_login(user)
        for name in ("staff:broadcast_list", "staff:broadcast_create"):
            assert client.get(reverse(name)).status_code in (302, 403)


def test_a_marketer_composes_previews_in_both_languages_and_sends(
    marketing, vip, django_capture_on_commit_callbacks
):
    member = MemberFactory(tags=["vip"], marketing_consent=True)
    answer = compose(marketing, vip, image=SimpleUploadedFile("a.png", PNG))
    broadcast = Broadcast.objects.get()
    assert answer.status_code == 302
    assert answer["Location"] == reverse("staff:broadcast_detail", args=[broadcast.pk])
    page = marketing.get(answer["Location"]).content.decode()
    assert 'data-testid="preview-en"' in page and 'data-testid="preview-ms"' in page
    assert "Minggu durian" in page and "Durian week" in page
    assert broadcast.image.url in page

    with django_capture_on_commit_callbacks(execute=True):
        marketing.post(reverse("staff:broadcast_send", args=[broadcast.pk]))
    broadcast.refresh_from_db()
    assert broadcast.status == BroadcastStatus.SENT
    assert Notification.objects.filter(member=member, kind="broadcast").count() == 1
    page = marketing.get(reverse("staff:broadcast_detail", args=[broadcast.pk])).content.decode()
    assert 'data-testid="figure-delivered">1<' in page
    listing = marketing.get(reverse("staff:broadcast_list")).content.decode()
    assert "Durian week" in listing
    assert AuditEvent.objects.filter(action="broadcast.send", actor__isnull=False).exists()


def test_a_bad_form_shows_its_errors_and_writes_nothing(marketing, vip):
    answer = compose(
        marketing, vip, title_en="x" * 200, image=SimpleUploadedFile("a.gif", b"GIF89a" + PNG)
    )
    assert answer.status_code == 200
    assert answer.context["form"].errors.keys() >= {"title_en", "image"}
    assert not Broadcast.objects.exists()


def test_schedule_then_cancel_and_a_past_time_is_refused(marketing, vip):
    compose(marketing, vip)
    broadcast = Broadcast.objects.get()
    url = reverse("staff:broadcast_schedule", args=[broadcast.pk])
    past = timezone.localtime() - timedelta(hours=1)
    marketing.post(url, {"scheduled_at": past.strftime("%Y-%m-%dT%H:%M")})
    broadcast.refresh_from_db()
    assert broadcast.status == BroadcastStatus.DRAFT

    ahead = timezone.localtime() + timedelta(days=2)
    marketing.post(url, {"scheduled_at": ahead.strftime("%Y-%m-%dT%H:%M")})
    broadcast.refresh_from_db()
    assert broadcast.status == BroadcastStatus.SCHEDULED

    marketing.post(reverse("staff:broadcast_cancel", args=[broadcast.pk]))
    broadcast.refresh_from_db()
    assert broadcast.status == BroadcastStatus.CANCELLED
    edit = marketing.get(reverse("staff:broadcast_update", args=[broadcast.pk]))
    assert edit.status_code == 302


def test_the_status_view_reports_the_progress(marketing, vip):
    compose(marketing, vip)
    broadcast = Broadcast.objects.get()
    Broadcast.objects.filter(pk=broadcast.pk).update(
        status=BroadcastStatus.SENDING,
        started_at=timezone.now(),
        batches_total=4,
        batches_done=1,
    )
    page = marketing.get(reverse("staff:broadcast_detail", args=[broadcast.pk])).content.decode()
    assert "data-broadcast-status-url" in page
    answer = marketing.get(reverse("staff:broadcast_status", args=[broadcast.pk])).json()
    assert (answer["status"], answer["percent"], answer["label"]) == (
        "sending",
        25,
        "1 of 4 batches",
    )
