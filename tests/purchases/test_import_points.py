"""The import's batches with points (purchases.import_points) write what the
sale flow writes sale by sale: on random histories, in any order and any
batch size, the same purchases, entries (kinds, statuses, lots and what is
left of them, pending and expiry times, balances after), account totals,
activity and tiers as `purchase_record` given the same sales one by one."""

from __future__ import annotations

import json
from dataclasses import replace
from datetime import datetime, timedelta
from decimal import Decimal

import pytest
from django.db import transaction
from django.utils import timezone
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from loyalty.actors import Actor
from loyalty.services import program_settings_update
from members.models import (
    Member,
    MemberActivity,
    PointsAccount,
    PointsEntry,
    TierChange,
)
from members.points import points_adjust
from members.tiers import member_tier_set
from purchases import import_points
from purchases.import_points import IMPORTED, sales_import
from purchases.inputs import LineInput, SaleInput
from purchases.models import Purchase
from purchases.services import purchase_record
from tests.factories import MemberFactory

pytestmark = pytest.mark.django_db

# Programs the histories are played under: tier basis and window, pending
# wait and expiry, in days.
PROGRAMS = {
    "spend-365": {"tier_basis": "spend", "tier_window_days": 365, "pending_days": 0,
                  "expiry_days": 365},
    "points-lifetime-pending": {"tier_basis": "points", "tier_window_days": None,
                                "pending_days": 14, "expiry_days": 30},
    "spend-30-never-expires": {"tier_basis": "spend", "tier_window_days": 30,
                               "pending_days": 7, "expiry_days": None},
}  # fmt: skip

SALES = st.lists(
    st.tuples(
        st.integers(0, 4),  # the member (4: anonymous)
        st.integers(0, 800 * 24),  # hours back from now
        # The amount in cents: small, or near a tier's threshold (RM10,000 and RM20,000).
        st.one_of(st.integers(100, 50_000), st.integers(900_000, 1_200_000)),
        st.booleans(),  # earns
    ),
    min_size=2,
    max_size=25,
)


@pytest.fixture
def crowd(program, tiers):
    """Four members who start differently: a new one; one whose latest
    entry is today (what the history earns is dated today, most of it past
    its expiry); one whose tier was set by hand until 200 days ago; one
    owing a clawback."""
    now = timezone.now()
    members = [MemberFactory(user=None, email=f"c{n}@example.com") for n in range(4)]
    points_adjust(actor=Actor.system(), member=members[1], points=10, reason="welcome", now=now)
    member_tier_set(
        actor=Actor.system(),
        member=members[2],
        tier=tiers["silver"],
        until=(now - timedelta(days=200)).date(),
        now=now - timedelta(days=900),
    )
    PointsAccount.objects.filter(member=members[3]).update(clawback_owed=7)
    return members


def _sales(crowd, program, history, now: datetime) -> list[SaleInput]:
    sales = []
    for n, (who, hours, cents, earns) in enumerate(history):
        member = crowd[who] if who < len(crowd) else None
        sales.append(
            SaleInput(
                store=program.main_store,
                reference=f"H{n}",
                member=Member.objects.select_related("tier").get(pk=member.pk) if member else None,
                occurred_at=now - timedelta(hours=hours),
                items=[
                    LineInput(sku="A", quantity=1, unit_price=Decimal(cents) / 100, earns=earns),
                    LineInput(sku="B", quantity=2, unit_price=Decimal("3.30")),
                ],
                discount_total=Decimal("0.40"),
                line_discounts=(Decimal("0.00"), Decimal("0.40")),
                imported=True,
            )
        )
    return sales


def _fresh(sales: list[SaleInput]) -> list[SaleInput]:
    """The sales with their members read again, as the import reads them
    each batch (members.selectors.members_by_reference)."""
    found = {
        m.pk: m
        for m in Member.objects.select_related("tier").filter(
            pk__in={s.member.pk for s in sales if s.member}
        )
    }
    return [replace(s, member=found[s.member.pk] if s.member else None) for s in sales]


