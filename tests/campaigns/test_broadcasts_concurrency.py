"""Real threads against PostgreSQL: a broadcast batch run by several workers
at once tells each member once, and the last two batches finishing together
still mark the broadcast sent."""

from __future__ import annotations

import pytest

from campaigns import broadcasts
from campaigns.broadcasts import broadcast_batch_send, broadcast_create, broadcast_start
from campaigns.models import Broadcast, BroadcastBatch, BroadcastStatus
from loyalty.actors import Actor
from loyalty.models import Notification
from tests.factories import MemberFactory
from tests.members.test_ledger_concurrency import run_at_once

pytestmark = [pytest.mark.postgres, pytest.mark.django_db(transaction=True)]


def _started(monkeypatch, *, members: int, batch_size: int) -> Broadcast:
    """A broadcast to every member, started with its batch tasks held back."""
    monkeypatch.setattr(broadcasts, "BROADCAST_BATCH_SIZE", batch_size)
    monkeypatch.setattr(broadcasts, "broadcast_batches_queue", lambda **kwargs: 0)
    for _ in range(members):
        MemberFactory(marketing_consent=True)
    broadcast = broadcast_create(actor=Actor.system(), title_en="Sale", body_en="Half price.")
    broadcast_start(broadcast_id=broadcast.pk, actor=Actor.system())
    return broadcast


def test_one_batch_run_by_four_workers_at_once_tells_each_member_once(monkeypatch):
    broadcast = _started(monkeypatch, members=6, batch_size=10)
    batch = BroadcastBatch.objects.get(broadcast=broadcast)
    outcomes = run_at_once(4, lambda i: broadcast_batch_send(batch_id=batch.pk))
    assert sorted(outcomes) == ["done", "done", "done", "sent"]
    broadcast.refresh_from_db()
    assert Notification.objects.filter(event_key=broadcast.event_key).count() == 6
    assert (broadcast.delivered, broadcast.batches_done) == (6, 1)
    assert broadcast.status == BroadcastStatus.SENT


def test_the_last_batches_finishing_together_mark_the_broadcast_sent(monkeypatch):
    broadcast = _started(monkeypatch, members=8, batch_size=2)
    batches = list(BroadcastBatch.objects.filter(broadcast=broadcast).values_list("pk", flat=True))
    assert len(batches) == 4
    outcomes = run_at_once(4, lambda i: broadcast_batch_send(batch_id=batches[i]))
    assert outcomes == ["sent"] * 4
    broadcast.refresh_from_db()
    assert (broadcast.delivered, broadcast.batches_done) == (8, 4)
    assert broadcast.status == BroadcastStatus.SENT
