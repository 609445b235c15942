"""Bad input is a 400 on the field, never a 500 (issue 8), and a setting that
cannot work is refused when it is written, not discovered by the next sale.

The column overflows only show on PostgreSQL (SQLite stores any integer and
any text); the rest hold on both."""

from __future__ import annotations

from datetime import timedelta

import pytest
from django.utils import timezone

from loyalty.actors import Actor
from loyalty.jobs import job_run
from loyalty.limits import DAYS_MAX, MONEY_MAX, POINTS_MAX
from members.models import Member
from members.tiers import member_tier_review
from tests.purchases.conftest import sale
from tests.rewards.conftest import fund, make_reward

pytestmark = pytest.mark.django_db


def assert_invalid(response, field: str | None = None) -> dict:
    assert response.status_code == 400, response.content
    body = response.json()
    assert body["code"] == "invalid" and body["detail"]
    if field is not None:
        assert field in body.get("fields", {}), body
    return body


# --- Numbers past their columns ----------------------------------------------------------


def test_points_to_redeem_past_any_balance_is_a_400(pos_api, shopper):
    body = sale("R1", ("TEA", 1, "10.00"), member=shopper, points_to_redeem=10**30)
    assert_invalid(pos_api.post("/api/v1/purchases", body, format="json"), "points_to_redeem")


def test_a_unit_price_past_the_money_column_is_a_400(pos_api, shopper):
    body = sale("R1", ("TEA", 1, "9999999999.99"), member=shopper)
    assert_invalid(pos_api.post("/api/v1/purchases", body, format="json"), "items[0].unit_price")


def test_a_sale_whose_lines_add_up_past_the_cap_is_a_400(pos_api, shopper):
    body = sale("R1", ("TEA", 100000, "99999.99"), ("CAKE", 1, "1.00"), member=shopper)
    assert_invalid(pos_api.post("/api/v1/purchases", body, format="json"), "items")
    assert not shopper.purchases.exists()


@pytest.mark.postgres
def test_the_largest_sale_at_the_highest_earn_rate_is_recorded_many_times(
    pos_api, admin_api, shopper, tiers
):
    """Points columns are 64-bit: a balance built from maximal sales fits."""
    response = admin_api.patch(
        "/api/v1/program", {"earn_points": 100, "earn_per_amount": "1.00"}, format="json"
    )
    assert response.status_code == 200, response.content
    response = admin_api.patch("/api/v1/tiers/gold", {"multiplier": "10.00"}, format="json")
    assert response.status_code == 200, response.content
    shopper.tier = tiers["gold"]
    shopper.save()
    for n in range(3):
        body = sale(f"BIG{n}", ("GOLD", 1, str(MONEY_MAX)), member=shopper)
        response = pos_api.post("/api/v1/purchases", body, format="json")
        assert response.status_code == 201, response.content
        assert response.json()["points_earned"] <= POINTS_MAX
    balance = pos_api.get(f"/api/v1/members/{shopper.public_id}").json()["points"]["balance"]
    assert balance == 3 * 999_999_999_990 > 2**31


@pytest.mark.postgres
def test_an_adjustment_past_32_bits_is_booked(admin_api, shopper):
    response = admin_api.post(
        f"/api/v1/members/{shopper.public_id}/adjustments",
        {"points": 3_000_000_000, "reason": "Big"},
        format="json",
    )
    assert response.status_code == 201, response.content
    assert response.json()["balance"] == 3_000_000_000


def test_an_adjustment_past_the_points_cap_is_a_400(admin_api, shopper):
    response = admin_api.post(
        f"/api/v1/members/{shopper.public_id}/adjustments",
        {"points": -(POINTS_MAX + 1), "reason": "Big"},
        format="json",
    )
    assert_invalid(response, "points")


# --- Text past its column ----------------------------------------------------------------


def test_an_email_longer_than_its_column_is_a_400(pos_api, program):
    email = "a" * 64 + "@" + ".".join(["b" * 63, "c" * 63, "d" * 63, "ee", "my"])
    assert len(email) == 262
    response = pos_api.post("/api/v1/members", {"email": email}, format="json")
    assert_invalid(response, "email")


# --- Settings that would break every later request ----------------------------------------


