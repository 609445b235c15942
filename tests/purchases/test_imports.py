"""The past purchases import (API.md `import_purchases`): the dry run names
every bad line, the run imports the rest through the sale flow as the
program would have earned them then (expiry from occurred_at, no campaign),
a second run imports nothing, the ledger stays sound, and --no-points writes
purchases and lines only."""

from __future__ import annotations

import io
from datetime import timedelta
from decimal import Decimal
from io import StringIO

import pytest
from django.core.management import call_command
from django.db import transaction
from django.utils import timezone
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from loyalty.actors import Actor
from loyalty.imports import ImportReport, import_file_run
from members.checks import ledger_problems
from members.models import EntryKind, PointsEntry
from purchases.inputs import LineInput, SaleInput
from purchases.models import Purchase, PurchaseLine
from purchases.services import purchase_record
from tests.factories import MemberFactory

pytestmark = pytest.mark.django_db

HEADER = "store,reference,occurred_at,member,sku,name,category,quantity,unit_price,earns,discount\n"


@pytest.fixture
def people(program, tiers):
    return [
        MemberFactory(user=None, email=f"p{n}@example.com", phone=f"0129{n:06d}") for n in range(5)
    ]


def history(people, *, rows: int = 100, bad_lines: tuple[int, ...] = (12, 50, 77)) -> bytes:
    """`rows` rows: purchases of 1 to 3 lines, members named by email, phone
    or card number (or none), dated a week apart back from 300 days ago, and
    at `bad_lines` single-row purchases that are bad, between the others."""
    now = timezone.now()
    bad = {
        12: f"klcc,BAD1,{now.isoformat()},nobody@example.com,SKU-1,,,1,1.00,,\n",
        50: f"klcc,BAD2,{now.isoformat()},,SKU-1,,,100001,1.00,,\n",
        77: f"nowhere,BAD3,{now.isoformat()},,SKU-1,,,1,1.00,,\n",
    }
    lines, n = [], 0
    while len(lines) < rows:
        line = len(lines) + 2
        if line in bad_lines:
            lines.append(bad[line])
            continue
        room = min([b - line for b in bad_lines if b > line] + [rows + 2 - line])
        size = min(3 if n % 2 else 2, room)
        member = people[n % len(people)]
        who = [member.email, member.phone, member.card_number, ""][n % 4]
        when = (now - timedelta(days=300 - n * 7)).isoformat()
        for k in range(size):
            lines.append(f"klcc,R{n},{when},{who},SKU-{k},Item {k},cat,{k + 1},10.00,,0.50\n")
        n += 1
    return (HEADER + "".join(lines)).encode()


def run(data: bytes, **options) -> ImportReport:
    return import_file_run(
        kind="purchases", stream=io.BytesIO(data), actor=Actor.system(), **options
    )


def test_the_dry_run_names_the_three_bad_lines_and_writes_nothing(people):
    report = run(history(people), dry_run=True)
    assert [p.split(":")[0] for p in report.problems] == ["line 12", "line 50", "line 77"]
    assert "unknown member" in report.problems[0] and "quantity" in report.problems[1]
    assert "unknown store" in report.problems[2]
    assert (report.errors, report.imported + report.skipped) == (3, 97)
    assert not Purchase.objects.exists() and not PointsEntry.objects.filter(kind="earn").exists()


def test_the_run_imports_97_rows_and_a_second_run_nothing_and_the_ledger_is_sound(people):
    data = history(people)
    first = run(data)
    assert (first.imported, first.skipped, first.errors) == (97, 0, 3)
    assert PurchaseLine.objects.count() == 97
    assert ledger_problems() == []
    earned = PointsEntry.objects.filter(kind__in=["earn", "bonus"]).count()
    assert earned > 0
    again = run(data)
    assert (again.imported, again.skipped, again.errors) == (0, 97, 3)
    assert PurchaseLine.objects.count() == 97
    assert PointsEntry.objects.filter(kind__in=["earn", "bonus"]).count() == earned
    assert ledger_problems() == []


def test_imported_points_expire_counted_from_occurred_at(people):
    member = people[0]
    now = timezone.now()
    recent, old = now - timedelta(days=100), now - timedelta(days=400)
    data = HEADER + (
        f"klcc,OLD,{old.isoformat()},{member.email},A,,,1,50.00,,\n"
        f"klcc,NEW,{recent.isoformat()},{member.email},A,,,1,20.00,,\n"
    )
    assert run(data.encode()).imported == 2
    entry = PointsEntry.objects.get(kind=EntryKind.EARN, points=20)
    assert entry.expires_at == recent + timedelta(days=365)
    assert entry.created_at == recent
    gone = PointsEntry.objects.get(kind=EntryKind.EARN, points=50)
    assert gone.expires_at == old + timedelta(days=365)
    assert PointsEntry.objects.filter(kind=EntryKind.EXPIRE, lot=gone, points=-50).exists()
    member.account.refresh_from_db()
    assert member.account.balance == 20 and ledger_problems() == []
    purchase = Purchase.objects.get(reference="NEW")
    assert purchase.occurred_at == recent and purchase.recorded_at > recent


