"""RFM scores and classes (members/rfm.py) on a small known data set: the
quintiles, the named classes of docs/segments.md, ties, and the nightly job."""

from __future__ import annotations

from datetime import timedelta
from decimal import Decimal
from io import StringIO

import pytest
from django.core.management import call_command
from django.utils import timezone

from members.ledger import Source
from members.models import Member, MemberRfm, RfmClass
from members.rfm import RFM_MAP, rfm_class_for, rfm_compute
from members.tiers import member_record_activity
from tests.factories import MemberFactory

pytestmark = pytest.mark.django_db

NOW = timezone.now()


def buy(member: Member, *, days_ago: int, spend: str = "10.00", source: str = "purchase") -> None:
    member_record_activity(
        member=member,
        occurred_at=NOW - timedelta(days=days_ago),
        spend=Decimal(spend),
        points=0,
        source=Source(source, f"{member.pk}-{days_ago}-{source}"),
    )


def shopper(name: str, *, last: int, count: int, spend: str) -> Member:
    """A member whose last purchase is `last` days ago, with `count`
    purchases in all spending `spend` together."""
    member = MemberFactory(user=None, email=f"{name}@example.com", first_name=name)
    each = Decimal(spend) / count
    for index in range(count):
        buy(member, days_ago=last + index, spend=str(each.quantize(Decimal("0.01"))))
    return member


@pytest.fixture
def five(db) -> dict[str, Member]:
    """Five buyers, each with a distinct place on every measure, so their
    scores are exactly 1 to 5; and one member who only returned something."""
    members = {
        "A": shopper("A", last=1, count=5, spend="900.00"),  # R5 F5 M5
        "B": shopper("B", last=300, count=4, spend="400.00"),  # R1 F4 M4
        "C": shopper("C", last=20, count=1, spend="50.00"),  # R4 F1 M1
        "D": shopper("D", last=100, count=3, spend="300.00"),  # R3 F3 M3
        "E": shopper("E", last=200, count=2, spend="100.00"),  # R2 F2 M2
    }
    returner = MemberFactory(user=None, email="r@example.com", first_name="R")
    buy(returner, days_ago=3, spend="-10.00", source="return")
    members["returner"] = returner
    return members


def scores(member: Member) -> tuple[int, int, int, str]:
    row = MemberRfm.objects.get(member=member)
    return row.recency, row.frequency, row.monetary, row.rfm_class


def test_quintiles_and_classes_of_a_known_data_set(five):
    assert rfm_compute(as_of=NOW) == 5
    assert scores(five["A"]) == (5, 5, 5, RfmClass.CHAMPIONS)
    assert scores(five["B"]) == (1, 4, 4, RfmClass.AT_RISK)
    assert scores(five["C"]) == (4, 1, 1, RfmClass.PROMISING)
    assert scores(five["D"]) == (3, 3, 3, RfmClass.NEED_ATTENTION)
    assert scores(five["E"]) == (2, 2, 2, RfmClass.HIBERNATING)
    assert not MemberRfm.objects.filter(member=five["returner"]).exists()
    row = MemberRfm.objects.get(member=five["A"])
    assert row.purchase_count == 5 and row.spend == Decimal("900.00")


def test_ties_share_the_lowest_score(five):
    """Ten more one-purchase members: every one-purchase member gets F1."""
    for index in range(10):
        shopper(f"x{index}", last=50 + index, count=1, spend="20.00")
    rfm_compute(as_of=NOW)
    ones = MemberRfm.objects.filter(purchase_count=1)
    assert ones.count() == 11
    assert set(ones.values_list("frequency", flat=True)) == {1}
    assert MemberRfm.objects.get(member=five["A"]).frequency == 5


def test_as_of_ignores_later_activity_and_rerunning_changes_nothing(five):
    rfm_compute(as_of=NOW - timedelta(days=150))
    assert set(MemberRfm.objects.values_list("member__first_name", flat=True)) == {"B", "E"}
    rfm_compute(as_of=NOW)
    first = sorted(MemberRfm.objects.values_list("member_id", "rfm_class", "recency"))
    rfm_compute(as_of=NOW)
    assert sorted(MemberRfm.objects.values_list("member_id", "rfm_class", "recency")) == first


def test_every_r_f_cell_has_exactly_one_class():
    for recency in range(1, 6):
        for frequency in range(1, 6):
            matches = [c for rs, fs, c in RFM_MAP if recency in rs and frequency in fs]
            # LOST (1,1) sits before HIBERNATING's wider (1-2, 1-2): first match wins.
            assert matches, (recency, frequency)
            assert len(matches) == 1 or (recency, frequency) == (1, 1)
    assert rfm_class_for(1, 1) == RfmClass.LOST
    assert rfm_class_for(5, 1) == RfmClass.NEW
    assert rfm_class_for(2, 5) == RfmClass.CANNOT_LOSE
    assert rfm_class_for(3, 1) == RfmClass.ABOUT_TO_SLEEP
    assert rfm_class_for(4, 3) == RfmClass.POTENTIAL_LOYALISTS
    assert rfm_class_for(4, 4) == RfmClass.LOYAL
    assert {c for _rs, _fs, c in RFM_MAP} == set(RfmClass)


def test_the_nightly_job_scores_members(five):
    out = StringIO()
    call_command("run_jobs", "rfm", "--as-of", NOW.isoformat(), stdout=out)
    assert "5 members scored" in out.getvalue()
    assert MemberRfm.objects.count() == 5
