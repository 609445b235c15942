"""The counter's sale pages: record a purchase by hand (preview, then confirm),
read it, record a return."""

from __future__ import annotations

import html
import re
from decimal import Decimal

import pytest
from django.contrib.messages import get_messages
from django.urls import reverse

from loyalty.actors import Actor
from loyalty.models import AuditEvent
from loyalty.selectors import program_settings_get
from members.models import PointsAccount
from members.points import points_adjust
from purchases.inputs import LineInput, SaleInput
from purchases.models import Purchase, Return
from purchases.services import purchase_record

pytestmark = pytest.mark.django_db

HIDDEN_INPUT = re.compile(r'<input type="hidden" name="([^"]+)" value="([^"]*)">')


def messages_of(response) -> list[str]:
    return [str(message) for message in get_messages(response.wsgi_request)]


def balance_of(member) -> int:
    return PointsAccount.objects.get(member=member).balance


@pytest.fixture
def counter(client, store_staff, program, tiers):
    client.force_login(store_staff)
    return client


def sale_form(
    reference: str,
    *,
    total: str = "",
    lines: tuple[tuple[str, str, str, str], ...] = (),
    **extra: str,
) -> dict[str, str]:
    """The purchase form as a browser posts it: four item rows, blank ones empty."""
    data = {
        "reference": reference,
        "store": "",
        "occurred_at": "",
        "total": total,
        "discount_total": "",
        "points_to_redeem": "",
        "items-TOTAL_FORMS": "4",
        "items-INITIAL_FORMS": "0",
        "items-MIN_NUM_FORMS": "0",
        "items-MAX_NUM_FORMS": "50",
        "action": "preview",
    }
    for index in range(4):
        sku, name, quantity, price = lines[index] if index < len(lines) else ("", "", "1", "")
        data |= {
            f"items-{index}-sku": sku,
            f"items-{index}-name": name,
            f"items-{index}-quantity": quantity,
            f"items-{index}-unit_price": price,
        }
    return data | extra


def confirm_form(preview_response) -> dict[str, str]:
    """What the preview page's confirm button posts: its hidden fields."""
    page = preview_response.content.decode()
    fields = {name: html.unescape(value) for name, value in HIDDEN_INPUT.findall(page)}
    assert fields, "the preview page carries no hidden fields"
    return fields | {"action": "confirm"}


def record_url(member) -> str:
    return reverse("staff:purchase_create", args=[member.public_id])


def recorded_sale(member, reference: str = "R-1") -> Purchase:
    """A sale of two items recorded through the service, as a till would."""
    recorded = purchase_record(
        sale=SaleInput(
            store=program_settings_get().main_store,
            reference=reference,
            member=member,
            occurred_at=member.joined_at,
            items=[
                LineInput(sku="SHOE", quantity=2, unit_price=Decimal("50.00")),
                LineInput(sku="SOCK", quantity=1, unit_price=Decimal("20.00")),
            ],
        ),
        actor=Actor.system(),
    )
    return Purchase.objects.get(pk=recorded.record_id)


# --- Access ----------------------------------------------------------------------------------


def test_store_staff_open_the_sale_pages(counter, shopper):
    purchase = recorded_sale(shopper)
    for url in (
        record_url(shopper),
        reverse("staff:purchase_detail", args=[purchase.pk]),
        reverse("staff:purchase_return", args=[purchase.pk]),
    ):
        assert counter.get(url).status_code == 200, url


def test_marketers_and_members_are_refused_the_sale_pages(client, marketer, member, shopper):
    purchase = recorded_sale(shopper)
    for user in (marketer, member.user):
        client.force_login(user)
        for url in (
            record_url(shopper),
            reverse("staff:purchase_detail", args=[purchase.pk]),
            reverse("staff:purchase_return", args=[purchase.pk]),
        ):
            assert client.get(url).status_code == 403, (user, url)
        assert client.post(record_url(shopper), sale_form("X-1", total="10.00")).status_code == 403
    assert Purchase.objects.count() == 1


def test_the_purchase_form_defaults_to_the_main_store(counter, shopper, program):
    response = counter.get(record_url(shopper))
    assert response.context["form"].initial["store"] == program.main_store


# --- Recording by hand -----------------------------------------------------------------------


def test_preview_then_confirm_records_one_purchase_and_its_points(counter, shopper, program):
    form = sale_form("R-100", total="100.00", store=str(program.main_store.pk))
    preview = counter.post(record_url(shopper), form)
    assert preview.status_code == 200
    assert preview.context["preview"]["points_earned"] == 100
    assert preview.context["amount_due"] == Decimal("100.00")
    assert Purchase.objects.count() == 0 and balance_of(shopper) == 0

    response = counter.post(record_url(shopper), confirm_form(preview))
    purchase = Purchase.objects.get()
    assert response["Location"] == reverse("staff:purchase_detail", args=[purchase.pk])
    assert (purchase.reference, purchase.total, purchase.points_earned) == (
        "R-100",
        Decimal("100.00"),
        100,
    )
    assert balance_of(shopper) == 100
    assert "Purchase recorded: 100 points earned." in messages_of(response)


