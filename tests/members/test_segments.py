"""Segment rules (members/segments.py): each field and op evaluates as its
docstring says, groups nest with AND/OR, bad rule sets are refused by path,
and one member is checked against several segments in one statement."""

from __future__ import annotations

from datetime import date, timedelta
from decimal import Decimal

import pytest
from django.db import connection
from django.test.utils import CaptureQueriesContext
from django.utils import timezone

from loyalty.actors import Actor
from loyalty.errors import ValidationFailed
from loyalty.models import AuditEvent
from members.errors import SegmentInUse
from members.ledger import Source
from members.models import Member, MemberRfm, MemberStatus, Segment
from members.segments import (
    MAX_RULES,
    member_in_segments,
    segment_count,
    segment_create,
    segment_delete,
    segment_members,
    segment_rules_clean,
    segment_rules_queryset,
    segment_update,
)
from members.services import member_update
from members.tiers import member_record_activity
from tests.factories import MemberFactory, StoreFactory, TierFactory
from tests.rewards.conftest import fund, make_reward

pytestmark = pytest.mark.django_db

NOW = timezone.now()


def sale(member: Member, spend: str, *, days_ago: int, source: str = "purchase") -> None:
    member_record_activity(
        member=member,
        occurred_at=NOW - timedelta(days=days_ago, minutes=1),
        spend=Decimal(spend),
        points=int(Decimal(spend)),
        source=Source(source, f"{member.pk}-{days_ago}-{spend}"),
    )


def names(rules: dict) -> set[str]:
    return set(
        segment_rules_queryset(rules=segment_rules_clean(rules), now=NOW).values_list(
            "first_name", flat=True
        )
    )


def one(field: str, op: str, value, **extra) -> dict:
    return {"all": [{"field": field, "op": op, "value": value, **extra}]}


@pytest.fixture
def people(db):
    """Ann (gold, bought 3 times, recently, RM600), Ben (bronze, one purchase
    200 days ago, RM50), Cik (bronze, never bought), Dan (blocked gold)."""
    bronze = TierFactory(code="bronze", threshold=Decimal("0"))
    gold = TierFactory(code="gold", threshold=Decimal("1000"))
    klcc = StoreFactory(code="klcc")
    StoreFactory(code="mid")
    ann = MemberFactory(
        user=None,
        email="ann@example.com",
        first_name="Ann",
        birth_date=date(1990, 3, 14),
        tags=["vip", "office"],
        marketing_consent=True,
        home_store=klcc,
        joined_at=NOW - timedelta(days=400),
    )
    ben = MemberFactory(
        user=None,
        email="ben@example.com",
        first_name="Ben",
        birth_date=date(1985, 7, 1),
        tags=["student"],
        joined_at=NOW - timedelta(days=300),
    )
    cik = MemberFactory(
        user=None, email="cik@example.com", first_name="Cik", joined_at=NOW - timedelta(days=5)
    )
    dan = MemberFactory(user=None, email="dan@example.com", first_name="Dan", tags=["vip"])
    for member, tier in ((ann, gold), (ben, bronze), (cik, bronze), (dan, gold)):
        Member.objects.filter(pk=member.pk).update(tier=tier)
    sale(ann, "100.00", days_ago=2)
    sale(ann, "200.00", days_ago=40)
    sale(ann, "300.00", days_ago=100)
    sale(ben, "50.00", days_ago=200)
    sale(dan, "900.00", days_ago=1)
    fund(ann, 700)
    Member.objects.filter(pk=dan.pk).update(status=MemberStatus.BLOCKED)
    dan.refresh_from_db()
    return {"ann": ann, "ben": ben, "cik": cik, "dan": dan}


