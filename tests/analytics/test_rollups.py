"""The roll-ups (analytics.rollups): pure functions of the raw rows of their
day, kept fresh by the `rollups` job without a statement on the sale path."""

from __future__ import annotations

from datetime import datetime, timedelta
from decimal import Decimal
from zoneinfo import ZoneInfo

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from analytics.models import (
    ActiveCell,
    BuyerCell,
    CohortCell,
    CohortDay,
    LedgerDay,
    MemberDay,
    MemberMonth,
    StoreDay,
)
from analytics.rollups import rollups_refresh, rollups_run
from loyalty.actors import Actor
from loyalty.jobs import job_run
from purchases.models import Purchase
from purchases.returns import purchase_return
from tests.analytics.factories import bought
from tests.factories import MemberFactory, StoreFactory

pytestmark = pytest.mark.django_db
KL = ZoneInfo("Asia/Kuala_Lumpur")
NOW = datetime(2026, 11, 20, 15, 0, tzinfo=KL)


_emails = iter(range(1, 10_000))


def person(**extra):
    """A member who joined two months before NOW."""
    return MemberFactory(
        user=None,
        email=f"m{next(_emails)}@example.com",
        joined_at=NOW - timedelta(days=60),
        **extra,
    )


def rows(model: type) -> list[tuple]:
    fields = [f.attname for f in model._meta.concrete_fields if f.name != "id"]
    return sorted(model.objects.values_list(*fields))


def all_rows() -> dict[str, list[tuple]]:
    return {
        m.__name__: rows(m)
        for m in (
            StoreDay,
            LedgerDay,
            MemberMonth,
            BuyerCell,
            MemberDay,
            ActiveCell,
            CohortDay,
            CohortCell,
        )
    }


def returned(purchase: Purchase, amount: str, at: datetime, ref: str = "RET") -> None:
    purchase_return(
        purchase=purchase,
        reference=ref,
        actor=Actor.system(),
        amount=Decimal(amount),
        now=at,
    )


def test_a_day_computed_twice_gives_the_same_rows(program, tiers):
    other = StoreFactory(code="mall")
    ali, siti = person(), person()
    bought(ali, program.main_store, at=NOW - timedelta(hours=3), amount="30.00")
    bought(ali, other, at=NOW - timedelta(hours=2), amount="12.50")
    sale = bought(siti, other, at=NOW - timedelta(hours=1), amount="40.00")
    bought(None, other, at=NOW - timedelta(hours=1), amount="9.90")
    returned(sale, "10.00", NOW)
    day = NOW.date()
    rollups_refresh(start=day, end=day)
    first = all_rows()
    rollups_refresh(start=day, end=day)
    assert all_rows() == first
    mall = StoreDay.objects.get(day=day, store=other)
    assert (mall.sales, mall.amount, mall.member_sales, mall.member_amount) == (
        3,
        Decimal("52.40"),
        2,
        Decimal("42.50"),
    )
    assert mall.returned_amount == Decimal("10.00")
    assert MemberMonth.objects.get(member=siti).amount == Decimal("30.00")


def test_the_job_refreshes_the_day_of_a_backdated_sale(program, tiers):
    ali = person()
    bought(ali, program.main_store, at=NOW, amount="10.00")
    job_run("rollups", as_of=NOW + timedelta(hours=1))
    late_day = NOW - timedelta(days=9)
    # A till that was offline sends a sale of nine days ago today.
    bought(
        ali, program.main_store, at=late_day, recorded_at=NOW + timedelta(hours=2), amount="25.00"
    )
    assert not StoreDay.objects.filter(day=late_day.date()).exists()
    rollups_run(as_of=NOW + timedelta(hours=3))
    assert StoreDay.objects.get(day=late_day.date()).amount == Decimal("25.00")
    assert StoreDay.objects.get(day=NOW.date()).amount == Decimal("10.00")


