"""The back-office lists of purchases and of the ledger and their CSV exports:
an export holds exactly the rows its page's filters select, streamed, every
cell escaped, numbers plain, times ISO in the program's time zone; store
staff get their own store's rows only; every export is audited."""

from __future__ import annotations

import csv
import io
from datetime import datetime
from decimal import Decimal
from zoneinfo import ZoneInfo

import pytest
from django.http import StreamingHttpResponse
from django.urls import reverse
from django.utils import timezone, translation

from loyalty.actors import Actor
from loyalty.models import AuditEvent
from members.models import EntryKind, PointsEntry
from members.points import points_adjust
from purchases.inputs import LineInput, SaleInput
from purchases.models import Purchase
from purchases.returns import ReturnItem, purchase_return
from purchases.services import purchase_record
from tests.factories import MemberFactory, StaffUserFactory, StoreFactory

pytestmark = pytest.mark.django_db

KL = ZoneInfo("Asia/Kuala_Lumpur")


def rows_of(response) -> list[list[str]]:
    assert isinstance(response, StreamingHttpResponse)
    return list(csv.reader(io.StringIO(b"".join(response.streaming_content).decode())))


def listed(response) -> list[int]:
    """The ids of every row of the page's list, all its pages."""
    return [row.pk for row in response.context["page_obj"].paginator.object_list]


def sell(store, reference: str, member, *, when: datetime, price: str = "50.00") -> Purchase:
    sale = SaleInput(
        store=store,
        reference=reference,
        member=member,
        occurred_at=when,
        items=[LineInput(sku="SHOE", quantity=2, unit_price=Decimal(price))],
    )
    return Purchase.objects.get(pk=purchase_record(sale=sale, actor=Actor.system()).record_id)


@pytest.fixture
def shops(program, tiers):
    """Two stores; at each, sales on two days by the shopper (one returned)."""
    bangsar = StoreFactory(code="bangsar", name="Bangsar")
    mid = StoreFactory(code="mid", name="Mid Valley")
    shopper = MemberFactory(user=None, email="s@example.com", first_name='=HYPERLINK("x","y")')
    now = timezone.now()
    day1 = now - timezone.timedelta(days=3)
    made = {
        "b1": sell(bangsar, "+B-1", shopper, when=day1),
        "b2": sell(bangsar, "B-2", shopper, when=now),
        "m1": sell(mid, "@M-1", shopper, when=day1),
        "m2": sell(mid, "-M-2", shopper, when=now),
    }
    purchase_return(
        purchase=made["b1"], reference="RET-1", actor=Actor.system(), items=[ReturnItem("SHOE", 1)]
    )
    return {"bangsar": bangsar, "mid": mid, "shopper": shopper, "day1": day1, **made}


@pytest.fixture
def manager_client(client, manager):
    client.force_login(manager)
    return client


def bangsar_staff(client):
    user = StaffUserFactory(role="Store staff", store=StoreFactory(code="bangsar"))
    client.force_login(user)
    return client


# --- Purchases -------------------------------------------------------------------------------


def test_the_purchases_export_holds_exactly_the_rows_the_page_filters_select(manager_client, shops):
    query = {"store": shops["mid"].pk, "since": shops["day1"].astimezone(KL).date().isoformat()}
    page = manager_client.get(reverse("staff:purchase_list"), query)
    export = manager_client.get(reverse("staff:purchase_export"), query)
    rows = rows_of(export)
    assert [int(row[0]) for row in rows[1:]] == listed(page) == [shops["m2"].pk, shops["m1"].pk]
    returned = manager_client.get(reverse("staff:purchase_export"), {"returned": "true"})
    assert [int(row[0]) for row in rows_of(returned)[1:]] == [shops["b1"].pk]


def test_the_page_links_its_export_with_its_filters(manager_client, shops):
    page = manager_client.get(reverse("staff:purchase_list"), {"reference": "M", "page": "1"})
    assert f'href="{reverse("staff:purchase_export")}?reference=M"' in page.content.decode()


def test_a_purchase_row_has_its_returns_plain_numbers_local_times_and_escaped_references(
    manager_client, shops
):
    rows = rows_of(manager_client.get(reverse("staff:purchase_export")))
    header, by_id = rows[0], {int(row[0]): dict(zip(rows[0], row, strict=True)) for row in rows[1:]}
    assert header[:4] == ["purchase_id", "store", "reference", "occurred_at"]
    returned, plain = by_id[shops["b1"].pk], by_id[shops["b2"].pk]
    assert returned["reference"] == "'+B-1"
    assert by_id[shops["m1"].pk]["reference"] == "'@M-1"
    assert by_id[shops["m2"].pk]["reference"] == "'-M-2"
    assert (returned["returns"], returned["returned_amount"]) == ("1", "50.00")
    assert returned["points_reversed"] == "50"
    assert (plain["returns"], plain["returned_amount"], plain["points_reversed"]) == (
        "0",
        "0.00",
        "0",
    )
    assert plain["points_redeemed"] == "0" and plain["discount_total"] == "0.00"
    assert plain["total"] == "100.00" and plain["points_earned"] == "100"
    occurred = datetime.fromisoformat(plain["occurred_at"])
    assert occurred.utcoffset() == timezone.timedelta(hours=8)
    assert occurred == shops["b2"].occurred_at


