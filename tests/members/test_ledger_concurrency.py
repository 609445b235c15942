"""Real threads against PostgreSQL: the ledger never pays twice or goes negative."""

from __future__ import annotations

import threading
from collections.abc import Callable
from typing import Any

import pytest
from django.db import connection
from django.utils import timezone
from rest_framework.test import APIClient

from loyalty.actors import Actor
from loyalty.services import program_settings_update
from members.checks import ledger_problems
from members.errors import InsufficientPoints
from members.ledger import Source
from members.models import EntryKind, PointsAccount, PointsEntry
from members.points import points_earn, points_pay
from purchases.models import Purchase
from tests.conftest import api_client_for
from tests.factories import MemberFactory, StoreFactory

pytestmark = [pytest.mark.postgres, pytest.mark.django_db(transaction=True)]


def run_at_once(count: int, work: Callable[[int], Any]) -> list[Any]:
    """Run `work(i)` in `count` threads released at one moment; results or exceptions."""
    barrier = threading.Barrier(count)
    results: list[Any] = [None] * count

    def run(i: int) -> None:
        barrier.wait()
        try:
            results[i] = work(i)
        except Exception as exc:  # the test inspects what each thread met
            results[i] = exc
        finally:
            connection.close()

    threads = [threading.Thread(target=run, args=(i,)) for i in range(count)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    return results


def test_32_threads_paying_100_against_1000_leave_exactly_10_payments():
    program = program_settings_update(actor=Actor.system(), pending_days=0, expiry_days=365)
    member = MemberFactory(user=None, email="race@example.com")
    now = timezone.now()
    points_earn(
        member=member,
        points=1000,
        kind=EntryKind.EARN,
        description="Opening",
        source=Source("test", "1"),
        occurred_at=now,
        now=now,
        program=program,
    )

    results = run_at_once(
        32,
        lambda i: points_pay(
            member=member, points=100, description="Pay", source=Source("test", str(i)), now=now
        ),
    )

    assert sum(1 for r in results if isinstance(r, PointsEntry)) == 10
    assert sum(1 for r in results if isinstance(r, InsufficientPoints)) == 22
    assert PointsAccount.objects.get(member=member).balance == 0
    assert PointsEntry.objects.filter(member=member, kind="redeem").count() == 10
    assert ledger_problems() == []


def test_one_purchase_posted_20_times_at_once_with_one_key_is_recorded_once():
    program_settings_update(actor=Actor.system(), pending_days=0, expiry_days=365)
    StoreFactory(code="klcc")
    member = MemberFactory(user=None, email="dup@example.com")
    auth = api_client_for("pos")._credentials["HTTP_AUTHORIZATION"]
    body = {
        "reference": "R-0001",
        "store": "klcc",
        "member_id": member.public_id,
        "items": [{"sku": "TEA", "quantity": 2, "unit_price": "25.00"}],
    }

    def post(_: int) -> Any:
        client = APIClient()
        client.credentials(HTTP_AUTHORIZATION=auth)
        return client.post(
            "/api/v1/purchases", body, format="json", HTTP_IDEMPOTENCY_KEY="till-1-R-0001"
        )

    responses = run_at_once(20, post)

    assert {r.status_code for r in responses} == {201}
    assert len({r.content for r in responses}) == 1
    assert Purchase.objects.count() == 1
    assert PointsAccount.objects.get(member=member).balance == 50
    assert ledger_problems() == []


def test_the_same_receipt_from_20_tills_without_a_key_is_recorded_once():
    program_settings_update(actor=Actor.system(), pending_days=0, expiry_days=365)
    StoreFactory(code="klcc")
    member = MemberFactory(user=None, email="dup2@example.com")
    auth = api_client_for("pos")._credentials["HTTP_AUTHORIZATION"]
    body = {
        "reference": "R-0002",
        "store": "klcc",
        "member_id": member.public_id,
        "items": [{"sku": "TEA", "quantity": 1, "unit_price": "30.00"}],
    }

    def post(_: int) -> Any:
        client = APIClient()
        client.credentials(HTTP_AUTHORIZATION=auth)
        return client.post("/api/v1/purchases", body, format="json")

    responses = run_at_once(20, post)

    assert {r.status_code for r in responses} == {201}
    assert Purchase.objects.count() == 1
    assert PointsAccount.objects.get(member=member).balance == 30