def test_a_line_of_an_existing_store_and_reference_is_skipped(people, program):
    store = program.main_store
    purchase_record(
        sale=SaleInput(
            store=store,
            reference="LIVE-1",
            member=None,
            occurred_at=timezone.now(),
            items=[LineInput(sku="TILL", quantity=1, unit_price=Decimal("5.00"))],
        ),
        actor=Actor.system(),
    )
    when = (timezone.now() - timedelta(days=3)).isoformat()
    data = HEADER + (f"klcc,LIVE-1,{when},,OTHER,,,2,9.00,,\nklcc,NEW-1,{when},,A,,,1,3.00,,\n")
    report = run(data.encode())
    assert (report.imported, report.skipped, report.errors) == (1, 1, 0)
    assert list(Purchase.objects.get(reference="LIVE-1").lines.values_list("sku", flat=True)) == [
        "TILL"
    ]


def test_imported_history_earns_base_and_tier_points_but_no_campaign(people):
    from tests.campaigns.factories import make_campaign

    make_campaign(kind="multiplier", params={"factor": "3.00"})
    when = (timezone.now() - timedelta(days=2)).isoformat()
    run((HEADER + f"klcc,C1,{when},{people[0].email},A,,,1,40.00,,\n").encode())
    purchase = Purchase.objects.get(reference="C1")
    assert purchase.points_earned == 40
    assert not PointsEntry.objects.filter(source_id=str(purchase.pk), kind="bonus").exists()


def test_the_tier_reached_in_the_history_applies_to_the_later_purchases(people):
    member = people[1]
    start = timezone.now() - timedelta(days=60)
    data = HEADER + (
        f"klcc,T1,{start.isoformat()},{member.email},BIG,,,1,10000.00,,\n"
        f"klcc,T2,{(start + timedelta(days=1)).isoformat()},{member.email},A,,,1,100.00,,\n"
    )
    run(data.encode())
    member.refresh_from_db()
    assert member.tier.code == "silver" and member.tier_since == start
    assert Purchase.objects.get(reference="T2").points_earned == 150
    assert ledger_problems() == []


def test_rows_of_one_purchase_that_disagree_or_come_apart_are_bad(people):
    now = timezone.now()
    a, b = (now - timedelta(days=5)).isoformat(), (now - timedelta(days=4)).isoformat()
    data = HEADER + (
        f"klcc,D1,{a},,A,,,1,1.00,,\n"
        f"klcc,D1,{b},,B,,,1,1.00,,\n"
        f"klcc,S1,{a},,A,,,1,1.00,,\n"
        f"klcc,X1,{a},,A,,,1,1.00,,\n"
        f"klcc,S1,{a},,B,,,1,1.00,,\n"
    )
    report = run(data.encode())
    assert report.problems == [
        "line 2: not imported: line 3 of the same purchase is bad",
        "line 3: occurred_at differs from line 2 of the same purchase",
        "line 6: the rows of receipt S1 at store klcc are not together: it came earlier in "
        "the file",
    ]
    assert (report.imported, report.errors) == (2, 3)


def test_without_points_purchases_and_lines_are_written_and_no_ledger_entry(people):
    data = history(people)
    report = run(data, no_points=True)
    assert (report.imported, report.skipped, report.errors) == (97, 0, 3)
    assert PurchaseLine.objects.count() == 97 and not Purchase.objects.filter(
        reference__startswith="BAD"
    )
    assert not PointsEntry.objects.filter(kind__in=["earn", "bonus"]).exists()
    purchase = Purchase.objects.get(reference="R1")
    assert purchase.subtotal == Decimal("60.00") and purchase.total == Decimal("58.50")
    assert sorted(purchase.lines.values_list("discount_share", flat=True)) == [Decimal("0.50")] * 3
    assert purchase.response and '"points_earned": 0' in purchase.response
    assert run(data, no_points=True).skipped == 97


def test_the_command_prints_the_bad_lines_and_the_counts(people, tmp_path):
    path = tmp_path / "purchases.csv"
    path.write_bytes(history(people))
    out = StringIO()
    call_command("import_purchases", str(path), "--no-points", stdout=out)
    lines = out.getvalue().splitlines()
    assert [line.split(":")[0] for line in lines[:3]] == ["line 12", "line 50", "line 77"]
    assert lines[-1] == "imported 97, skipped 0, errors 3"