def _outcome(crowd) -> dict:
    """Everything the sales wrote, with keys (which differ between two runs)
    replaced by receipt numbers and positions."""
    reference = {str(pk): ref for pk, ref in Purchase.objects.values_list("pk", "reference")}
    entries = {}
    for member in crowd:
        rows = list(PointsEntry.objects.filter(member=member).order_by("created_at", "id"))
        position = {row.pk: n for n, row in enumerate(rows)}
        entries[member.pk] = [
            (
                r.kind,
                r.status,
                r.points,
                r.balance_after,
                r.remaining,
                r.available_at,
                r.expires_at,
                r.description,
                json.dumps(r.message, sort_keys=True),
                reference.get(r.source_id, r.source_id),
                position.get(r.lot_id),
                r.created_at,
                (r.idempotency_key or "")
                .replace(f"purchase:{r.source_id}:", f"purchase:{reference.get(r.source_id)}:")
                .replace(f"expire:{r.lot_id}", f"expire:{position.get(r.lot_id)}"),
            )
            for r in rows
        ]
    purchases = []
    for p in Purchase.objects.order_by("reference"):
        receipt = json.loads(p.response)
        receipt.pop("id")
        purchases.append(
            (p.reference, p.member_id, p.total, p.eligible_amount, p.points_earned,
             p.points_status, p.tier_code, p.fingerprint, receipt, p.lines.count())
        )  # fmt: skip
    return {
        "entries": entries,
        "accounts": sorted(
            PointsAccount.objects.values_list(
                "member_id",
                "balance",
                "pending",
                "lifetime_earned",
                "redeemed",
                "expired",
                "clawback_owed",
                "lifetime_spend",
                "last_entry_at",
            )
        ),
        "members": sorted(
            Member.objects.values_list("pk", "tier__code", "tier_since", "tier_override_until")
        ),
        "tier_changes": sorted(
            TierChange.objects.values_list(
                "member_id", "from_tier__code", "to_tier__code", "reason", "created_at"
            ),
            key=str,
        ),
        "activity": sorted(
            (m, at, spend, points, reference[source])
            for m, at, spend, points, source in MemberActivity.objects.values_list(
                "member_id", "occurred_at", "spend", "points", "source_id"
            )
        ),
        "purchases": purchases,
    }


def _one_by_one(sales: list[SaleInput], now: datetime) -> None:
    for sale in _fresh(sales):
        purchase_record(sale=sale, actor=Actor.system(), now=sale.occurred_at, recorded_at=now)


def _in_batches(sales: list[SaleInput], now: datetime, size: int) -> None:
    for start in range(0, len(sales), size):
        outcomes = sales_import(
            sales=_fresh(sales[start : start + size]), recorded_at=now, actor=Actor.system()
        )
        assert outcomes == [IMPORTED] * len(outcomes)


def _played(crowd, how) -> dict:
    with transaction.atomic():
        how()
        outcome = _outcome(crowd)
        transaction.set_rollback(True)
    return outcome


@pytest.mark.parametrize("settings_name", sorted(PROGRAMS))
@settings(
    max_examples=15, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture]
)
@given(history=SALES, size=st.integers(1, 30))
def test_batches_write_what_the_sale_flow_writes_sale_by_sale(
    crowd, program, settings_name, history, size
):
    program = program_settings_update(actor=Actor.system(), **PROGRAMS[settings_name])
    now = timezone.now()
    sales = _sales(crowd, program, history, now)
    expected = _played(crowd, lambda: _one_by_one(sales, now))
    assert _played(crowd, lambda: _in_batches(sales, now, size)) == expected


def test_a_member_whose_account_changes_before_the_lock_is_played_again(
    crowd, program, monkeypatch
):
    """A till's sale of a member between the batch's play and its lock: the
    member's sales are played again on the locked account, so the batch
    gives what the till's sale followed by the batch's sales one by one give."""
    now = timezone.now()
    history = [(0, 300 * 24, 900_000, True), (0, 200 * 24, 300_000, True), (1, 24, 5_000, True)]
    sales = _sales(crowd, program, history, now)
    live = SaleInput(
        store=program.main_store,
        reference="LIVE",
        member=crowd[0],
        occurred_at=now - timedelta(days=250),
        items=[LineInput(sku="T", quantity=1, unit_price=Decimal("2000.00"))],
    )

    def live_then_sequential() -> None:
        purchase_record(sale=live, actor=Actor.system(), now=now)
        _one_by_one(sales, now)

    expected = _played(crowd, live_then_sequential)
    lock = import_points.accounts_lock

    def a_till_sells_first(*, member_ids):
        purchase_record(
            sale=replace(live, member=Member.objects.get(pk=crowd[0].pk)),
            actor=Actor.system(),
            now=now,
        )
        return lock(member_ids=member_ids)

    monkeypatch.setattr(import_points, "accounts_lock", a_till_sells_first)
    assert _played(crowd, lambda: _in_batches(sales, now, 10)) == expected


def test_a_tier_reached_in_a_batch_applies_to_the_members_next_sale_in_it(crowd, program):
    now = timezone.now()
    sales = _sales(crowd, program, [(0, 100, 1_100_000, True), (0, 50, 10_000, True)], now)
    expected = _played(crowd, lambda: _one_by_one(sales, now))
    assert [p[4] for p in expected["purchases"]] == [11006, 159]  # RM106.20 at ×1.5
    assert _played(crowd, lambda: _in_batches(sales, now, 10)) == expected
