"""The marketers' segment pages: list with counts, the rule builder without
JavaScript (rows, groups, refusals on their row), the live preview, the CSV
export, deletion (refused while a reward uses it), and the RFM class on the
member's profile."""

from __future__ import annotations

import csv
import io
from decimal import Decimal

import pytest
from django.http import StreamingHttpResponse
from django.urls import reverse
from django.utils import timezone

from loyalty.actors import Actor
from loyalty.models import AuditEvent
from members.models import Member, MemberRfm, Segment
from members.segments import segment_create
from tests.factories import MemberFactory, TierFactory
from tests.rewards.conftest import make_reward

pytestmark = pytest.mark.django_db

GOLD = {"all": [{"field": "tier", "op": "eq", "value": "gold"}]}


@pytest.fixture
def marketing(client, marketer):
    TierFactory(code="bronze", threshold=Decimal("0"))
    gold = TierFactory(code="gold", threshold=Decimal("1000"))
    members = [
        MemberFactory(user=None, email=f"m{i}@example.com", first_name=f"Member{i}")
        for i in range(3)
    ]
    Member.objects.filter(pk__in=[m.pk for m in members[:2]]).update(tier=gold)
    client.force_login(marketer)
    return client


def rows(prefix: str, *rules: tuple[str, str, str, str]) -> dict[str, str]:
    data = {f"{prefix}-TOTAL_FORMS": str(len(rules)), f"{prefix}-INITIAL_FORMS": "0"}
    for index, (field, op, value, days) in enumerate(rules):
        data.update(
            {
                f"{prefix}-{index}-field": field,
                f"{prefix}-{index}-op": op,
                f"{prefix}-{index}-value": value,
                f"{prefix}-{index}-days": days,
            }
        )
    return data


def test_store_staff_cannot_open_segments(client, store_staff):
    client.force_login(store_staff)
    assert client.get(reverse("staff:segment_list")).status_code == 403


def test_the_list_shows_each_segment_with_its_member_count(marketing):
    segment_create(actor=Actor.system(), name="Gold members", rules=GOLD)
    page = marketing.get(reverse("staff:segment_list")).content.decode()
    assert "Gold members" in page and 'data-testid="segment-count">2<' in page
    assert reverse("staff:segment_list") in marketing.get(reverse("staff:home")).content.decode()


def test_a_marketer_builds_a_segment_with_a_group_without_javascript(marketing):
    page = marketing.get(reverse("staff:segment_create"))
    assert page.status_code == 200 and 'name="top-0-field"' in page.content.decode()
    data = {
        "name": "Gold or big spenders",
        "description": "",
        "match": "any",
        "groups": "0",
        **rows("top", ("tier", "eq", "gold", ""), ("", "eq", "", "")),
    }
    grown = marketing.post(reverse("staff:segment_create"), {**data, "action": "add:group"})
    assert 'name="g0-0-field"' in grown.content.decode()
    data.update(
        {"groups": "1", "g0-match": "all"},
        **rows("g0", ("spend", "gte", "500", "365"), ("marketing_consent", "eq", "yes", "")),
    )
    response = marketing.post(reverse("staff:segment_create"), {**data, "action": "save"})
    assert response.status_code == 302
    segment = Segment.objects.get(name="Gold or big spenders")
    assert segment.rules == {
        "any": [
            {"field": "tier", "op": "eq", "value": "gold"},
            {
                "all": [
                    {"field": "spend", "op": "gte", "value": "500.00", "days": 365},
                    {"field": "marketing_consent", "op": "eq", "value": True},
                ]
            },
        ]
    }
    assert AuditEvent.objects.filter(action="segment.create", actor__isnull=False).exists()
    edit = marketing.get(response["Location"]).content.decode()
    assert 'value="500.00"' in edit and "2 members match now." in edit


def test_add_a_rule_draws_one_more_row(marketing):
    data = {"name": "x", "match": "all", "groups": "0", **rows("top", ("", "eq", "", ""))}
    page = marketing.post(reverse("staff:segment_create"), {**data, "action": "add:top"})
    assert 'name="top-1-field"' in page.content.decode()