def test_a_double_clicked_confirm_pays_once(counter, shopper, program, store_staff):
    points_adjust(actor=Actor(user=store_staff), member=shopper, points=300, reason="Gift")
    form = sale_form(
        "R-200", total="50.00", store=str(program.main_store.pk), points_to_redeem="300"
    )
    confirm = confirm_form(counter.post(record_url(shopper), form))

    first = counter.post(record_url(shopper), confirm)
    second = counter.post(record_url(shopper), confirm)

    purchase = Purchase.objects.get()
    assert first["Location"] == second["Location"]
    assert second["Location"] == reverse("staff:purchase_detail", args=[purchase.pk])
    # 300 points paid RM 3.00; the other RM 47.00 earned 47 points, once.
    assert balance_of(shopper) == 300 - 300 + 47
    assert any("already recorded" in text for text in messages_of(second))


def test_item_lines_earn_on_their_total(counter, shopper, program):
    form = sale_form(
        "R-300",
        store=str(program.main_store.pk),
        lines=(("SHOE", "Running shoe", "2", "45.50"), ("SOCK", "", "3", "3.00")),
    )
    preview = counter.post(record_url(shopper), form)
    assert preview.context["preview"]["total"] == "100.00"
    counter.post(record_url(shopper), confirm_form(preview))
    purchase = Purchase.objects.get()
    assert [(line.sku, line.quantity) for line in purchase.lines.all()] == [
        ("SHOE", 2),
        ("SOCK", 3),
    ]
    assert balance_of(shopper) == 100


def test_change_goes_back_to_the_filled_form(counter, shopper, program):
    preview = counter.post(
        record_url(shopper), sale_form("R-350", total="12.00", store=str(program.main_store.pk))
    )
    response = counter.post(record_url(shopper), confirm_form(preview) | {"action": "edit"})
    assert response.status_code == 200
    assert response.context["form"]["total"].value() == "12.00"
    assert Purchase.objects.count() == 0


@pytest.mark.parametrize(
    ("changes", "field"),
    [
        ({"total": "abc"}, "total"),
        ({"total": "-5.00"}, "total"),
        ({"points_to_redeem": "999"}, "points_to_redeem"),
        ({"reference": ""}, "reference"),
    ],
)
def test_bad_input_is_a_form_error_and_records_nothing(counter, shopper, program, changes, field):
    form = sale_form("R-400", total="10.00", store=str(program.main_store.pk)) | changes
    response = counter.post(record_url(shopper), form)
    assert response.status_code == 200 and field in response.context["form"].errors
    assert "preview" not in response.context
    assert Purchase.objects.count() == 0


def test_a_total_and_lines_together_are_refused(counter, shopper, program):
    form = sale_form(
        "R-450", total="10.00", store=str(program.main_store.pk), lines=(("A", "", "1", "5.00"),)
    )
    response = counter.post(record_url(shopper), form)
    assert response.context["form"].non_field_errors()


def test_a_bad_line_price_is_shown_on_its_row(counter, shopper, program):
    form = sale_form("R-460", store=str(program.main_store.pk), lines=(("A", "", "1", "1.2.3"),))
    response = counter.post(record_url(shopper), form)
    assert "unit_price" in response.context["form"].lines.forms[0].errors
    assert Purchase.objects.count() == 0


def test_points_worth_more_than_the_sale_are_refused(counter, shopper, program, store_staff):
    points_adjust(actor=Actor(user=store_staff), member=shopper, points=500, reason="Gift")
    form = sale_form(
        "R-470", total="2.00", store=str(program.main_store.pk), points_to_redeem="500"
    )
    response = counter.post(record_url(shopper), form)
    assert "points_to_redeem" in response.context["form"].errors
    assert Purchase.objects.count() == 0 and balance_of(shopper) == 500


def test_a_receipt_number_used_for_another_sale_is_a_field_error(counter, shopper, program):
    recorded_sale(shopper, reference="R-500")
    form = sale_form("R-500", total="10.00", store=str(program.main_store.pk))
    preview = counter.post(record_url(shopper), form)
    response = counter.post(record_url(shopper), confirm_form(preview))
    assert response.status_code == 200 and "reference" in response.context["form"].errors
    assert Purchase.objects.count() == 1


# --- Detail and returns ----------------------------------------------------------------------


def test_the_detail_shows_lines_totals_and_points(counter, shopper):
    purchase = recorded_sale(shopper)
    response = counter.get(reverse("staff:purchase_detail", args=[purchase.pk]))
    page = response.content.decode()
    assert "SHOE" in page and "SOCK" in page and "120.00" in page
    assert response.context["returnable"]
    assert reverse("staff:purchase_return", args=[purchase.pk]) in page