@pytest.mark.parametrize(
    ("rules", "expected"),
    [
        (one("tier", "eq", "gold"), {"Ann"}),
        (one("tier", "ne", "gold"), {"Ben", "Cik"}),
        (one("tier", "in", ["gold", "bronze"]), {"Ann", "Ben", "Cik"}),
        (one("tier", "not_in", ["gold"]), {"Ben", "Cik"}),
        (one("days_since_last_purchase", "gt", 90), {"Ben"}),
        (one("days_since_last_purchase", "lte", 2), {"Ann"}),
        (one("days_since_last_purchase", "lt", 2), set()),
        (one("days_since_last_purchase", "eq", 200), {"Ben"}),
        (one("days_since_last_purchase", "ne", 2), {"Ben"}),
        (one("days_since_last_purchase", "between", [1, 30]), {"Ann"}),
        (one("purchase_count", "gte", 3), {"Ann"}),
        (one("purchase_count", "eq", 0), {"Cik"}),
        (one("purchase_count", "gte", 2, days=60), {"Ann"}),
        (one("purchase_count", "eq", 1, days=60), set()),
        (one("purchase_count", "lt", 1, days=60), {"Ben", "Cik"}),
        (one("spend", "gte", "600.00"), {"Ann"}),
        (one("spend", "between", ["10", "100.00"]), {"Ben"}),
        (one("spend", "gt", "250.00", days=60), {"Ann"}),
        (one("spend", "lte", "0.00", days=60), {"Ben", "Cik"}),
        (one("birth_month", "eq", 3), {"Ann"}),
        (one("birth_month", "in", [3, 7]), {"Ann", "Ben"}),
        (one("birth_month", "ne", 3), {"Ben"}),
        (one("home_store", "eq", "klcc"), {"Ann"}),
        (one("home_store", "ne", "klcc"), set()),
        (one("tags", "contains", "vip"), {"Ann"}),
        (one("tags", "not_contains", "vip"), {"Ben", "Cik"}),
        (one("tags", "in", ["office", "student"]), {"Ann", "Ben"}),
        (one("marketing_consent", "eq", True), {"Ann"}),
        (one("marketing_consent", "eq", False), {"Ben", "Cik"}),
        (one("points_balance", "gte", 700), {"Ann"}),
        (one("points_balance", "eq", 0), {"Ben", "Cik"}),
        (
            one("joined_at", "gte", timezone.localdate(NOW - timedelta(days=10)).isoformat()),
            {"Cik"},
        ),
        (
            one("joined_at", "lt", timezone.localdate(NOW - timedelta(days=350)).isoformat()),
            {"Ann"},
        ),
        (
            one(
                "joined_at",
                "between",
                [
                    timezone.localdate(NOW - timedelta(days=301)).isoformat(),
                    timezone.localdate(NOW - timedelta(days=299)).isoformat(),
                ],
            ),
            {"Ben"},
        ),
    ],
)
def test_each_field_and_op_selects_the_members_it_describes(people, rules, expected):
    """Blocked Dan is never in a segment; members without a value match no rule on it."""
    assert names(rules) == expected


def test_groups_nest_with_and_or(people):
    """(gold AND consent) OR (bronze AND (bought more than 90 days ago OR never bought))."""
    rules = {
        "any": [
            {"all": [{"field": "tier", "op": "eq", "value": "gold"}]},
            {
                "all": [
                    {"field": "tier", "op": "eq", "value": "bronze"},
                    {"field": "purchase_count", "op": "eq", "value": 0},
                ]
            },
        ]
    }
    assert names(rules) == {"Ann", "Cik"}
    rules = {
        "all": [
            {"field": "tier", "op": "eq", "value": "bronze"},
            {
                "any": [
                    {"field": "days_since_last_purchase", "op": "gt", "value": 90},
                    {"field": "purchase_count", "op": "eq", "value": 0},
                ]
            },
        ]
    }
    assert names(rules) == {"Ben", "Cik"}


def test_rfm_class_rule_reads_the_nightly_scores(people):
    for member, name in ((people["ann"], "champions"), (people["ben"], "hibernating")):
        MemberRfm.objects.create(
            member=member,
            recency=1,
            frequency=1,
            monetary=1,
            rfm_class=name,
            last_purchase_at=NOW,
            purchase_count=1,
            spend=Decimal("1.00"),
            computed_at=NOW,
        )
    assert names(one("rfm_class", "eq", "champions")) == {"Ann"}
    assert names(one("rfm_class", "in", ["hibernating", "lost"])) == {"Ben"}
    assert names(one("rfm_class", "ne", "champions")) == {"Ben"}  # Cik is not scored