def test_a_return_changes_the_day_of_its_sale_and_nets_to_zero_in_parts(program, tiers):
    ali = person()
    sale_at = NOW - timedelta(days=5)
    sale = bought(ali, program.main_store, at=sale_at, amount="100.00")
    rollups_run(as_of=NOW)
    day = StoreDay.objects.get(day=sale_at.date())
    assert day.amount == Decimal("100.00") and day.points_earned == 100
    returned(sale, "33.33", NOW + timedelta(hours=1), "R1")
    returned(sale, "33.33", NOW + timedelta(hours=2), "R2")
    rollups_run(as_of=NOW + timedelta(hours=3))
    day = StoreDay.objects.get(day=sale_at.date())
    assert day.amount == Decimal("33.34")
    returned(sale, "33.34", NOW + timedelta(hours=4), "R3")
    rollups_run(as_of=NOW + timedelta(hours=5))
    day = StoreDay.objects.get(day=sale_at.date())
    assert (day.sales, day.amount, day.points_earned) == (1, Decimal("0.00"), 0)
    # A sale returned in full is no purchase of its member's month any more.
    month = MemberMonth.objects.get(member=ali)
    assert (month.purchases, month.amount) == (0, Decimal("0.00"))
    # The ledger's days: earned on the sale's day, reversed on the returns' day.
    ledger = {row.day: row for row in LedgerDay.objects.all()}
    assert ledger[sale_at.date()].earned == 100
    assert sum(row.reversed for row in ledger.values()) == 100
    assert sum(row.net for row in ledger.values()) == 0


def test_running_the_job_twice_for_the_same_time_changes_nothing(program, tiers):
    ali = person()
    bought(ali, program.main_store, at=NOW - timedelta(days=40), amount="10.00")
    rollups_run(as_of=NOW)
    first = all_rows()
    rollups_run(as_of=NOW)
    assert all_rows() == first


@settings(
    max_examples=15,
    deadline=None,
    suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow],
)
@given(
    sales=st.lists(
        st.tuples(
            st.integers(min_value=0, max_value=40),  # hours before NOW
            st.integers(min_value=100, max_value=9999),  # cents
            st.booleans(),  # a member's sale
            st.lists(st.integers(min_value=1, max_value=60), max_size=3),  # return shares %
        ),
        min_size=1,
        max_size=6,
    )
)
def test_roll_up_totals_equal_the_sums_over_raw_purchases(program, tiers, sales):
    ali = person()
    made = []
    for i, (hours, cents, is_member, shares) in enumerate(sales):
        at = NOW - timedelta(hours=hours)
        amount = Decimal(cents) / 100
        sale = bought(ali if is_member else None, program.main_store, at=at, amount=str(amount))
        left = amount
        for j, share in enumerate(shares):
            part = min(left, (amount * share / 100).quantize(Decimal("0.01")))
            if part <= 0:
                break
            returned(sale, str(part), NOW + timedelta(minutes=i * 10 + j), f"R{i}-{j}")
            left -= part
        made.append(sale.pk)
    first, last = (NOW - timedelta(hours=41)).date(), NOW.date()
    rollups_refresh(start=first, end=last)
    # Examples share the test's database: the figures cover every sale so far.
    raw = Purchase.objects.prefetch_related("returns")
    expected = sum(
        (p.total - sum((r.amount for r in p.returns.all()), Decimal("0")) for p in raw),
        Decimal("0"),
    )
    days = StoreDay.objects.filter(day__gte=first, day__lte=last)
    assert sum((d.amount for d in days), Decimal("0")) == expected
    assert sum(d.sales for d in days) == len(raw)
    member_expected = sum(
        (
            p.total - sum((r.amount for r in p.returns.all()), Decimal("0"))
            for p in raw
            if p.member_id
        ),
        Decimal("0"),
    )
    months = MemberMonth.objects.all()
    assert sum((m.amount for m in months), Decimal("0")) == member_expected
    assert sum((d.member_amount for d in days), Decimal("0")) == member_expected


