"""The back-office pages of surveys and follow-ups (analytics.survey_views):
who opens which page, the settings form (audited, refused when it cannot
work), the figures and the CSV export (audited; a 0 exported as 0), the
queue's tabs and store scoping, closing a follow-up with goodwill points."""

from __future__ import annotations

import csv
import io
from datetime import timedelta

import pytest
from django.urls import reverse
from django.utils import timezone

from analytics.models import FollowUp, SurveyKind, SurveySettings
from loyalty.models import AuditEvent
from members.checks import ledger_problems
from members.models import PointsEntry
from tests.analytics.factories import answer
from tests.factories import MemberFactory, StoreFactory

pytestmark = pytest.mark.django_db

NPS, CSAT = SurveyKind.NPS, SurveyKind.CSAT


def pages(follow_up: FollowUp | None = None) -> dict[str, str]:
    urls = {
        "surveys": reverse("staff:survey_overview"),
        "export": reverse("staff:feedback_export"),
        "settings": reverse("staff:survey_settings", args=["nps"]),
        "queue": reverse("staff:follow_up_list"),
    }
    if follow_up is not None:
        urls["follow_up"] = reverse("staff:follow_up_detail", args=[follow_up.pk])
    return urls


@pytest.fixture
def follow_up(program) -> FollowUp:
    return answer(NPS, 2, member=MemberFactory(), store=program.main_store).follow_up


@pytest.mark.parametrize(
    ("role", "allowed"),
    [
        ("manager", {"surveys", "export", "settings", "queue", "follow_up"}),
        ("marketer", {"surveys", "export", "settings"}),
        ("store_staff", {"queue", "follow_up"}),
    ],
)
def test_each_role_opens_its_pages(client, request, follow_up, role, allowed):
    client.force_login(request.getfixturevalue(role))
    for name, url in pages(follow_up).items():
        status = client.get(url).status_code
        assert status == (200 if name in allowed else 403), (name, status)


def test_members_are_refused_and_visitors_sent_to_sign_in(client, member, follow_up):
    for url in pages(follow_up).values():
        assert client.get(url).status_code == 302
    client.force_login(member.user)
    for url in pages(follow_up).values():
        assert client.get(url).status_code == 403


def test_the_navigation_shows_surveys_to_marketers_and_follow_ups_to_the_counter(
    client, marketer, store_staff
):
    client.force_login(marketer)
    page = client.get(reverse("staff:home")).content.decode()
    assert reverse("staff:survey_overview") in page and reverse("staff:follow_up_list") not in page
    client.force_login(store_staff)
    page = client.get(reverse("staff:home")).content.decode()
    assert reverse("staff:follow_up_list") in page and reverse("staff:survey_overview") not in page


def test_a_marketer_saves_the_settings_audited(client, marketer):
    client.force_login(marketer)
    form = {
        "enabled": "on",
        "question_en": "How likely are you to recommend Kedai Setia?",
        "question_ms": "Sejauh manakah anda akan mengesyorkan Kedai Setia?",
        "delay_hours": "6",
        "sample_percent": "25",
        "cooldown_days": "90",
        "answer_event": "survey_answered",
        "follow_up_hours": "48",
    }
    response = client.post(reverse("staff:survey_settings", args=["nps"]), form)
    assert response.status_code == 302
    stored = SurveySettings.objects.get(kind=NPS)
    assert (stored.enabled, stored.delay_hours, stored.sample_percent) == (True, 6, 25)
    assert AuditEvent.objects.get(action="survey_settings.update").actor == marketer


def test_settings_that_cannot_work_show_the_reason_on_the_form(client, marketer):
    client.force_login(marketer)
    form = {
        "enabled": "on",
        "question_en": "How satisfied were you?",
        "question_ms": "Sejauh manakah anda berpuas hati?",
        "delay_hours": "800",
        "sample_percent": "0",
        "cooldown_days": "30",
        "answer_event": "",
        "follow_up_hours": "48",
    }
    response = client.post(reverse("staff:survey_settings", args=["csat"]), form)
    assert response.status_code == 200
    assert "delay_hours" in response.context["form"].errors
    form["delay_hours"] = "24"
    response = client.post(reverse("staff:survey_settings", args=["csat"]), form)
    assert list(response.context["form"].errors) == ["sample_percent"]
    assert not SurveySettings.objects.exists()


def test_an_unknown_survey_is_not_found(client, marketer):
    client.force_login(marketer)
    assert client.get(reverse("staff:survey_settings", args=["ces"])).status_code == 404


