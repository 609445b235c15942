"""Tier rules of DESIGN.md §5: upgrades at once, downgrades only in the nightly
review and after the retention period, a tier set by hand holds until its date,
and every change is kept in the member's tier history."""

from __future__ import annotations

from datetime import timedelta
from decimal import Decimal
from io import StringIO

import pytest
from django.core.management import call_command
from django.utils import timezone

from loyalty.actors import Actor
from members.models import Member, TierChange
from members.tiers import member_tier_set, tiers_review_all
from purchases.inputs import LineInput, SaleInput
from purchases.services import purchase_record

pytestmark = pytest.mark.django_db


def buy(member: Member, program, amount: str, *, when, reference: str) -> None:
    purchase_record(
        sale=SaleInput(
            store=program.main_store,
            reference=reference,
            member=member,
            occurred_at=when,
            items=[LineInput(sku="TV", quantity=1, unit_price=Decimal(amount))],
        ),
        actor=Actor.system(),
        now=when,
    )


def tier_of(member: Member) -> str | None:
    member.refresh_from_db()
    return member.tier.code if member.tier else None


def test_spend_upgrades_at_once_and_the_review_downgrades_only_after_retention(
    program, tiers, shopper
):
    start = timezone.now() - timedelta(days=800)
    buy(shopper, program, "12000.00", when=start, reference="R1")
    assert tier_of(shopper) == "silver"

    # A year later the spend has left the 365-day window, but Silver is kept
    # for its retention period (365 days from the upgrade).
    tiers_review_all(as_of=start + timedelta(days=364))
    assert tier_of(shopper) == "silver"
    assert tiers_review_all(as_of=start + timedelta(days=366)) == 1
    assert tier_of(shopper) == "bronze"
    # The same night again changes nothing more.
    assert tiers_review_all(as_of=start + timedelta(days=366)) == 0

    changes = shopper.tier_changes.exclude(reason=TierChange.Reason.JOIN).order_by("created_at")
    assert [(c.reason, c.to_tier.code) for c in changes] == [
        (TierChange.Reason.UPGRADE, "silver"),
        (TierChange.Reason.DOWNGRADE, "bronze"),
    ]


def test_a_tier_set_by_hand_holds_until_its_date_then_the_rules_apply(
    program, tiers, shopper, manager
):
    now = timezone.now()
    buy(shopper, program, "50.00", when=now - timedelta(days=400), reference="R1")
    until = timezone.localdate(now) + timedelta(days=30)
    member_tier_set(actor=Actor(user=manager), member=shopper, tier=tiers["gold"], until=until)
    assert tier_of(shopper) == "gold"

    tiers_review_all(as_of=now + timedelta(days=30))
    assert tier_of(shopper) == "gold"  # the until date itself is still kept
    # The day after, the rules apply at once: Gold's retention does not count
    # from the day a manager set it.
    call_command(
        "run_jobs",
        "review_tiers",
        "--as-of",
        (now + timedelta(days=31)).isoformat(),
        stdout=StringIO(),
    )
    assert tier_of(shopper) == "bronze"
    assert shopper.tier_override_until is None
    last = shopper.tier_changes.order_by("-created_at").first()
    assert last.reason == TierChange.Reason.DOWNGRADE and last.from_tier.code == "gold"


def test_after_a_lapsed_tier_set_by_hand_the_member_keeps_a_tier_the_rules_give(
    program, tiers, shopper, manager
):
    now = timezone.now()
    buy(shopper, program, "12000.00", when=now - timedelta(days=10), reference="R1")
    assert tier_of(shopper) == "silver"
    until = timezone.localdate(now) + timedelta(days=5)
    member_tier_set(actor=Actor(user=manager), member=shopper, tier=tiers["gold"], until=until)

    assert tiers_review_all(as_of=now + timedelta(days=6)) == 1
    assert tier_of(shopper) == "silver"
    assert shopper.tier_override_until is None
    # From then on the ordinary rules apply, with Silver's retention.
    assert tiers_review_all(as_of=now + timedelta(days=7)) == 0


def test_a_lapsed_tier_set_by_hand_that_the_rules_also_give_is_kept(
    program, tiers, shopper, manager
):
    now = timezone.now()
    buy(shopper, program, "25000.00", when=now - timedelta(days=10), reference="R1")
    until = timezone.localdate(now) + timedelta(days=5)
    member_tier_set(actor=Actor(user=manager), member=shopper, tier=tiers["gold"], until=until)

    assert tiers_review_all(as_of=now + timedelta(days=6)) == 0
    assert tier_of(shopper) == "gold"
    assert shopper.tier_override_until is None


def test_run_jobs_review_tiers_is_the_nightly_entry_point(program, tiers, shopper):
    start = timezone.now() - timedelta(days=800)
    buy(shopper, program, "25000.00", when=start, reference="R1")
    assert tier_of(shopper) == "gold"
    as_of = (start + timedelta(days=400)).isoformat()
    call_command("run_jobs", "review_tiers", "--as-of", as_of)
    assert tier_of(shopper) == "bronze"


def test_the_nightly_review_never_undoes_an_upgrade_a_sale_made_during_the_run(
    program, tiers, shopper, monkeypatch
):
    """A sale that lands between the review's grouped read and its write (here
    one that lifts a Silver member due for a downgrade to Gold) is counted:
    each member is reviewed under their points-account lock, read again."""
    from members import tiers as services

    start = timezone.now() - timedelta(days=800)
    buy(shopper, program, "12000.00", when=start, reference="R1")
    night = start + timedelta(days=400)
    decide = services.tier_for_value
    sale_landed = []

    def sale_lands_first(tiers_, value):
        if not sale_landed:
            sale_landed.append(True)
            buy(shopper, program, "25000.00", when=night - timedelta(hours=1), reference="R2")
        return decide(tiers_, value)

    monkeypatch.setattr(services, "tier_for_value", sale_lands_first)

    assert tiers_review_all(as_of=night) == 0
    assert sale_landed and tier_of(shopper) == "gold"
    changes = shopper.tier_changes.exclude(reason=TierChange.Reason.JOIN).order_by("created_at")
    assert [c.to_tier.code for c in changes] == ["silver", "gold"]