def test_the_purchases_export_is_a_dated_stream_and_audited_with_its_filters(
    manager_client, manager, shops
):
    response = manager_client.get(reverse("staff:purchase_export"), {"store": shops["mid"].pk})
    assert isinstance(response, StreamingHttpResponse)
    stamp = timezone.localdate().isoformat()
    assert response["Content-Disposition"] == f'attachment; filename="purchases-{stamp}.csv"'
    event = AuditEvent.objects.get(action="purchase.export")
    assert event.actor == manager
    assert event.after == {"filters": {"store": shops["mid"].pk}, "store": None, "rows": 2}


def test_store_staff_list_and_export_their_own_stores_purchases_only(client, shops):
    bangsar_staff(client)
    page = client.get(reverse("staff:purchase_list"))
    # Another store asked for by hand is no filter of theirs: still their store only.
    rows = rows_of(client.get(reverse("staff:purchase_export"), {"store": shops["mid"].pk}))
    assert {row[1] for row in rows[1:]} == {"bangsar"}
    assert sorted(int(row[0]) for row in rows[1:]) == sorted(listed(page))
    assert sorted(listed(page)) == sorted([shops["b1"].pk, shops["b2"].pk])
    assert "store" not in page.context["filter"].form.fields
    assert AuditEvent.objects.get(action="purchase.export").after["store"] == "bangsar"


def test_store_staff_of_no_store_list_and_export_nothing(client, store_staff, shops):
    client.force_login(store_staff)
    page = client.get(reverse("staff:purchase_list"))
    assert page.status_code == 200 and listed(page) == []
    assert "not tied to a store" in page.content.decode()
    assert rows_of(client.get(reverse("staff:ledger_export")))[1:] == []


def test_marketers_may_not_export_purchases_or_the_ledger(client, marketer, shops):
    client.force_login(marketer)
    assert client.get(reverse("staff:purchase_export")).status_code == 403
    assert client.get(reverse("staff:ledger_export")).status_code == 403
    assert client.get(reverse("staff:purchase_list")).status_code == 403
    assert not AuditEvent.objects.filter(action__endswith=".export").exists()


def test_bad_filters_list_and_export_nothing(manager_client, shops):
    page = manager_client.get(reverse("staff:purchase_list"), {"since": "not a date"})
    assert listed(page) == []
    rows = rows_of(manager_client.get(reverse("staff:purchase_export"), {"since": "not a date"}))
    assert rows[1:] == []


# --- The ledger ------------------------------------------------------------------------------


def test_the_ledger_export_holds_exactly_the_rows_the_page_filters_select(manager_client, shops):
    query = {"kind": EntryKind.EARN, "store": shops["bangsar"].pk}
    page = manager_client.get(reverse("staff:ledger_list"), query)
    rows = rows_of(manager_client.get(reverse("staff:ledger_export"), query))
    assert [int(row[0]) for row in rows[1:]] == listed(page)
    expected = PointsEntry.objects.filter(
        kind=EntryKind.EARN,
        source_type="purchase",
        source_id__in=[str(shops["b1"].pk), str(shops["b2"].pk)],
    )
    assert sorted(listed(page)) == sorted(expected.values_list("pk", flat=True))
    assert len(listed(page)) == 2


def test_store_staff_export_their_stores_ledger_lines_only(client, shops):
    points_adjust(
        actor=Actor.system(), member=shops["shopper"], points=5, reason="@goodwill"
    )  # of no store
    bangsar_staff(client)
    rows = rows_of(client.get(reverse("staff:ledger_export")))
    sources = {(row[12], row[13]) for row in rows[1:]}
    assert sources == {("purchase", str(shops["b1"].pk)), ("purchase", str(shops["b2"].pk))}
    # The return's reversal is the store's too: it keeps its sale as its source.
    assert "reverse" in {row[4] for row in rows[1:]}


def test_a_ledger_row_has_plain_numbers_local_times_and_an_escaped_note(manager_client, shops):
    points_adjust(actor=Actor.system(), member=shops["shopper"], points=-5, reason="-5 by hand")
    rows = rows_of(manager_client.get(reverse("staff:ledger_export"), {"kind": "adjust"}))
    entry = dict(zip(rows[0], rows[1], strict=True))
    assert entry["points"] == "-5" and entry["remaining"] == "0"
    assert entry["description"] == "'-5 by hand"
    assert entry["card_number"] == shops["shopper"].card_number
    assert datetime.fromisoformat(entry["created_at"]).utcoffset() == timezone.timedelta(hours=8)
    assert entry["expires_at"] == ""
    event = AuditEvent.objects.get(action="ledger.export")
    assert event.after == {"filters": {"kind": "adjust"}, "store": None, "rows": 1}


def test_the_ledger_page_reads_in_malay(manager_client, shops):
    manager_client.cookies["django_language"] = "ms"
    # The page activates Malay in this thread: set English back after it.
    with translation.override("en"):
        text = manager_client.get(reverse("staff:ledger_list")).content.decode()
    assert "Lejar mata" in text and "Points ledger" not in text
