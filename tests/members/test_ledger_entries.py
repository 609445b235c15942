"""members.ledger._entry_new builds the entry PointsEntry(...) builds: every
column, the cached lot, a new row's state. It replaces Model.__init__ on the
ledger's hot paths (a sale's credits, the import, the nightly jobs)."""

from __future__ import annotations

from datetime import UTC, datetime

import pytest
from hypothesis import given
from hypothesis import strategies as st

from members.ledger import _entry_new
from members.models import EntryKind, EntryStatus, PointsEntry

COLUMNS = [f.attname for f in PointsEntry._meta.concrete_fields]
moment = st.datetimes(
    min_value=datetime(2000, 1, 1), max_value=datetime(2100, 1, 1), timezones=st.just(UTC)
)
moments = st.none() | moment
values = st.fixed_dictionaries(
    {
        "member_id": st.integers(1, 10**9),
        "kind": st.sampled_from(list(EntryKind)),
        "status": st.sampled_from(list(EntryStatus)),
        "points": st.integers(-(10**12), 10**12),
        "balance_after": st.integers(0, 10**12),
        "created_at": moment,
    },
    optional={
        "remaining": st.integers(0, 10**12),
        "available_at": moments,
        "expires_at": moments,
        "description": st.text(max_size=20),
        "message": st.none() | st.fixed_dictionaries({"key": st.just("clawback")}),
        "source_type": st.sampled_from(["purchase", "return", ""]),
        "source_id": st.text("0123456789", max_size=6),
        "idempotency_key": st.none() | st.text(max_size=20),
        "created_by_id": st.none() | st.integers(1, 100),
    },
)


def _columns(entry: PointsEntry) -> dict[str, object]:
    return {name: getattr(entry, name) for name in COLUMNS}


@given(values=values, lot_pk=st.none() | st.integers(1, 10**9), with_lot=st.booleans())
def test_entry_new_is_the_models_own_constructor(values, lot_pk, with_lot):
    lot = PointsEntry(pk=lot_pk, member_id=1, points=1, balance_after=1) if with_lot else None
    extra = {"lot": lot} if with_lot else {}
    fast, model = _entry_new(**values, **extra), PointsEntry(**values, **extra)
    assert _columns(fast) == _columns(model)
    assert (fast._state.adding, fast._state.db) == (model._state.adding, model._state.db)
    if with_lot:
        assert fast.lot is lot and model.lot is lot


def test_a_default_made_by_a_call_is_made_for_each_entry():
    first = _entry_new(member_id=1, kind=EntryKind.EARN, status=EntryStatus.AVAILABLE, points=1)
    second = _entry_new(member_id=1, kind=EntryKind.EARN, status=EntryStatus.AVAILABLE, points=1)
    assert first.created_at is not None and first.created_at <= second.created_at
    assert first.remaining == 0 and first.description == "" and first.lot_id is None


def test_a_name_that_is_not_a_column_is_refused():
    with pytest.raises(AssertionError):
        _entry_new(member=object())