@settings(
    max_examples=8,
    deadline=None,
    suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow],
)
@given(
    sales=st.lists(
        st.tuples(
            st.integers(min_value=0, max_value=3),  # which member
            st.integers(min_value=0, max_value=120),  # days before NOW
            st.booleans(),  # returned in full later
        ),
        min_size=1,
        max_size=8,
    ),
    split=st.integers(min_value=0, max_value=8),
)
def test_buyer_cells_kept_by_the_job_equal_a_rebuild_and_a_count_over_purchases(
    program, tiers, sales, split
):
    from analytics.kpis import Period, buyers_kpi, members_kpi, retention_kpi
    from analytics.rollups import _cells_rebuild

    members = [person() for _ in range(4)]
    for i, (who, days, back) in enumerate(sales):
        sale = bought(
            members[who],
            program.main_store,
            at=NOW - timedelta(days=days),
            recorded_at=NOW + timedelta(minutes=i),
            amount="10.00",
        )
        if back:
            returned(sale, "10.00", NOW + timedelta(minutes=i, seconds=30), f"B{i}")
        if i == split:
            rollups_run(as_of=NOW + timedelta(minutes=i, seconds=40))
    rollups_run(as_of=NOW + timedelta(hours=5))
    kept = rows(BuyerCell), rows(ActiveCell)
    _cells_rebuild()
    assert (rows(BuyerCell), rows(ActiveCell)) == kept
    # Distinct buyers by brute force over the sales (of every example so far:
    # they share the test's database, and the job keeps all of them).
    ours = Purchase.objects.filter(member__isnull=False).prefetch_related("returns")
    bought_in: dict[int, list] = {}
    bought_on: dict[int, set] = {}
    for p in ours:
        if sum((r.amount for r in p.returns.all()), Decimal("0")) < p.total:
            month = p.occurred_at.astimezone(KL).date().replace(day=1)
            bought_in.setdefault(p.member_id, []).append(month)
            bought_on.setdefault(p.member_id, set()).add(p.occurred_at.astimezone(KL).date())
    for end in (NOW.date(), NOW.date() - timedelta(days=31), NOW.date() - timedelta(days=77)):
        since = end - timedelta(days=89)
        active = sum(1 for days in bought_on.values() if any(since <= d <= end for d in days))
        assert members_kpi(period=Period(end, end)).active == active
    months = sorted({m for ms in bought_in.values() for m in ms})
    for first in months:
        for last in [m for m in months if m >= first]:
            inside = {k: [m for m in v if first <= m <= last] for k, v in bought_in.items()}
            buyers = sum(1 for v in inside.values() if v)
            repeat = sum(1 for v in inside.values() if len(v) >= 2)
            month_end = (last.replace(day=28) + timedelta(days=4)).replace(day=1)
            period = Period(first, month_end - timedelta(days=1))
            figures = buyers_kpi(period=period)
            assert (figures.buyers, figures.repeat_buyers) == (buyers, repeat)
            # Retention: buyers of the month before who bought again in `first`..
            if first == last:
                before = (first - timedelta(days=1)).replace(day=1)
                base = {k for k, v in bought_in.items() if before in v}
                back_again = {k for k in base if first in bought_in[k]}
                retention = retention_kpi(period=Period(first, period.end))
                assert (retention.base, retention.retained) == (len(base), len(back_again))