def test_a_return_reverses_points_in_proportion(counter, shopper):
    purchase = recorded_sale(shopper)
    assert balance_of(shopper) == 120
    shoe = purchase.lines.get(sku="SHOE")
    sock = purchase.lines.get(sku="SOCK")
    response = counter.post(
        reverse("staff:purchase_return", args=[purchase.pk]),
        {"reference": "RET-1", f"line_{shoe.pk}": "1", f"line_{sock.pk}": "", "amount": ""},
    )
    assert response["Location"] == reverse("staff:purchase_detail", args=[purchase.pk])
    assert balance_of(shopper) == 70
    assert Return.objects.get().points_reversed == 50
    assert any("50 points reversed" in text for text in messages_of(response))
    shoe.refresh_from_db()
    assert shoe.returned_quantity == 1


def test_a_return_of_more_than_is_left_is_a_form_error(counter, shopper):
    purchase = recorded_sale(shopper)
    shoe = purchase.lines.get(sku="SHOE")
    response = counter.post(
        reverse("staff:purchase_return", args=[purchase.pk]),
        {"reference": "RET-2", f"line_{shoe.pk}": "3"},
    )
    assert response.status_code == 200 and f"line_{shoe.pk}" in response.context["form"].errors
    assert Return.objects.count() == 0 and balance_of(shopper) == 120


def test_a_return_by_amount_and_nothing_at_all(counter, shopper):
    purchase = recorded_sale(shopper)
    url = reverse("staff:purchase_return", args=[purchase.pk])
    response = counter.post(url, {"reference": "RET-3"})
    assert response.context["form"].non_field_errors()
    response = counter.post(url, {"reference": "RET-3", "amount": "500.00"})
    assert "amount" in response.context["form"].errors
    response = counter.post(url, {"reference": "RET-3", "amount": "60.00"})
    assert response.status_code == 302 and balance_of(shopper) == 60


# --- Audit and amounts -----------------------------------------------------------------------


def test_a_sale_and_a_return_by_staff_are_audited_with_their_receipts(
    counter, shopper, program, store_staff
):
    form = sale_form("R-900", total="100.00", store=str(program.main_store.pk))
    counter.post(record_url(shopper), confirm_form(counter.post(record_url(shopper), form)))
    purchase = Purchase.objects.get()
    sold = AuditEvent.objects.get(action="purchase.record")
    assert (sold.actor, sold.object_type, sold.object_id) == (
        store_staff,
        "purchases.purchase",
        str(purchase.pk),
    )
    assert sold.after["reference"] == "R-900" and sold.after["points_earned"] == 100

    counter.post(
        reverse("staff:purchase_return", args=[purchase.pk]),
        {"reference": "RET-9", "amount": "40.00"},
    )
    returned = AuditEvent.objects.get(action="purchase.return")
    record = Return.objects.get()
    assert (returned.actor, returned.object_type, returned.object_id) == (
        store_staff,
        "purchases.return",
        str(record.pk),
    )
    assert returned.after["amount"] == "40.00" and returned.after["points_reversed"] == 40


def test_a_till_sale_writes_no_audit_row(pos_api, shopper):
    body = {
        "reference": "T-1",
        "member_id": shopper.public_id,
        "items": [{"sku": "TEA", "quantity": 1, "unit_price": "10.00"}],
    }
    assert pos_api.post("/api/v1/purchases", body, format="json").status_code == 201
    assert not AuditEvent.objects.filter(action__startswith="purchase.").exists()


def test_the_counter_pages_show_amounts_with_the_currency_symbol_and_grouping(
    counter, shopper, program
):
    form = sale_form("R-950", total="12345.60", store=str(program.main_store.pk))
    preview = counter.post(record_url(shopper), form).content.decode()
    # No ISO code before an amount (a member's random id may hold the letters).
    assert "RM12,345.60" in preview and not re.search(r"MYR\s*[\d.,]", preview)
    counter.post(record_url(shopper), confirm_form(counter.post(record_url(shopper), form)))
    purchase = Purchase.objects.get()
    response = counter.post(
        reverse("staff:purchase_return", args=[purchase.pk]),
        {"reference": "RET-5", "amount": "1000.00"},
    )
    assert any(text.startswith("Return recorded: RM1,000.00;") for text in messages_of(response))
    detail = counter.get(reverse("staff:purchase_detail", args=[purchase.pk])).content.decode()
    assert "RM12,345.60" in detail and "RM1,000.00" in detail


def test_a_sale_given_back_in_full_by_amount_offers_no_more_returns(counter, shopper):
    purchase = recorded_sale(shopper)
    counter.post(
        reverse("staff:purchase_return", args=[purchase.pk]),
        {"reference": "RET-7", "amount": "120.00"},
    )
    response = counter.get(reverse("staff:purchase_detail", args=[purchase.pk]))
    assert not response.context["returnable"]