def test_a_refused_rule_is_shown_on_its_row_and_nothing_is_saved(marketing):
    data = {
        "name": "Bad",
        "match": "all",
        "groups": "0",
        "action": "save",
        **rows("top", ("tier", "eq", "platinum", ""), ("birth_month", "eq", "13", "")),
    }
    page = marketing.post(reverse("staff:segment_create"), data).content.decode()
    assert "Unknown code: platinum." in page
    assert "Give a number from 1 to 12." in page
    assert not Segment.objects.exists()


def test_preview_counts_without_saving_and_the_json_endpoint_answers(marketing):
    data = {"name": "", "match": "all", "groups": "0", **rows("top", ("tier", "eq", "gold", ""))}
    page = marketing.post(reverse("staff:segment_create"), {**data, "action": "preview"})
    assert "2 members match now." in page.content.decode() and not Segment.objects.exists()
    live = marketing.post(reverse("staff:segment_preview"), data).json()
    assert live["count"] == 2 and len(live["members"]) == 2
    assert live["count_label"] == "2 members match now."
    bad = {**data, **rows("top", ("tier", "gt", "gold", ""))}
    assert marketing.post(reverse("staff:segment_preview"), bad).json()["count"] is None


def test_export_gives_the_members_as_csv(marketing):
    segment = segment_create(actor=Actor.system(), name="Gold", rules=GOLD)
    response = marketing.get(reverse("staff:segment_export", kwargs={"segment_id": segment.pk}))
    text = b"".join(response.streaming_content).decode()
    assert response["Content-Type"].startswith("text/csv") and text.count("\n") == 3


def test_the_segment_export_is_a_dated_audited_stream_of_escaped_plain_rows(marketing, marketer):
    """A member named like a formula comes out escaped, a balance of 0 as "0",
    the join time in the program's time zone; the export is audited on the
    segment (without a count: that would run its rules twice)."""
    Member.objects.filter(first_name="Member0").update(first_name='=HYPERLINK("http://x","y")')
    segment = segment_create(actor=Actor.system(), name="Gold", rules=GOLD)
    response = marketing.get(reverse("staff:segment_export", kwargs={"segment_id": segment.pk}))
    assert isinstance(response, StreamingHttpResponse)
    stamp = timezone.localdate().isoformat()
    expected = f'attachment; filename="segment-{segment.pk}-{stamp}.csv"'
    assert response["Content-Disposition"] == expected
    table = list(csv.reader(io.StringIO(b"".join(response.streaming_content).decode())))
    first = dict(zip(table[0], table[1], strict=True))
    assert first["first_name"] == '\'=HYPERLINK("http://x","y")'
    assert first["points_balance"] == "0" and first["joined_at"].endswith("+08:00")
    event = AuditEvent.objects.get(action="segment.export")
    assert (event.actor, event.object_id) == (marketer, str(segment.pk))
    assert event.after == {"filters": {}, "store": None}


def test_delete_is_refused_while_a_reward_uses_the_segment(marketing):
    segment = segment_create(actor=Actor.system(), name="Gold", rules=GOLD)
    reward = make_reward(name="Gold lounge", segment=segment)
    url = reverse("staff:segment_delete", kwargs={"segment_id": segment.pk})
    page = marketing.post(url, follow=True).content.decode()
    assert "Gold lounge" in page and Segment.objects.filter(pk=segment.pk).exists()
    reward.segment = None
    reward.save()
    assert marketing.post(url).status_code == 302
    assert not Segment.objects.filter(pk=segment.pk).exists()
    assert AuditEvent.objects.filter(action="segment.delete").exists()


def test_the_member_profile_shows_the_rfm_class(client, manager):
    member = MemberFactory(user=None, email="r@example.com")
    client.force_login(manager)
    url = reverse("staff:member_detail", kwargs={"public_id": member.public_id})
    assert "Not scored" in client.get(url).content.decode()
    MemberRfm.objects.create(
        member=member,
        recency=5,
        frequency=4,
        monetary=3,
        rfm_class="champions",
        last_purchase_at=timezone.now(),
        purchase_count=4,
        spend=Decimal("10.00"),
        computed_at=timezone.now(),
    )
    page = client.get(url).content.decode()
    assert "Champions" in page and "R5 F4 M3" in page