@pytest.mark.parametrize(
    ("changes", "field"),
    [
        ({"expiry_days": 1_000_000_000}, "expiry_days"),
        ({"expiry_days": DAYS_MAX + 1}, "expiry_days"),
        ({"tier_window_days": DAYS_MAX + 1}, "tier_window_days"),
        ({"pending_days": 366}, "pending_days"),
        ({"earn_points": 3_000_000_000}, "earn_points"),
        ({"earn_points": 1000, "earn_per_amount": "1.00"}, "earn_points"),
        ({"earn_per_amount": "99999999.99", "earn_points": 1}, None),
        ({"point_value": "1000.01"}, "point_value"),
        ({"staff_adjust_limit": POINTS_MAX + 1}, "staff_adjust_limit"),
    ],
)
def test_a_program_setting_that_cannot_work_is_refused(admin_api, pos_api, shopper, changes, field):
    response = admin_api.patch("/api/v1/program", changes, format="json")
    if field is None:
        assert response.status_code == 200, response.content
    else:
        assert_invalid(response, field)
    body = sale("R1", ("TEA", 1, "10.00"), member=shopper)
    assert pos_api.post("/api/v1/purchases", body, format="json").status_code == 201


def test_the_earn_rate_cap_holds_whichever_field_moves(admin_api, program):
    assert (
        admin_api.patch("/api/v1/program", {"earn_points": 100}, format="json").status_code == 200
    )
    response = admin_api.patch("/api/v1/program", {"earn_per_amount": "0.50"}, format="json")
    assert_invalid(response, "earn_points")


def test_a_voucher_validity_past_the_calendar_is_refused(admin_api, pos_api, shopper):
    reward = make_reward()
    response = admin_api.patch(
        f"/api/v1/rewards/{reward.pk}", {"voucher_valid_days": 2_000_000_000}, format="json"
    )
    assert_invalid(response, "voucher_valid_days")
    fund(shopper, 1000)
    response = pos_api.post(
        f"/api/v1/members/{shopper.public_id}/redemptions", {"reward": reward.pk}, format="json"
    )
    assert response.status_code == 201, response.content


@pytest.mark.parametrize(
    ("field", "value"),
    [
        ("points_cost", POINTS_MAX + 1),
        ("stock", 3_000_000_000),
        ("per_member_limit", 3_000_000_000),
        ("value", "9999999999.99"),
        ("position", 3_000_000_000),
    ],
)
def test_a_reward_field_past_its_bound_is_refused(admin_api, program, field, value):
    body = {"name": "Big", "kind": "discount_fixed", "points_cost": 10, "value": "1.00"}
    body[field] = value
    assert_invalid(admin_api.post("/api/v1/rewards", body, format="json"), field)


def test_a_tier_retention_past_the_calendar_is_refused(admin_api, shopper, tiers):
    response = admin_api.patch(
        "/api/v1/tiers/gold", {"retention_days": 2_000_000_000}, format="json"
    )
    assert_invalid(response, "retention_days")
    response = admin_api.post(
        "/api/v1/tiers",
        {"code": "plat", "name": "Plat", "threshold": "30000", "retention_days": DAYS_MAX + 1},
        format="json",
    )
    assert_invalid(response, "retention_days")
    assert job_run(name="review_tiers", as_of=timezone.now()) is not None


@pytest.mark.parametrize(
    ("field", "value"),
    [("multiplier", "10.01"), ("threshold", "10000000000"), ("threshold", "-1")],
)
def test_a_tier_field_past_its_bound_is_refused(admin_api, tiers, field, value):
    response = admin_api.patch("/api/v1/tiers/gold", {field: value}, format="json")
    assert_invalid(response, field)


def test_the_tier_review_survives_the_longest_retention(shopper, tiers):
    gold = tiers["gold"]
    gold.retention_days = DAYS_MAX
    gold.save()
    Member.objects.filter(pk=shopper.pk).update(tier=gold, tier_since=timezone.now())
    shopper.refresh_from_db()
    member_tier_review(member=shopper, now=timezone.now() + timedelta(days=1), allow_downgrade=True)


@pytest.mark.parametrize(
    "body",
    [
        {"amount": "9999999999.99"},
        {"amount": str(MONEY_MAX + 1)},
        {"amount": "10.00", "expires_at": "9999-12-31T23:59:59-12:00"},
    ],
)
def test_a_gift_card_past_its_bounds_is_refused(pos_api, program, body):
    assert_invalid(pos_api.post("/api/v1/gift-cards", body, format="json"))


