"""Property test: random sequences of purchases, returns, payments with points,
adjustments, releases and expiries keep every ledger invariant after every step."""

from __future__ import annotations

from datetime import timedelta
from decimal import Decimal

import pytest
from django.utils import timezone
from hypothesis import HealthCheck, settings
from hypothesis import strategies as st
from hypothesis.stateful import (
    RuleBasedStateMachine,
    initialize,
    invariant,
    rule,
    run_state_machine_as_test,
)

from loyalty.actors import Actor
from loyalty.errors import DomainError
from loyalty.services import program_settings_update
from members import ledger
from members.checks import ledger_problems
from members.errors import InsufficientPoints
from members.ledger import Source
from members.models import PointsAccount
from members.services import points_adjust, points_pay
from purchases.models import Purchase
from purchases.returns import ReturnItem, purchase_return
from purchases.services import LineInput, SaleInput, purchase_record
from tests.factories import MemberFactory, StoreFactory

pytestmark = pytest.mark.django_db

money = st.decimals(min_value=Decimal("0.50"), max_value=Decimal("400.00"), places=2)


class LedgerMachine(RuleBasedStateMachine):
    counter = 0

    @initialize(pending_days=st.sampled_from([0, 3]), expiry_days=st.sampled_from([None, 20, 60]))
    def start(self, pending_days: int, expiry_days: int | None) -> None:
        LedgerMachine.counter += 1
        self.program = program_settings_update(
            actor=Actor.system(),
            pending_days=pending_days,
            expiry_days=expiry_days,
            staff_adjust_limit=500,
        )
        self.store = StoreFactory(code="prop")
        self.member = MemberFactory(user=None, email=f"prop{LedgerMachine.counter}@example.com")
        self.now = timezone.now() - timedelta(days=400)
        self.receipts = 0

    def balance(self) -> int:
        return PointsAccount.objects.get(member=self.member).balance

    @rule(price=money, quantity=st.integers(1, 3), pay_share=st.sampled_from([0, 0, 0.5, 1.2]))
    def purchase(self, price: Decimal, quantity: int, pay_share: float) -> None:
        self.receipts += 1
        pay = int(self.balance() * pay_share)
        sale = SaleInput(
            store=self.store,
            reference=f"{self.member.pk}-{self.receipts}",
            member=self.member,
            occurred_at=self.now,
            items=[LineInput(sku="ITEM", quantity=quantity, unit_price=price)],
            points_to_redeem=pay,
        )
        before = self.balance()
        try:
            purchase_record(sale=sale, actor=Actor.system(), now=self.now)
        except DomainError:
            assert self.balance() == before

    @rule(data=st.data())
    def give_back(self, data: st.DataObject) -> None:
        purchases = list(Purchase.objects.filter(member=self.member).prefetch_related("lines"))
        if not purchases:
            return
        purchase = data.draw(st.sampled_from(purchases))
        line = purchase.lines.all()[0]
        left = line.quantity - line.returned_quantity
        if left == 0:
            return
        self.receipts += 1
        purchase_return(
            purchase=purchase,
            reference=f"R{self.receipts}",
            actor=Actor.system(),
            items=[ReturnItem(sku=line.sku, quantity=data.draw(st.integers(1, left)))],
            now=self.now,
        )

    @rule(points=st.integers(1, 600))
    def pay_with_points(self, points: int) -> None:
        before = self.balance()
        try:
            points_pay(
                member=self.member,
                points=points,
                description="Reward",
                source=Source("reward", "x"),
                now=self.now,
            )
        except InsufficientPoints:
            assert points > before and self.balance() == before
        else:
            assert self.balance() == before - points

    @rule(points=st.integers(-300, 300).filter(bool))
    def adjust(self, points: int) -> None:
        before = self.balance()
        try:
            points_adjust(
                actor=Actor.system(),
                member=self.member,
                points=points,
                reason="Correction",
                now=self.now,
            )
        except InsufficientPoints:
            assert -points > before
        else:
            # A correction is not an earning: it pays nothing of a clawback owed.
            assert self.balance() == before + points

    @rule(days=st.integers(1, 40))
    def time_passes(self, days: int) -> None:
        self.now += timedelta(days=days)
        ledger.points_release_due(as_of=self.now, expiry_days=self.program.expiry_days)
        ledger.points_expire_due(as_of=self.now)

    @invariant()
    def ledger_is_sound(self) -> None:
        if hasattr(self, "member"):
            assert ledger_problems(member_ids=[self.member.pk]) == []


def test_ledger_invariants_hold_after_every_step():
    run_state_machine_as_test(
        LedgerMachine,
        settings=settings(
            max_examples=25,
            stateful_step_count=20,
            deadline=None,
            suppress_health_check=[HealthCheck.too_slow, HealthCheck.function_scoped_fixture],
        ),
    )
