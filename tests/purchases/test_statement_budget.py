"""The sale path's budget in SQL statements (issue "A lean sale path").

These tests count, they do not time: the count is what a purchase costs
whatever the machine, and each statement is a round trip to the database
plus the ORM's work to build it. The budget is what keeps campaigns,
challenges and notifications from eating the sale path's speed later: a
feature that rides on every sale must fit in it (or say, in its issue, by how
much it may grow), and these tests fail when it does not.

They run in real transactions (`transaction=True`), as production does, so no
test transaction turns the request's transaction into a savepoint, and with
an in-memory cache for the throttle's counters, as production keeps them in
Redis (CACHE_URL; the database cache, the fallback, costs a few statements
more). BEGIN and COMMIT are not counted (the driver sends them, not our code).
"""

from __future__ import annotations

import uuid
from datetime import timedelta
from decimal import Decimal

import pytest
from django.db import connection
from django.test.utils import CaptureQueriesContext
from django.utils import timezone

from loyalty.actors import Actor
from members.models import Member
from purchases.inputs import LineInput, SaleInput
from purchases.services import purchase_record
from tests.factories import MemberFactory
from tests.purchases.conftest import sale

pytestmark = pytest.mark.django_db(transaction=True)

PURCHASE_BUDGET = 12
STATUS_BUDGET = 4
REPLAY_BUDGET = 4
# A receipt sent again under a new Idempotency-Key (a till that lost the
# first): the member is looked up before the receipt is claimed, so that a
# new sale needs no statement to look for its receipt first.
RECEIPT_REPLAY_BUDGET = 5
TRANSACTION = {"BEGIN", "COMMIT", "ROLLBACK"}
# A campaign with a points budget: its row locked and updated.
CAMPAIGN_BUDGET_EXTRA = 2
# A member in live challenges: their participations read and upserted (issue 12).
CHALLENGES_EXTRA = 2


@pytest.fixture(autouse=True)
def _cache_off_the_database(settings, monkeypatch) -> None:
    settings.CACHES = {"default": {"BACKEND": "django.core.cache.backends.locmem.LocMemCache"}}
    # The configuration cache reloads once a second: counts must not depend
    # on how long the test took. A configuration write still clears it.
    monkeypatch.setattr("loyalty.config.FRESH_SECONDS", 3600.0)


def _history(member: Member, sales: int, *, days_ago: int = 1) -> None:
    """`sales` past purchases of the member, recorded through the sale service."""
    store = member.home_store or _main_store()
    when = timezone.now() - timedelta(days=days_ago)
    for n in range(sales):
        purchase_record(
            sale=SaleInput(
                store=store,
                reference=f"H-{member.pk}-{n}",
                member=Member.objects.select_related("account", "tier").get(pk=member.pk),
                occurred_at=when,
                items=[LineInput(sku="TEA", quantity=1, unit_price=Decimal("1.00"))],
            ),
            actor=Actor.system(),
        )


def _main_store():
    from loyalty.selectors import program_settings_get

    return program_settings_get().main_store


def _statements(client, method: str, path: str, body: dict | None = None, **headers) -> int:
    with CaptureQueriesContext(connection) as queries:
        if method == "GET":
            response = client.get(path, **headers)
        else:
            response = client.post(path, body, format="json", **headers)
    assert response.status_code in (200, 201), response.content
    # SQLite's driver shows its BEGIN and COMMIT here; PostgreSQL's does not.
    return sum(1 for q in queries.captured_queries if q["sql"].split()[0] not in TRANSACTION)


def _warm(pos_api, member: Member) -> None:
    """Requests first: the process's configuration cache (program, key,
    tiers, live campaigns) is loaded once a second, not per request."""
    pos_api.get(f"/api/v1/members/{member.public_id}")
    body = sale(f"WARM-{member.pk}-{uuid.uuid4().hex[:8]}", ("TEA", 1, "1.00"), member=member)
    pos_api.post("/api/v1/purchases", body, format="json")