def test_rollups_rebuild_rewrites_a_range_and_refuses_bad_dates(program, tiers):
    from io import StringIO

    from django.core.management import CommandError, call_command

    from analytics.models import RollupState

    ali = person()
    bought(ali, program.main_store, at=NOW - timedelta(days=3), amount="12.00")
    out = StringIO()
    call_command("rollups_rebuild", "--from", "2026-11-01", "--to", "2026-11-30", stdout=out)
    assert out.getvalue().startswith("rolled up 30 days from 2026-11-01 to 2026-11-30")
    assert StoreDay.objects.get(day=(NOW - timedelta(days=3)).date()).amount == Decimal("12.00")
    for args in (["--from", "2026-13-01"], ["--from", "2026-11-30", "--to", "2026-11-01"]):
        with pytest.raises(CommandError):
            call_command("rollups_rebuild", *args, stdout=StringIO())
    # All history: the job's next run starts after what the rebuild saw.
    call_command("rollups_rebuild", stdout=StringIO())
    state = RollupState.objects.get(pk=1)
    assert state.purchase_id == Purchase.objects.latest("pk").pk


def test_cells_moved_in_batches_of_one_buyer_equal_a_rebuild(program, tiers, monkeypatch):
    from analytics import rollups
    from analytics.rollups import _cells_rebuild

    monkeypatch.setattr(rollups, "CELL_BATCH", 1)
    mall = StoreFactory(code="mall")
    people = [person() for _ in range(3)]
    rollups_run(as_of=NOW - timedelta(days=60))
    for i, member in enumerate(people):
        bought(member, program.main_store, at=NOW - timedelta(days=40 + i), amount="10.00")
        bought(member, mall, at=NOW - timedelta(days=2), amount="5.00")
    sale = bought(people[0], mall, at=NOW - timedelta(days=1), amount="7.00")
    returned(sale, "7.00", NOW, "ALL")
    rollups_run(as_of=NOW + timedelta(hours=1))
    kept = rows(BuyerCell), rows(ActiveCell)
    _cells_rebuild()
    assert (rows(BuyerCell), rows(ActiveCell)) == kept
    assert BuyerCell.objects.filter(store_key=mall.pk).exists()


def cells() -> tuple[list[tuple], ...]:
    return rows(BuyerCell), rows(ActiveCell), rows(CohortDay), rows(CohortCell)


def test_a_member_in_two_stores_moves_once_when_batches_are_of_one_pair(
    program, tiers, monkeypatch
):
    """A member who bought at two stores on a refreshed day has two (member,
    store) pairs; with batches of one pair they still go in one batch, or
    their cells across stores would move twice."""
    from analytics import rollups
    from analytics.rollups import _cells_rebuild

    monkeypatch.setattr(rollups, "CELL_BATCH", 1)
    mall = StoreFactory(code="mall")
    ali, siti = person(home_store=mall), person()
    bought(ali, program.main_store, at=NOW - timedelta(days=35), amount="10.00")
    rollups_run(as_of=NOW - timedelta(days=30))
    for member in (ali, siti):
        bought(member, program.main_store, at=NOW - timedelta(days=1), amount="10.00")
        bought(member, mall, at=NOW - timedelta(days=1, hours=-1), amount="5.00")
    rollups_run(as_of=NOW + timedelta(hours=1))
    kept = cells()
    _cells_rebuild()
    assert cells() == kept