@settings(
    max_examples=10, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture]
)
@given(cut=st.integers(0, 40), no_points=st.booleans())
def test_a_file_imported_in_two_parts_gives_what_one_run_gives(people, cut, no_points):
    """Cut between two purchases anywhere, the two runs give the purchases,
    lines and ledger one run gives."""
    data = history(people, rows=30, bad_lines=()).decode()
    header, *rows = data.splitlines(keepends=True)
    starts = [
        i for i, row in enumerate(rows) if i == 0 or row.split(",")[1] != rows[i - 1].split(",")[1]
    ]
    at = starts[min(cut, len(starts) - 1)] if cut < len(starts) else len(rows)

    def outcome(parts: list[list[str]]) -> tuple:
        with transaction.atomic():
            for part in parts:
                run((header + "".join(part)).encode(), no_points=no_points)
            result = (
                sorted(
                    Purchase.objects.values_list(
                        "reference", "total", "points_earned", "member__email"
                    ),
                    key=str,
                ),
                sorted(
                    PointsEntry.objects.values_list(
                        "member__email", "kind", "points", "expires_at"
                    ),
                    key=str,
                ),
                ledger_problems(),
            )
            transaction.set_rollback(True)
        return result

    assert outcome([rows]) == outcome([rows[:at], rows[at:]])


def test_the_bulk_columns_are_every_column_of_the_tables():
    from purchases.import_points import LINE_COLUMNS, PURCHASE_COLUMNS

    assert tuple(f.attname for f in Purchase._meta.concrete_fields) == PURCHASE_COLUMNS
    assert tuple(f.attname for f in PurchaseLine._meta.concrete_fields) == LINE_COLUMNS


def test_an_imported_history_tells_nobody(people, monkeypatch, django_capture_on_commit_callbacks):
    """No points-earned message (even to a member who asked for them), no
    purchase.recorded webhook, nothing sent by any channel: an inbox entry at
    most, dated then."""
    from django.core import mail

    from loyalty.models import NotificationDelivery, WebhookEvent
    from loyalty.webhooks import webhook_endpoint_create
    from members.notifications import member_notification_preferences_set

    member_notification_preferences_set(
        member=people[0], choices={("points_earned", "email"): True}
    )
    webhook_endpoint_create(
        actor=Actor.system(), url="https://93.184.216.34/sales", events=["purchase.recorded"]
    )
    NotificationDelivery.objects.all().delete()  # the members' own welcomes
    mail.outbox.clear()
    with django_capture_on_commit_callbacks(execute=True):
        report = run(history(people, rows=20, bad_lines=()))
    assert report.imported == 20
    assert not WebhookEvent.objects.filter(type="purchase.recorded").exists()
    assert not people[0].notifications.filter(kind="points_earned").exists()
    assert list(NotificationDelivery.objects.values_list("notification__kind", "channel")) == []
    assert mail.outbox == []


@pytest.mark.postgres
@pytest.mark.django_db(transaction=True)
def test_without_points_the_copy_thread_writes_each_batch_once_and_a_rerun_nothing(
    people, monkeypatch
):
    """Outside a transaction on PostgreSQL the batches are written by COPY in
    a thread of their own while the next is read: every good row is written
    once, a receipt a till recorded meanwhile is skipped (the batch written
    again without it), and a second run imports nothing."""
    from purchases import imports

    monkeypatch.setattr(imports, "BATCH_COPY", 7)
    data = history(people)
    original = imports._copy_batch
    recorded = []

    def a_till_records_r5_first(ready, program, now, *rows, **options):
        if not recorded and any(p.reference == "R5" for p in ready):
            recorded.append(
                purchase_record(
                    sale=SaleInput(
                        store=program.main_store,
                        reference="R5",
                        member=None,
                        occurred_at=timezone.now(),
                        items=[LineInput(sku="TILL", quantity=1, unit_price=Decimal("5.00"))],
                    ),
                    actor=Actor.system(),
                )
            )
        return original(ready, program, now, *rows, **options)

    monkeypatch.setattr(imports, "_copy_batch", a_till_records_r5_first)
    report = run(data, no_points=True)
    r5 = data.decode().count(",R5,")
    assert (report.imported, report.skipped, report.errors) == (97 - r5, r5, 3)
    assert PurchaseLine.objects.count() == 97 - r5 + 1
    assert list(Purchase.objects.get(reference="R5").lines.values_list("sku", flat=True)) == [
        "TILL"
    ]
    again = run(data, no_points=True)
    assert (again.imported, again.skipped, again.errors) == (0, 97, 3)
    assert PurchaseLine.objects.count() == 97 - r5 + 1