def test_a_purchase_runs_at_most_12_statements_with_1_or_1000_past_sales(pos_api, shopper):
    """An earning sale with an Idempotency-Key: the key's look-up, the member,
    the receipt's claim, the account lock, the entry, the lines, the
    activity, the account's totals, the receipt, the key's record — the same
    count for a member with one past sale as for one with a thousand."""
    regular = MemberFactory(user=None, email="regular@example.com")
    _history(shopper, 1)
    _history(regular, 1000)
    _warm(pos_api, shopper)
    counts = [
        _statements(
            pos_api,
            "POST",
            "/api/v1/purchases",
            sale(f"NEW-{member.pk}", ("TEA", 2, "10.00"), member=member),
            HTTP_IDEMPOTENCY_KEY=f"k-{member.pk}",
        )
        for member in (shopper, regular)
    ]
    assert counts[0] == counts[1] <= PURCHASE_BUDGET, counts


def test_a_purchase_that_may_reach_a_tier_reads_the_window_and_stays_in_budget(
    pos_api, shopper, tiers
):
    """When the account's lifetime spend reaches a higher tier but the tier
    window may not (spend older than the window), the sale reads the window's
    sum: one statement more, still within the budget, and no upgrade."""
    _history(shopper, 1, days_ago=400)
    Member.objects.filter(pk=shopper.pk).update(tier=tiers["bronze"])
    shopper.account.__class__.objects.filter(member=shopper).update(
        lifetime_spend=Decimal("15000.00")
    )
    _warm(pos_api, shopper)
    count = _statements(
        pos_api,
        "POST",
        "/api/v1/purchases",
        sale("NEW", ("TEA", 2, "10.00"), member=shopper),
        HTTP_IDEMPOTENCY_KEY="k-window",
    )
    assert count <= PURCHASE_BUDGET, count
    assert Member.objects.get(pk=shopper.pk).tier == tiers["bronze"]


def test_a_status_read_runs_at_most_4_statements(pos_api, shopper):
    """GET /members/{id}: the member with account and tier, their lots by
    expiry, the tier window's sum."""
    _history(shopper, 50)
    _warm(pos_api, shopper)
    count = _statements(pos_api, "GET", f"/api/v1/members/{shopper.public_id}")
    assert count <= STATUS_BUDGET, count


def test_a_replayed_purchase_runs_at_most_4_statements(pos_api, shopper):
    """The same Idempotency-Key again: its record answers (one statement). The
    same receipt under a new key (a till that lost the first key): the key's
    look-up, the member, the claim that finds the receipt taken, the receipt,
    the new key's record (RECEIPT_REPLAY_BUDGET)."""
    body = sale("R1", ("TEA", 2, "10.00"), member=shopper)
    _warm(pos_api, shopper)
    pos_api.post("/api/v1/purchases", body, format="json", HTTP_IDEMPOTENCY_KEY="k-1")
    same_key = _statements(pos_api, "POST", "/api/v1/purchases", body, HTTP_IDEMPOTENCY_KEY="k-1")
    new_key = _statements(pos_api, "POST", "/api/v1/purchases", body, HTTP_IDEMPOTENCY_KEY="k-2")
    assert same_key <= REPLAY_BUDGET and new_key <= RECEIPT_REPLAY_BUDGET, (same_key, new_key)


def test_a_live_campaign_adds_no_statement_and_a_budget_two(pos_api, shopper):
    """Campaigns ride on every sale: the live ones come from the configuration
    cache and a sale's entries (base, tier, campaigns) go in one INSERT, so an
    unbudgeted campaign adds no statement; a points budget adds its row's
    lock and its update (CAMPAIGN_BUDGET_EXTRA)."""
    from tests.campaigns.factories import make_campaign

    def count(reference: str) -> int:
        _warm(pos_api, shopper)
        return _statements(
            pos_api,
            "POST",
            "/api/v1/purchases",
            sale(reference, ("TEA", 2, "10.00"), member=shopper),
            HTTP_IDEMPOTENCY_KEY=f"k-{reference}",
        )

    without = count("C0")
    make_campaign("multiplier", params={"factor": "2.00"})
    make_campaign(
        "category_bonus", params={"categories": ["drinks"], "points": 5, "per_amount": "1.00"}
    )
    unbudgeted = count("C1")
    make_campaign("spend_bonus", params={"min_spend": "1.00", "points": 5}, budget_points=1000)
    budgeted = count("C2")
    assert unbudgeted == without <= PURCHASE_BUDGET, (without, unbudgeted)
    assert budgeted <= without + CAMPAIGN_BUDGET_EXTRA, (without, budgeted)


