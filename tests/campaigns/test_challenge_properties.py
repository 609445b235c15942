"""Property: whatever sales and partial returns a member makes, a
challenge's points net to what its final state says — paid at most once,
kept while the completing sale is not all back, taken back in full when it is
— and a spend challenge's progress is what is left of the sales."""

from __future__ import annotations

from datetime import timedelta
from decimal import Decimal

from django.utils import timezone
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from hypothesis.extra.django import TestCase as HypothesisTestCase

from campaigns.models import ChallengeAward, ChallengeParticipation
from loyalty.actors import Actor
from loyalty.services import program_settings_update
from members.checks import ledger_problems
from members.models import PointsEntry
from purchases.models import Purchase
from tests.campaigns.challenge_helpers import buy, give_back, make_challenge
from tests.factories import MemberFactory, StoreFactory

_buy = st.tuples(st.just("buy"), st.integers(1, 5000))
# A return of part of an earlier sale: which one, and how much of what is left (1-100 %).
_return = st.tuples(st.just("return"), st.integers(0, 20), st.integers(1, 100))


class TestChallengePointsNet(HypothesisTestCase):
    @settings(max_examples=20, deadline=None, suppress_health_check=[HealthCheck.too_slow])
    @given(steps=st.lists(st.one_of(_buy, _return), min_size=1, max_size=10))
    def test_challenge_points_net_to_the_final_state(self, steps):
        store = StoreFactory(code="klcc", name="KLCC")
        program_settings_update(
            actor=Actor.system(), pending_days=0, expiry_days=365, main_store=store
        )
        member = MemberFactory(user=None, email="prop@example.com")
        three = make_challenge("purchase_count", "3", opt_in=False, reward_points=100)
        spend = make_challenge("spend", "999999.00", opt_in=False, reward_points=5)
        start = timezone.now() - timedelta(days=1)
        sales = []
        for n, step in enumerate(steps):
            if step[0] == "buy":
                amount = Decimal(step[1]) / 100
                sales.append(
                    buy(member, f"P-{n}", start + timedelta(minutes=n), amount=f"{amount}")
                )
                continue
            if not sales:
                continue
            recorded = sales[step[1] % len(sales)]
            purchase = Purchase.objects.get(pk=recorded.record_id)
            left = purchase.total - sum(purchase.returns.values_list("amount", flat=True))
            part = (left * step[2] / 100).quantize(Decimal("0.01"))
            if part > 0:
                give_back(recorded, f"RET-{n}", amount=str(part))

        kept = {}
        for purchase in Purchase.objects.filter(member=member):
            returned = sum(purchase.returns.values_list("amount", flat=True))
            kept[str(purchase.pk)] = purchase.total - returned
        awards = list(ChallengeAward.objects.filter(challenge=three))
        assert len(awards) <= 1
        paid = sum(
            PointsEntry.objects.filter(member=member, source_type="challenge").values_list(
                "points", flat=True
            )
        )
        if awards:
            (award,) = awards
            whole_back = kept[award.source_id] == 0
            assert (award.reversed_at is not None) == whole_back
            assert paid == (0 if whole_back else 100)
        else:
            assert paid == 0
            row = ChallengeParticipation.objects.filter(challenge=three).first()
            alive = sum(1 for left in kept.values() if left > 0)
            assert (row.progress if row else 0) == alive
        row = ChallengeParticipation.objects.filter(challenge=spend).first()
        assert (row.progress if row else 0) == sum(kept.values(), Decimal("0.00"))
        assert ledger_problems() == []
