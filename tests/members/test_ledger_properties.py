"""Property test: random sequences of purchases (some backdated, some beyond
the expiry, with lines that earn and lines that do not, at a tier with or
without a bonus), replayed receipts, returns in random mixes of items and
amounts in any number of parts (replayed too), payments with points, keyed
bonuses posted again, adjustments, releases and expiries keep every ledger
invariant after every step: `ledger_check` is clean, a sale returned in full
nets to exactly zero of what it earned and was paid with, and a partial
return never settles more than its share."""

from __future__ import annotations

from datetime import timedelta
from decimal import Decimal
from io import StringIO
from typing import Any

import pytest
from django.core.management import call_command
from django.db.models import Sum
from django.utils import timezone
from hypothesis import HealthCheck, settings
from hypothesis import strategies as st
from hypothesis.stateful import (
    RuleBasedStateMachine,
    initialize,
    invariant,
    precondition,
    rule,
    run_state_machine_as_test,
)

from loyalty.actors import Actor
from loyalty.errors import DomainError, ValidationFailed
from loyalty.services import program_settings_update
from members import ledger
from members.errors import InsufficientPoints
from members.ledger import Source
from members.models import EntryKind, EntryStatus, Member, PointsAccount, PointsEntry
from members.points import points_adjust, points_pay
from purchases.inputs import LineInput, SaleInput
from purchases.models import Purchase, PurchaseLine, Return
from purchases.returns import ReturnItem, purchase_return
from purchases.services import purchase_record
from tests.factories import MemberFactory, StoreFactory, TierFactory

pytestmark = pytest.mark.django_db

money = st.decimals(min_value=Decimal("0.50"), max_value=Decimal("400.00"), places=2)