@pytest.mark.parametrize(
    ("rules", "path"),
    [
        ({"all": [{"field": "shoe_size", "op": "eq", "value": 3}]}, "rules.all[0].field"),
        ({"all": [{"field": "tier", "op": "gt", "value": "gold"}]}, "rules.all[0].op"),
        ({"all": [{"field": "tier", "op": "eq", "value": "platinum"}]}, "rules.all[0].value"),
        ({"all": [{"field": "purchase_count", "op": "gt", "value": "3"}]}, "rules.all[0].value"),
        ({"all": [{"field": "purchase_count", "op": "gt", "value": True}]}, "rules.all[0].value"),
        ({"all": [{"field": "purchase_count", "op": "gt", "value": -1}]}, "rules.all[0].value"),
        ({"all": [{"field": "points_balance", "op": "gt", "value": 10**13}]}, "rules.all[0].value"),
        ({"all": [{"field": "spend", "op": "gt", "value": 1.5}]}, "rules.all[0].value"),
        ({"all": [{"field": "spend", "op": "gt", "value": "1.505"}]}, "rules.all[0].value"),
        ({"all": [{"field": "spend", "op": "gt", "value": "NaN"}]}, "rules.all[0].value"),
        ({"all": [{"field": "spend", "op": "gt", "value": "1", "days": 0}]}, "rules.all[0].days"),
        ({"all": [{"field": "tier", "op": "eq", "value": "gold", "days": 5}]}, "rules.all[0].days"),
        ({"all": [{"field": "birth_month", "op": "eq", "value": 13}]}, "rules.all[0].value"),
        (
            {"all": [{"field": "joined_at", "op": "gt", "value": "2026-02-30"}]},
            "rules.all[0].value",
        ),
        (
            {"all": [{"field": "joined_at", "op": "gt", "value": "1900-01-01"}]},
            "rules.all[0].value",
        ),
        ({"all": [{"field": "spend", "op": "between", "value": ["9", "1"]}]}, "rules.all[0].value"),
        ({"all": [{"field": "tier", "op": "in", "value": []}]}, "rules.all[0].value"),
        ({"all": [{"field": "tags", "op": "contains", "value": "x" * 51}]}, "rules.all[0].value"),
        ({"all": [{"field": "tags", "op": "contains", "value": "a\x00"}]}, "rules.all[0].value"),
        ({"all": [{"field": "marketing_consent", "op": "eq", "value": 1}]}, "rules.all[0].value"),
        ({"all": [{"field": "tier", "op": "eq", "value": "gold", "x": 1}]}, "rules.all[0]"),
        ({"all": [{"field": "tier", "op": "eq"}]}, "rules.all[0].value"),
        ({"all": []}, "rules.all"),
        ({"both": []}, "rules"),
        ({"all": [], "any": []}, "rules"),
        ([], "rules"),
        ({"all": ["tier"]}, "rules.all[0]"),
        (
            {"all": [{"any": [{"all": [{"field": "tier", "op": "eq", "value": "gold"}]}]}]},
            "rules.all[0].any[0]",
        ),
        ({"all": [{"field": "tier", "op": "eq", "value": "gold"}] * (MAX_RULES + 1)}, "rules"),
    ],
)
def test_bad_rules_are_refused_naming_the_place(people, rules, path):
    with pytest.raises(ValidationFailed) as refused:
        segment_rules_clean(rules)
    assert path in refused.value.fields, refused.value.fields


def test_every_mistake_is_named_at_once(people):
    rules = {
        "all": [
            {"field": "tier", "op": "eq", "value": "platinum"},
            {"any": [{"field": "spend", "op": "gt", "value": "x"}]},
        ]
    }
    with pytest.raises(ValidationFailed) as refused:
        segment_rules_clean(rules)
    assert set(refused.value.fields) == {"rules.all[0].value", "rules.all[1].any[0].value"}


def test_clean_rules_are_stored_in_normal_form(people):
    cleaned = segment_rules_clean(
        {
            "all": [
                {"field": "spend", "op": "gte", "value": 100},
                one("tier", "in", ["gold", "gold"]),
            ]
        }
    )
    assert cleaned == {
        "all": [
            {"field": "spend", "op": "gte", "value": "100.00"},
            {"all": [{"field": "tier", "op": "in", "value": ["gold"]}]},
        ]
    }