def test_a_store_field_past_its_column_is_refused(admin_api, program):
    response = admin_api.post("/api/v1/stores", {"code": "x" * 33, "name": "X"}, format="json")
    assert_invalid(response, "code")


def test_services_refuse_what_the_api_refuses(program, shopper):
    from loyalty.errors import ValidationFailed
    from loyalty.services import program_settings_update
    from members.points import points_adjust

    with pytest.raises(ValidationFailed):
        program_settings_update(actor=Actor.system(), expiry_days=1_000_000_000)
    with pytest.raises(ValidationFailed):
        points_adjust(actor=Actor.system(), member=shopper, points=POINTS_MAX + 1, reason="x")


# --- The same bounds on the staff and portal forms ----------------------------------------

LONG_EMAIL = "a" * 64 + "@" + ".".join(["b" * 63, "c" * 63, "d" * 63, "ee", "my"])


def test_the_program_settings_page_refuses_what_cannot_work(client, manager):
    client.force_login(manager)
    form = {
        "name": "Kedai Rewards",
        "merchant_name": "Kedai",
        "earn_points": "1000",
        "earn_per_amount": "1.00",
        "point_value": "0.01",
        "pending_days": "400",
        "expiry_days": "1000000000",
        "tier_basis": "points",
        "tier_window_days": str(DAYS_MAX + 1),
        "staff_adjust_limit": str(POINTS_MAX + 1),
        "main_store": "",
    }
    response = client.post("/staff/program/", form)
    assert response.status_code == 200
    errors = response.context["form"].errors
    assert {
        "earn_points",
        "pending_days",
        "expiry_days",
        "tier_window_days",
        "staff_adjust_limit",
    } <= set(errors)


def test_the_tier_and_reward_forms_refuse_what_cannot_work(program):
    from members.forms import TierForm
    from rewards.staff_forms import RewardCategoryForm, RewardForm

    tier = TierForm(
        data={"code": "plat", "name": "Plat", "threshold": "1", "multiplier": "11.00"}
        | {"retention_days": "2000000000", "color": "#000000"}
    )
    assert {"multiplier", "retention_days"} <= set(tier.errors)
    reward = RewardForm(
        data={"name": "X", "kind": "discount_fixed", "points_cost": str(POINTS_MAX + 1)}
        | {"value": "1.00", "voucher_valid_days": "2000000000", "stock": "3000000000"}
    )
    assert {"points_cost", "voucher_valid_days", "stock"} <= set(reward.errors)
    category = RewardCategoryForm(data={"name": "X", "slug": "x", "position": "3000000000"})
    assert "position" in category.errors


def test_the_counter_sale_form_refuses_a_sale_past_the_cap(shopper):
    from purchases.forms import SaleForm

    data = {"reference": "R1", "store": shopper.home_store_id or "", "total": "9999999999.99"}
    assert "total" in SaleForm(data=data, member=shopper).errors
    lines = {
        "items-TOTAL_FORMS": "2",
        "items-INITIAL_FORMS": "0",
        "items-0-sku": "A",
        "items-0-quantity": "100000",
        "items-0-unit_price": "99999.99",
        "items-1-sku": "B",
        "items-1-quantity": "1",
        "items-1-unit_price": "1.00",
    }
    form = SaleForm(data={"reference": "R1", **lines}, member=shopper)
    assert not form.is_valid()
    assert any("at most" in str(e) for e in form.non_field_errors())


def test_email_fields_refuse_what_the_column_cannot_hold(program):
    from loyalty.forms import StaffUserCreateForm
    from members.forms import MemberEnrolForm, MemberSignupForm

    assert "email" in MemberEnrolForm(data={"first_name": "A", "email": LONG_EMAIL}).errors
    staff = StaffUserCreateForm(data={"first_name": "A", "email": LONG_EMAIL, "role": "Manager"})
    assert "email" in staff.errors
    signup = MemberSignupForm(
        data={"first_name": "A", "email": LONG_EMAIL, "password1": "x", "password2": "x"}
    )
    assert "email" in signup.errors