class LedgerMachine(RuleBasedStateMachine):
    counter = 0

    @initialize(
        pending_days=st.sampled_from([0, 3]),
        expiry_days=st.sampled_from([None, 20, 60]),
        multiplier=st.sampled_from(["1.00", "1.50"]),
    )
    def start(self, pending_days: int, expiry_days: int | None, multiplier: str) -> None:
        LedgerMachine.counter += 1
        self.program = program_settings_update(
            actor=Actor.system(),
            pending_days=pending_days,
            expiry_days=expiry_days,
            staff_adjust_limit=500,
        )
        self.store = StoreFactory(code="prop")
        self.member = MemberFactory(user=None, email=f"prop{LedgerMachine.counter}@example.com")
        # At a ×1.5 tier (out of reach by spend, so no review moves the member)
        # each sale earns a base and a tier entry.
        tier = TierFactory(
            code=f"x{multiplier}",
            threshold=Decimal(multiplier) * 10**6,
            multiplier=Decimal(multiplier),
        )
        Member.objects.filter(pk=self.member.pk).update(tier=tier)
        self.member.tier = tier
        self.now = timezone.now() - timedelta(days=400)
        self.receipts = 0
        self.sales: list[SaleInput] = []
        self.returns: list[dict[str, Any]] = []
        self.keys_posted: set[str] = set()

    def account(self) -> PointsAccount:
        return PointsAccount.objects.get(member=self.member)

    def balance(self) -> int:
        return self.account().balance

    def writes(self) -> tuple[int, int, int, int]:
        """What a refused or replayed operation must leave as it was."""
        account = self.account()
        return (
            PointsEntry.objects.filter(member=self.member).count(),
            Return.objects.filter(purchase__member=self.member).count(),
            account.balance,
            account.pending,
        )

    @rule(
        lines=st.lists(st.tuples(money, st.integers(1, 3), st.booleans()), min_size=1, max_size=3),
        pay_share=st.sampled_from([0, 0, 0.5, 1.2]),
        days_back=st.sampled_from([0, 0, 0, 2, 30, 90, 400]),
        discount=st.sampled_from(["0.00", "0.00", "1.99"]),
    )
    def purchase(
        self,
        lines: list[tuple[Decimal, int, bool]],
        pay_share: float,
        days_back: int,
        discount: str,
    ) -> None:
        """Some sales reach us late: a till that was offline, even past the
        expiry. Some lines earn nothing (a gift box, a service charge)."""
        self.receipts += 1
        sale = SaleInput(
            store=self.store,
            reference=f"{self.member.pk}-{self.receipts}",
            member=self.member,
            occurred_at=self.now - timedelta(days=days_back),
            items=[
                LineInput(sku=f"SKU{index}", quantity=quantity, unit_price=price, earns=earns)
                for index, (price, quantity, earns) in enumerate(lines)
            ],
            discount_total=Decimal(discount),
            points_to_redeem=int(self.balance() * pay_share),
        )
        before = self.writes()
        try:
            purchase_record(sale=sale, actor=Actor.system(), now=self.now)
        except DomainError:
            assert self.writes() == before
        else:
            self.sales.append(sale)

    @precondition(lambda self: bool(self.sales))
    @rule(data=st.data())
    def replay_receipt(self, data: st.DataObject) -> None:
        """A till sends a recorded receipt again, maybe days later."""
        sale = data.draw(st.sampled_from(self.sales))
        before = self.writes()
        recorded = purchase_record(sale=sale, actor=Actor.system(), now=self.now)
        assert recorded.replayed and self.writes() == before

    def _left(self, purchase: Purchase) -> Decimal:
        returned = Return.objects.filter(purchase=purchase).aggregate(total=Sum("amount"))
        return purchase.total - (returned["total"] or Decimal("0.00"))

    def _return(self, purchase: Purchase, what: dict[str, Any]) -> None:
        self.receipts += 1
        call = {"purchase": purchase, "reference": f"R{self.receipts}", **what}
        before = self.writes()
        try:
            purchase_return(actor=Actor.system(), now=self.now, **call)
        except ValidationFailed:
            assert self.writes() == before
        else:
            self.returns.append(call)
        assert self._left(purchase) >= 0

    def _draw_items(self, data: st.DataObject, purchase: Purchase) -> list[ReturnItem]:
        """Some units of one or more lines (maybe more than is left: refused)."""
        lines = data.draw(
            st.lists(st.sampled_from(list(purchase.lines.all())), min_size=1, max_size=3)
        )
        return [
            ReturnItem(sku=line.sku, quantity=data.draw(st.integers(1, line.quantity)))
            for line in lines
        ]

    @rule(data=st.data())
    def give_back(self, data: st.DataObject) -> None:
        """A return by items of any lines, or by an amount, sometimes more than is left."""
        purchases = list(Purchase.objects.filter(member=self.member).prefetch_related("lines"))
        if not purchases:
            return
        purchase = data.draw(st.sampled_from(purchases))
        if data.draw(st.booleans()):
            what: dict[str, Any] = {"items": self._draw_items(data, purchase)}
        else:
            amount = data.draw(
                st.decimals(
                    min_value=Decimal("0.01"), max_value=purchase.total + Decimal("5"), places=2
                )
            )
            what = {"amount": amount}
        self._return(purchase, what)

    @rule(data=st.data(), parts=st.integers(1, 4))
    def give_back_the_rest(self, data: st.DataObject, parts: int) -> None:
        """What is left of a sale comes back in `parts` returns, each by items
        or by an amount, the last by the amount left: the sale is then back in
        full (unless an earlier part by items was refused for want of room)."""
        purchases = [
            p
            for p in Purchase.objects.filter(member=self.member).prefetch_related("lines")
            if self._left(p) > 0
        ]
        if not purchases:
            return
        purchase = data.draw(st.sampled_from(purchases))
        for part in range(parts):
            left = self._left(purchase)
            if left <= 0:
                break
            if part == parts - 1:
                what: dict[str, Any] = {"amount": left}
            elif data.draw(st.booleans()):
                what = {"items": self._draw_items(data, purchase)}
            else:
                cents = data.draw(st.integers(1, int(left * 100)))
                what = {"amount": Decimal(cents) / 100}
            self._return(purchase, what)
        assert self._left(purchase) == 0

    @precondition(lambda self: bool(self.returns))
    @rule(data=st.data())
    def replay_return(self, data: st.DataObject) -> None:
        call = data.draw(st.sampled_from(self.returns))
        before = self.writes()
        recorded = purchase_return(actor=Actor.system(), now=self.now, **call)
        assert recorded.replayed and self.writes() == before

    @rule(key=st.sampled_from(["a", "b", "c"]), points=st.integers(1, 80))
    def keyed_bonus(self, key: str, points: int) -> None:
        """An event bonus under an idempotency key: a second post (even with
        other points) changes nothing."""
        idempotency_key = f"prop:{self.member.pk}:{key}"
        before = self.writes()
        ledger.points_credit(
            member_id=self.member.pk,
            points=points,
            kind=EntryKind.BONUS,
            now=self.now,
            expiry_days=self.program.expiry_days,
            source=Source("event", key),
            idempotency_key=idempotency_key,
        )
        if idempotency_key in self.keys_posted:
            assert self.writes() == before
        self.keys_posted.add(idempotency_key)

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
    def ledger_check_passes(self) -> None:
        if hasattr(self, "member"):
            call_command("ledger_check", stdout=StringIO(), stderr=StringIO())
            assert self.account().clawback_owed >= 0

    @invariant()
    def no_spendable_lot_is_past_its_expiry(self) -> None:
        if hasattr(self, "member"):
            assert not PointsEntry.objects.filter(
                member=self.member,
                status=EntryStatus.AVAILABLE,
                remaining__gt=0,
                expires_at__lte=self.now,
            ).exists()

    @invariant()
    def history_in_time_order_adds_up_to_each_balance(self) -> None:
        if not hasattr(self, "member"):
            return
        balance = 0
        for entry in PointsEntry.objects.filter(member=self.member).order_by("created_at", "id"):
            if entry.status == EntryStatus.AVAILABLE:
                balance += entry.points
            assert entry.balance_after == balance, entry

    @invariant()
    def a_sale_back_in_full_nets_to_zero_and_a_part_never_settles_more_than_its_share(
        self,
    ) -> None:
        if not hasattr(self, "member"):
            return
        for purchase in Purchase.objects.filter(
            member=self.member, returns__isnull=False
        ).distinct():
            returns = Return.objects.filter(purchase=purchase).aggregate(
                amount=Sum("amount"),
                eligible=Sum("eligible_amount"),
                reversed=Sum("points_reversed"),
                clawback=Sum("clawback"),
                expired=Sum("points_expired"),
                refunded=Sum("points_refunded"),
            )
            entries = PointsEntry.objects.filter(
                member=self.member, source_type="purchase", source_id=str(purchase.pk)
            )
            earned = entries.filter(kind__in=["earn", "bonus"]).aggregate(p=Sum("points"))["p"] or 0
            paid = -(entries.filter(kind="redeem").aggregate(p=Sum("points"))["p"] or 0)
            settled = returns["reversed"] + returns["clawback"] + returns["expired"]
            earning_net = sum(
                (line.net for line in purchase.lines.all() if line.earns), Decimal("0.00")
            )
            assert 0 <= returns["eligible"] <= earning_net
            assert returns["amount"] - returns["eligible"] <= purchase.total - earning_net
            if returns["amount"] == purchase.total:
                assert returns["eligible"] == earning_net
                assert (settled, returns["refunded"]) == (earned, paid), purchase
            else:
                share = returns["eligible"] / earning_net if earning_net else Decimal(0)
                amount_share = returns["amount"] / purchase.total
                assert settled <= earned * (share if earning_net else amount_share)
                assert returns["refunded"] <= paid * amount_share

    @invariant()
    def no_line_returns_more_than_was_bought(self) -> None:
        if hasattr(self, "member"):
            for line in PurchaseLine.objects.filter(purchase__member=self.member):
                assert 0 <= line.returned_quantity <= line.quantity


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