def test_the_overview_shows_the_figures_of_the_period_and_store(client, marketer, program):
    penang = StoreFactory(code="penang", name="Penang")
    for score in (10, 9, 0):
        answer(NPS, score, store=program.main_store)
    answer(NPS, 0, store=penang)
    client.force_login(marketer)
    everywhere = client.get(reverse("staff:survey_overview"))
    assert everywhere.context["surveys"][0]["figure"].responses == 4
    here = client.get(reverse("staff:survey_overview"), {"store": program.main_store.pk})
    figure = here.context["surveys"][0]["figure"]
    assert (figure.responses, str(figure.score)) == (3, "33.3")
    assert 'data-testid="nps-score">33.3<' in here.content.decode()


def test_the_export_is_audited_and_writes_every_score(client, marketer, program):
    answer(NPS, 0, comment="Not good")
    answer(CSAT, 5)
    client.force_login(marketer)
    today = timezone.localdate()
    response = client.get(
        reverse("staff:feedback_export"),
        {"date_from": (today - timedelta(days=1)).isoformat(), "date_to": today.isoformat()},
    )
    assert response.status_code == 200 and response["Content-Type"].startswith("text/csv")
    rows = list(csv.DictReader(io.StringIO(b"".join(response.streaming_content).decode())))
    assert [(row["kind"], row["score"]) for row in rows] == [("nps", "0"), ("csat", "5")]
    event = AuditEvent.objects.get(action="feedback.export")
    assert event.actor == marketer and event.after["to"] == today.isoformat()


def test_the_queue_tabs_hold_open_overdue_and_closed(client, manager, program):
    store = program.main_store
    now = timezone.now()
    overdue = answer(NPS, 1, member=MemberFactory(), store=store, at=now - timedelta(days=5))
    fresh = answer(CSAT, 2, member=MemberFactory(), store=store, at=now)
    closed = answer(NPS, 4, member=MemberFactory(), store=store, at=now - timedelta(days=1))
    client.force_login(manager)
    client.post(
        reverse("staff:follow_up_detail", args=[closed.follow_up.pk]),
        {"note": "Called", "goodwill_points": "0", "action": "close"},
    )
    url = reverse("staff:follow_up_list")
    tabs = {
        tab: [f.pk for f in client.get(url, {"tab": tab}).context["follow_ups"]]
        for tab in ("open", "overdue", "closed")
    }
    assert tabs == {
        "open": [overdue.follow_up.pk, fresh.follow_up.pk],
        "overdue": [overdue.follow_up.pk],
        "closed": [closed.follow_up.pk],
    }
    counts = client.get(url).context["counts"]
    assert counts == {"open": 2, "overdue": 1, "closed": 1}
    assert "recovery-comparison" in client.get(url).content.decode()


def test_store_staff_of_a_store_see_its_follow_ups_only(client, store_staff, program):
    penang = StoreFactory(code="penang", name="Penang")
    here = answer(NPS, 1, member=MemberFactory(), store=program.main_store).follow_up
    there = answer(NPS, 1, member=MemberFactory(), store=penang).follow_up
    store_staff.store = penang
    store_staff.save(update_fields=["store"])
    client.force_login(store_staff)
    listed = client.get(reverse("staff:follow_up_list")).context["follow_ups"]
    assert [f.pk for f in listed] == [there.pk]
    assert client.get(reverse("staff:follow_up_detail", args=[here.pk])).status_code == 404
    assert client.get(reverse("staff:follow_up_detail", args=[there.pk])).status_code == 200


def test_closing_with_goodwill_points_writes_the_ledger_and_audits(client, manager, follow_up):
    client.force_login(manager)
    url = reverse("staff:follow_up_detail", args=[follow_up.pk])
    page = client.get(url).content.decode()
    assert follow_up.member.card_number in page
    response = client.post(
        url, {"note": "Called, sent a kopi voucher", "goodwill_points": "150", "action": "close"}
    )
    assert response.status_code == 302 and response["Location"] == reverse("staff:follow_up_list")
    follow_up.refresh_from_db()
    assert (follow_up.status, follow_up.goodwill_points) == ("closed", 150)
    assert PointsEntry.objects.get(member=follow_up.member).points == 150
    assert AuditEvent.objects.filter(action__in=["follow_up.close", "points.adjust"]).count() == 2
    assert ledger_problems() == []
    closed_page = client.get(url).content.decode()
    assert "Called, sent a kopi voucher" in closed_page and 'name="note"' not in closed_page


def test_closing_without_a_note_shows_the_reason(client, store_staff, follow_up):
    client.force_login(store_staff)
    url = reverse("staff:follow_up_detail", args=[follow_up.pk])
    response = client.post(url, {"note": "", "goodwill_points": "", "action": "close"})
    assert response.status_code == 200 and response.context["form"].errors["note"]
    follow_up.refresh_from_db()
    assert follow_up.status == "open"