def test_cohort_cells_kept_by_the_job_equal_the_count_over_members(program, tiers):
    """The heat map from the cohort cells equals the distinct count over the
    members' months (the computation of before, kept for tiers and
    segments) for every store and period, as the job keeps them through a
    backdated sale, a return, a deletion and a change of home store; and a
    rebuild writes the same cells."""
    from analytics.kpis import ALL, Period, Scope, _cohorts_from_cells, _cohorts_of_members
    from analytics.rollups import _cells_rebuild
    from members.privacy import member_erase
    from members.services import member_update

    main, mall = program.main_store, StoreFactory(code="mall")

    def joiner(days_ago: int, home) -> object:
        return MemberFactory(
            user=None,
            email=f"c{next(_emails)}@example.com",
            joined_at=NOW - timedelta(days=days_ago),
            home_store=home,
        )

    # Joined in September, October and November, at each home store or none;
    # the last on 18 November, after a period that ends on the 15th.
    people = [joiner(d, h) for d in (75, 50, 40, 20, 2) for h in (main, mall, None)]
    for i, member in enumerate(people):
        for k, days in enumerate((45, 30, 12, 1)):
            if (i + k) % 3:
                bought(member, (main, mall)[(i * k) % 2], at=NOW - timedelta(days=days, hours=i))
    rollups_run(as_of=NOW + timedelta(hours=1))

    def check() -> None:
        for scope in (ALL, Scope(store=main), Scope(store=mall)):
            for start, end in (
                (NOW.date() - timedelta(days=90), NOW.date()),
                (NOW.date().replace(day=1), NOW.date()),
                (NOW.date() - timedelta(days=60), NOW.date() - timedelta(days=5)),
            ):
                period = Period(start, end)
                assert _cohorts_from_cells(period, scope) == _cohorts_of_members(period, scope)
        kept = rows(CohortDay), rows(CohortCell)
        _cells_rebuild()
        assert (rows(CohortDay), rows(CohortCell)) == kept

    check()
    assert CohortCell.objects.filter(store_key=mall.pk).exists()
    # A backdated sale: a till offline since October.
    bought(
        people[1],
        mall,
        at=NOW - timedelta(days=33),
        recorded_at=NOW + timedelta(hours=2),
        amount="9.00",
    )
    rollups_run(as_of=NOW + timedelta(hours=3))
    check()
    # A sale returned in full: no purchase of its month any more.
    sale = Purchase.objects.filter(member=people[4]).order_by("occurred_at").first()
    returned(sale, str(sale.total), NOW + timedelta(hours=4), "ALL")
    rollups_run(as_of=NOW + timedelta(hours=5))
    check()
    # A deletion and a move to another home store: no sale, no entry, no new
    # member; the job finds them by their audit events.
    member_erase(actor=Actor.system(), member=people[3], now=NOW + timedelta(hours=6))
    member_update(actor=Actor.system(), member=people[6], home_store=mall)
    member_update(actor=Actor.system(), member=people[8], home_store=main)
    rollups_run(as_of=NOW + timedelta(hours=7))
    check()
    # Recomputing a day gives the same rows.
    before = cells()
    day = (NOW - timedelta(days=12)).date()
    rollups_refresh(start=day, end=day)
    assert cells() == before


def test_rows_kept_by_difference_equal_a_rebuild(program, tiers):
    """A refresh writes only the member-months and member-days that changed:
    after backdated sales, a sale returned in full (its day's row goes) and
    one returned in part, every roll-up row equals a rebuild's."""
    from analytics.rollups import rollups_rebuild

    mall = StoreFactory(code="mall")
    ali, siti = person(), person(home_store=mall)
    first = bought(ali, program.main_store, at=NOW - timedelta(days=20), amount="30.00")
    bought(siti, mall, at=NOW - timedelta(days=20), amount="15.00")
    bought(siti, program.main_store, at=NOW - timedelta(days=3), amount="8.00")
    rollups_run(as_of=NOW)
    late = bought(
        ali, mall, at=NOW - timedelta(days=20), recorded_at=NOW + timedelta(hours=1), amount="12.00"
    )
    returned(first, "30.00", NOW + timedelta(hours=1), "FULL")
    returned(late, "2.00", NOW + timedelta(hours=1), "PART")
    rollups_run(as_of=NOW + timedelta(hours=2))
    assert not MemberDay.objects.filter(
        member=ali, store=program.main_store, day=(NOW - timedelta(days=20)).date()
    ).exists()
    kept = {name: rows(model) for name, model in (("months", MemberMonth), ("days", MemberDay))}
    kept["cells"] = cells()
    rollups_rebuild(start=(NOW - timedelta(days=90)).date(), end=NOW.date())
    again = {name: rows(model) for name, model in (("months", MemberMonth), ("days", MemberDay))}
    again["cells"] = cells()
    assert again == kept