def test_a_nul_in_a_cell_is_the_rows_reason_and_other_text_is_stored_as_written(people):
    """A NUL anywhere in a row names its cell (the first such one); text
    that is not ASCII and a cell escaped against spreadsheets go in as they
    were written."""
    when = (timezone.now() - timedelta(days=3)).isoformat()
    data = HEADER + (
        f"klcc,N1,{when},,A,Te\x00h,c\x00t,1,1.00,,\n"
        f"klcc,N2,{when},,A,Teh tarik 拉茶,minuman,1,2.00,,\n"
        f"klcc,N3,{when},,A,'=cheap,'+1,1,3.00,,\n"
    )
    report = run(data.encode(), no_points=True)
    assert report.problems == ["line 2: name: Null characters are not allowed."]
    assert (report.imported, report.errors) == (2, 1)
    assert PurchaseLine.objects.get(purchase__reference="N2").name == "Teh tarik 拉茶"
    line = PurchaseLine.objects.get(purchase__reference="N3")
    assert (line.name, line.category) == ("=cheap", "+1")


def test_the_import_fingerprint_is_the_sale_flows(people):
    """A receipt imported without points carries the fingerprint and receipt
    the sale flow gives it, so a till sending it again is answered alike."""
    when = timezone.now() - timedelta(days=3)
    member = people[0]
    data = HEADER + (
        f"klcc,F1,{when.isoformat()},{member.email},A,Tea,drinks,2,4.50,,0.50\n"
        f"klcc,F1,{when.isoformat()},{member.email},B,,,1,3.00,false,\n"
    )
    assert run(data.encode(), no_points=True).imported == 2
    purchase = Purchase.objects.get(reference="F1")
    sale = SaleInput(
        store=purchase.store,
        reference="F1",
        member=member,
        occurred_at=when,
        items=[
            LineInput(
                sku="A", quantity=2, unit_price=Decimal("4.50"), name="Tea", category="drinks"
            ),
            LineInput(sku="B", quantity=1, unit_price=Decimal("3.00"), earns=False),
        ],
        discount_total=Decimal("0.50"),
        line_discounts=(Decimal("0.50"), Decimal("0.00")),
        imported=True,
    )
    replayed = purchase_record(sale=sale, actor=Actor.system())
    assert replayed.replayed and replayed.record_id == purchase.pk
    assert replayed.receipt["total"] == "11.50" and replayed.receipt["points_earned"] == 0


@pytest.mark.postgres
@pytest.mark.django_db(transaction=True)
def test_with_points_the_writer_thread_imports_each_batch_once_and_tells_nobody(
    people, monkeypatch
):
    """Outside a transaction on PostgreSQL the batches with points are
    written in a thread of their own while the next is read: every good row
    once, the tiers reached in one batch applying to the next, the ledger
    sound, nothing sent (the thread keeps the import's deliveries_off), and
    a second run imports nothing."""
    from loyalty.models import NotificationDelivery
    from purchases import imports

    monkeypatch.setattr(imports, "BATCH", 7)
    member = people[1]
    start = timezone.now() - timedelta(days=60)
    data = (
        history(people)
        + (
            f"klcc,T1,{start.isoformat()},{member.email},BIG,,,1,10000.00,,\n"
            + "".join(
                f"klcc,T{n},{(start + timedelta(days=n)).isoformat()},{member.email},A,,,1,99,,\n"
                for n in range(2, 12)
            )
        ).encode()
    )
    NotificationDelivery.objects.all().delete()  # the members' own welcomes
    report = run(data)
    assert (report.imported, report.skipped, report.errors) == (108, 0, 3)
    assert ledger_problems() == []
    assert set(
        Purchase.objects.filter(reference__in=[f"T{n}" for n in range(2, 12)]).values_list(
            "points_earned", flat=True
        )
    ) == {148}  # RM99 at ×1.5
    assert not NotificationDelivery.objects.exists()
    again = run(data)
    assert (again.imported, again.skipped, again.errors) == (0, 108, 3)


def test_a_member_blocked_during_the_run_earns_nothing_in_the_later_batches(people, monkeypatch):
    """Members are looked up once a run; with points each batch reads their
    status again, so one blocked after the first batch has their later
    purchases refused with the sale flow's reason."""
    from members.models import Member, MemberStatus
    from purchases import imports

    monkeypatch.setattr(imports, "BATCH", 1)
    member = people[2]
    when = (timezone.now() - timedelta(days=9)).isoformat()
    data = HEADER + (
        f"klcc,K1,{when},{member.email},A,,,1,10.00,,\nklcc,K2,{when},{member.email},A,,,1,10.00,,\n"
    )
    original = imports.sales_import

    def block_after_the_first(**kwargs):
        outcomes = original(**kwargs)
        Member.objects.filter(pk=member.pk).update(status=MemberStatus.BLOCKED)
        return outcomes

    monkeypatch.setattr(imports, "sales_import", block_after_the_first)
    report = run(data.encode())
    assert (report.imported, report.errors) == (1, 1)
    assert report.problems == ["line 3: This member is blocked or deleted."]
    assert list(Purchase.objects.values_list("reference", flat=True)) == ["K1"]