def test_a_segment_whose_tier_is_deleted_later_still_evaluates(people):
    TierFactory(code="platinum", threshold=Decimal("5000"))
    segment = segment_create(actor=Actor.system(), name="Top", rules=one("tier", "eq", "platinum"))
    from members.models import Tier

    Tier.objects.filter(code="platinum").delete()
    assert segment_count(Segment.objects.get(pk=segment.pk)) == 0


def test_member_in_segments_answers_for_several_segments_in_one_statement(people):
    gold = segment_create(actor=Actor.system(), name="Gold", rules=one("tier", "eq", "gold"))
    vip = segment_create(actor=Actor.system(), name="VIP", rules=one("tags", "contains", "vip"))
    lapsed = segment_create(
        actor=Actor.system(), name="Lapsed", rules=one("days_since_last_purchase", "gt", 90)
    )
    recent = segment_create(
        actor=Actor.system(),
        name="Recent spenders",
        rules=one("spend", "gte", "100.00", days=30),
    )
    ids = [gold.pk, vip.pk, lapsed.pk, recent.pk]
    with CaptureQueriesContext(connection) as queries:
        inside = member_in_segments(member=people["ann"], segment_ids=ids, now=NOW)
    assert inside == {gold.pk, vip.pk, recent.pk}
    assert len(queries) == 2
    assert member_in_segments(member=people["ben"], segment_ids=ids, now=NOW) == {lapsed.pk}
    with CaptureQueriesContext(connection) as queries:
        assert member_in_segments(member=people["dan"], segment_ids=ids, now=NOW) == set()
        assert member_in_segments(member=people["ann"], segment_ids=[], now=NOW) == set()
    assert len(queries) == 0


def test_segment_members_and_count_agree(people):
    segment = segment_create(actor=Actor.system(), name="Bronze", rules=one("tier", "eq", "bronze"))
    assert [m.first_name for m in segment_members(segment)] == ["Ben", "Cik"]
    assert segment_count(segment) == 2


def test_writes_are_audited_and_names_are_unique(people):
    segment = segment_create(actor=Actor.system(), name="Gold", rules=one("tier", "eq", "gold"))
    with pytest.raises(ValidationFailed) as refused:
        segment_create(actor=Actor.system(), name=" gold ", rules=one("tier", "eq", "gold"))
    assert "name" in refused.value.fields
    segment_update(actor=Actor.system(), segment=segment, rules=one("tier", "eq", "bronze"))
    with pytest.raises(ValidationFailed):
        segment_update(actor=Actor.system(), segment=segment, rules={"all": []})
    assert Segment.objects.get(pk=segment.pk).rules == one("tier", "eq", "bronze")
    segment_delete(actor=Actor.system(), segment=segment)
    actions = list(
        AuditEvent.objects.filter(object_type="members.segment").values_list("action", flat=True)
    )
    assert sorted(actions) == ["segment.create", "segment.delete", "segment.update"]
    update = AuditEvent.objects.get(action="segment.update")
    assert update.before["rules"] == one("tier", "eq", "gold")
    assert update.after["rules"] == one("tier", "eq", "bronze")


def test_a_segment_a_reward_uses_cannot_be_deleted(people):
    segment = segment_create(actor=Actor.system(), name="Gold", rules=one("tier", "eq", "gold"))
    make_reward(name="Gold lounge", segment=segment)
    with pytest.raises(SegmentInUse) as refused:
        segment_delete(actor=Actor.system(), segment=segment)
    assert "Gold lounge" in refused.value.message
    assert Segment.objects.filter(pk=segment.pk).exists()


def test_a_member_changed_since_moves_in_and_out(people):
    segment = segment_create(actor=Actor.system(), name="VIP", rules=one("tags", "contains", "vip"))
    member_update(actor=Actor.system(), member=people["ben"], tags=["vip"])
    assert {m.first_name for m in segment_members(segment)} == {"Ann", "Ben"}