def test_points_earned_messages_add_no_statement_to_a_sale_and_off_queue_nothing(
    pos_api, shopper, monkeypatch
):
    """A member who did not ask for points-earned messages (the default): the
    sale decides it from the member row it reads anyway, so it runs the same
    statements and queues no task. One who asked: still no statement more in
    the sale, and one task, queued after the commit (the inbox entry and the
    sending are written there)."""
    from loyalty.models import Notification
    from members.notifications import member_notification_preferences_set

    queued: list[tuple] = []
    monkeypatch.setattr(
        "loyalty.tasks.notification_create.delay", lambda *args: queued.append(args)
    )
    keen = MemberFactory(user=None, email="keen@example.com")
    member_notification_preferences_set(member=keen, choices={("points_earned", "email"): True})
    counts = {}
    for member in (shopper, keen):
        _warm(pos_api, member)
        queued.clear()
        counts[member.pk] = _statements(
            pos_api,
            "POST",
            "/api/v1/purchases",
            sale(f"N-{member.pk}", ("TEA", 2, "10.00"), member=member),
            HTTP_IDEMPOTENCY_KEY=f"k-n-{member.pk}",
        )
        if member is shopper:
            assert queued == []
    assert counts[shopper.pk] == counts[keen.pk] <= PURCHASE_BUDGET, counts
    assert len(queued) == 1 and queued[0][:2] == (keen.pk, "points_earned")
    assert queued[0][2]["points"] == 20
    assert not Notification.objects.filter(kind="points_earned").exists()


def test_a_webhook_subscriber_adds_one_statement_and_none_without(pos_api, shopper, monkeypatch):
    """Webhooks ride on every sale: the subscribed types come from the
    configuration cache, so with no endpoint a sale runs exactly the
    statements it ran before; with an endpoint subscribed to
    purchase.recorded it adds exactly +1 statement, the outbox row's INSERT.
    The delivery is queued for after the commit and runs in a worker, not in
    the sale (here it is only counted as queued, once)."""
    from loyalty.actors import Actor
    from loyalty.webhooks import webhook_endpoint_create

    queued: list[int] = []
    monkeypatch.setattr("loyalty.webhooks._relay_queue", lambda: queued.append(1))

    def count(reference: str) -> int:
        _warm(pos_api, shopper)
        queued.clear()
        return _statements(
            pos_api,
            "POST",
            "/api/v1/purchases",
            sale(reference, ("TEA", 2, "10.00"), member=shopper),
            HTTP_IDEMPOTENCY_KEY=f"k-{reference}",
        )

    without = count("W0")
    assert queued == []
    # Subscribed to other types only: still nothing on the sale.
    webhook_endpoint_create(
        actor=Actor.system(), url="https://93.184.216.34/hooks", events=["member.enrolled"]
    )
    other_types = count("W1")
    assert queued == []
    webhook_endpoint_create(
        actor=Actor.system(), url="https://93.184.216.34/sales", events=["purchase.recorded"]
    )
    subscribed = count("W2")
    assert queued == [1]
    assert other_types == without <= PURCHASE_BUDGET, (without, other_types)
    assert subscribed == without + 1, (without, subscribed)


def test_challenges_cost_a_member_in_none_nothing_and_one_in_two_at_most_2_statements(
    pos_api, shopper, tiers
):
    """Challenges ride on every sale: the live ones come from the configuration
    cache, so a member no live challenge admits (here: a challenge of another
    tier) runs the statements of a sale with no challenge at all; a member in
    two live challenges (every member in them) adds the read of their
    participations and one upsert of both (CHALLENGES_EXTRA), whatever the
    number of challenges."""
    from tests.campaigns.challenge_helpers import make_challenge

    def count(reference: str) -> int:
        _warm(pos_api, shopper)
        return _statements(
            pos_api,
            "POST",
            "/api/v1/purchases",
            sale(reference, ("TEA", 2, "10.00"), member=shopper),
            HTTP_IDEMPOTENCY_KEY=f"k-{reference}",
        )

    without = count("CH0")
    assert Member.objects.get(pk=shopper.pk).tier != tiers["gold"]
    gold_only = make_challenge("purchase_count", "1000", opt_in=False)
    gold_only.tiers.set([tiers["gold"]])
    in_none = count("CH1")
    make_challenge("purchase_count", "1000", opt_in=False)
    make_challenge("spend", "100000.00", opt_in=False)
    in_two = count("CH2")
    assert in_none == without <= PURCHASE_BUDGET, (without, in_none)
    assert in_two <= without + CHALLENGES_EXTRA, (without, in_two)
