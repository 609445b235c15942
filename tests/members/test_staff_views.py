"""The counter's member pages (search, enrol, profile, edit, corrections) and
the managers' tier pages."""

from __future__ import annotations

from datetime import timedelta
from decimal import Decimal

import pytest
from django.contrib.messages import get_messages
from django.urls import reverse
from django.utils import timezone

from loyalty.actors import Actor
from members.models import EntryKind, Member, PointsEntry, Tier, TierChange
from members.points import points_adjust
from tests.factories import MemberFactory, StoreFactory

pytestmark = pytest.mark.django_db


def messages_of(response) -> list[str]:
    return [str(message) for message in get_messages(response.wsgi_request)]


@pytest.fixture
def counter(client, store_staff, program, tiers):
    client.force_login(store_staff)
    return client


@pytest.fixture
def manager_client(client, manager, program, tiers):
    client.force_login(manager)
    return client


def counter_pages(member: Member) -> list[str]:
    return [
        reverse("staff:member_search"),
        reverse("staff:member_enrol"),
        reverse("staff:member_detail", args=[member.public_id]),
        reverse("staff:member_edit", args=[member.public_id]),
        reverse("staff:member_adjust", args=[member.public_id]),
    ]


def manager_pages(member: Member, tier: Tier) -> list[str]:
    return [
        reverse("staff:member_tier_set", args=[member.public_id]),
        reverse("staff:tier_list"),
        reverse("staff:tier_create"),
        reverse("staff:tier_update", args=[tier.code]),
        reverse("staff:tier_delete", args=[tier.code]),
    ]


def test_store_staff_open_the_counter_pages_but_not_the_manager_pages(counter, shopper, tiers):
    for url in counter_pages(shopper):
        assert counter.get(url).status_code == 200, url
    for url in manager_pages(shopper, tiers["gold"]):
        assert counter.get(url).status_code == 403, url


def test_managers_open_every_member_and_tier_page(manager_client, shopper, tiers):
    for url in counter_pages(shopper) + manager_pages(shopper, tiers["gold"]):
        assert manager_client.get(url).status_code == 200, url


def test_marketers_and_members_are_refused_the_counter(client, marketer, member, shopper, tiers):
    for user in (marketer, member.user):
        client.force_login(user)
        for url in counter_pages(shopper) + manager_pages(shopper, tiers["gold"]):
            assert client.get(url).status_code == 403, (user, url)


def test_anonymous_visitors_are_sent_to_sign_in(client, shopper):
    response = client.get(reverse("staff:member_detail", args=[shopper.public_id]))
    assert response.status_code == 302 and "/accounts/login/" in response["Location"]


def test_an_unknown_member_is_not_found(counter):
    assert counter.get(reverse("staff:member_detail", args=["nobody"])).status_code == 404


def test_the_staff_navigation_shows_the_counter_and_tiers_by_role(counter, client, manager):
    page = counter.get(reverse("staff:home")).content.decode()
    assert reverse("staff:member_search") in page and reverse("staff:member_enrol") in page
    assert reverse("staff:tier_list") not in page
    client.force_login(manager)
    assert reverse("staff:tier_list") in client.get(reverse("staff:home")).content.decode()


# --- Search ----------------------------------------------------------------------------------


@pytest.mark.parametrize("typed", ["012-345 6789", "+60123456789", "60 12 345 6789", "0123456789"])
def test_a_phone_in_any_format_opens_the_profile(counter, shopper, typed):
    response = counter.get(reverse("staff:member_search"), {"q": typed})
    assert response.status_code == 302
    assert response["Location"] == reverse("staff:member_detail", args=[shopper.public_id])


def test_a_card_number_opens_the_profile(counter, shopper):
    card = shopper.card_number
    spaced = " ".join(card[i : i + 4] for i in range(0, len(card), 4))
    response = counter.get(reverse("staff:member_search"), {"q": spaced})
    assert response["Location"] == reverse("staff:member_detail", args=[shopper.public_id])


def test_an_exact_email_opens_the_profile_even_when_another_email_contains_it(counter, program):
    ann = MemberFactory(user=None, email="ann@example.com")
    MemberFactory(user=None, email="joann@example.com")
    response = counter.get(reverse("staff:member_search"), {"q": "ANN@example.com "})
    assert response["Location"] == reverse("staff:member_detail", args=[ann.public_id])


def test_a_name_lists_the_matches(counter, program):
    MemberFactory(user=None, email="a@example.com", first_name="Siti", last_name="Aminah")
    MemberFactory(user=None, email="b@example.com", first_name="Siti", last_name="Nur")
    MemberFactory(user=None, email="c@example.com", first_name="Ahmad", last_name="Ali")
    response = counter.get(reverse("staff:member_search"), {"q": "siti"})
    assert response.status_code == 200
    assert [m.last_name for m in response.context["members"]] == ["Aminah", "Nur"]


def test_a_search_without_match_offers_to_enrol(counter, shopper):
    response = counter.get(reverse("staff:member_search"), {"q": "nobody-at-all"})
    assert response.status_code == 200
    assert list(response.context["members"]) == []
    assert reverse("staff:member_enrol") in response.content.decode()


def test_many_results_are_paginated(counter, program):
    for n in range(30):
        MemberFactory(user=None, email=f"tan{n}@example.com", last_name=f"Tan {n:02}")
    first = counter.get(reverse("staff:member_search"), {"q": "Tan"})
    second = counter.get(reverse("staff:member_search"), {"q": "Tan", "page": 2})
    assert len(first.context["members"]) == 25 and len(second.context["members"]) == 5


# --- Enrol -----------------------------------------------------------------------------------


def enrol_form(**changes: str) -> dict[str, str]:
    return {
        "first_name": "Siti",
        "last_name": "Aminah",
        "email": "siti@example.com",
        "phone": "013-222 3344",
        "birth_date": "1990-05-17",
        "language": "ms",
        "marketing_consent": "on",
        "home_store": "",
        **changes,
    }


def test_enrol_defaults_the_home_store_to_the_main_store(counter, program):
    response = counter.get(reverse("staff:member_enrol"))
    assert response.context["form"].initial["home_store"] == program.main_store


def test_enrol_defaults_the_home_store_to_the_store_the_account_works_at(
    counter, program, store_staff
):
    store_staff.store = StoreFactory(code="penang")
    store_staff.save(update_fields=["store"])
    response = counter.get(reverse("staff:member_enrol"))
    assert response.context["form"].initial["home_store"] == store_staff.store


def test_enrol_creates_the_member_and_opens_the_profile(counter, program, tiers, store_staff):
    response = counter.post(
        reverse("staff:member_enrol"), enrol_form(home_store=str(program.main_store.pk))
    )
    member = Member.objects.get(email="siti@example.com")
    assert response["Location"] == reverse("staff:member_detail", args=[member.public_id])
    assert member.phone == "+60132223344" and member.language == "ms"
    assert member.marketing_consent and member.home_store == program.main_store
    assert member.tier == tiers["bronze"] and member.account.balance == 0
    assert any(member.card_number in text for text in messages_of(response))


def test_enrol_with_a_taken_email_shows_an_error_and_writes_nothing(counter, shopper):
    before = Member.objects.count()
    response = counter.post(reverse("staff:member_enrol"), enrol_form(email="Shopper@Example.com"))
    assert response.status_code == 200
    assert "email" in response.context["form"].errors
    assert Member.objects.count() == before


def test_enrol_with_a_taken_phone_in_another_format_shows_an_error(counter, shopper):
    before = Member.objects.count()
    response = counter.post(reverse("staff:member_enrol"), enrol_form(phone="+60 12-345 6789"))
    assert "phone" in response.context["form"].errors
    assert Member.objects.count() == before


def test_enrol_needs_an_email_or_a_phone(counter, program):
    response = counter.post(reverse("staff:member_enrol"), enrol_form(email="", phone=""))
    assert response.status_code == 200 and response.context["form"].non_field_errors()
    assert not Member.objects.filter(first_name="Siti").exists()


# --- Profile and edit ------------------------------------------------------------------------


def test_the_profile_shows_balance_expiry_tier_progress_and_history(counter, shopper, store_staff):
    points_adjust(actor=Actor(user=store_staff), member=shopper, points=120, reason="Welcome")
    response = counter.get(reverse("staff:member_detail", args=[shopper.public_id]))
    page = response.content.decode()
    assert response.context["account"].balance == 120
    assert response.context["status"].expiring[0]["points"] == 120
    assert response.context["status"].next_tier.tier.code == "silver"
    assert "Welcome" in page and shopper.card_number in page
    assert [entry.points for entry in response.context["entries"]] == [120]


def test_the_history_filters_by_kind_and_date(counter, shopper, store_staff):
    actor = Actor(user=store_staff)
    points_adjust(actor=actor, member=shopper, points=50, reason="Goodwill")
    points_adjust(actor=actor, member=shopper, points=-20, reason="Typo")
    url = reverse("staff:member_detail", args=[shopper.public_id])
    assert len(counter.get(url, {"kind": EntryKind.ADJUST}).context["entries"]) == 2
    assert len(counter.get(url, {"kind": EntryKind.EARN}).context["entries"]) == 0
    tomorrow = (timezone.localdate() + timedelta(days=1)).isoformat()
    assert len(counter.get(url, {"since": tomorrow}).context["entries"]) == 0


def test_the_history_is_paginated(counter, shopper, store_staff):
    for _n in range(25):
        points_adjust(actor=Actor(user=store_staff), member=shopper, points=1, reason="Stamp")
    url = reverse("staff:member_detail", args=[shopper.public_id])
    assert len(counter.get(url).context["entries"]) == 20
    assert len(counter.get(url, {"page": 2}).context["entries"]) == 5


def test_the_profile_offers_set_tier_only_to_managers(counter, client, manager, shopper):
    tier_url = reverse("staff:member_tier_set", args=[shopper.public_id])
    assert (
        tier_url
        not in counter.get(
            reverse("staff:member_detail", args=[shopper.public_id])
        ).content.decode()
    )
    client.force_login(manager)
    page = client.get(reverse("staff:member_detail", args=[shopper.public_id])).content.decode()
    assert tier_url in page


def test_edit_saves_the_details(counter, shopper):
    store = StoreFactory(code="mid", name="Mid Valley")
    form = {
        "status": "active",
        "first_name": "Mei",
        "last_name": "Ling",
        "email": "mei@example.com",
        "phone": "012-345 6789",
        "birth_date": "",
        "language": "en",
        "tags": "vip, staff-family, vip",
        "home_store": str(store.pk),
    }
    response = counter.post(reverse("staff:member_edit", args=[shopper.public_id]), form)
    assert response.status_code == 302
    shopper.refresh_from_db()
    assert (shopper.first_name, shopper.email, shopper.home_store) == (
        "Mei",
        "mei@example.com",
        store,
    )
    assert shopper.tags == ["staff-family", "vip"]


def test_edit_refuses_another_members_phone(counter, shopper, program):
    other = MemberFactory(user=None, email="other@example.com", phone="019-888 7777")
    form = {
        "status": "active",
        "first_name": shopper.first_name,
        "email": shopper.email,
        "phone": "+60198887777",
        "language": "en",
    }
    response = counter.post(reverse("staff:member_edit", args=[shopper.public_id]), form)
    assert "phone" in response.context["form"].errors
    shopper.refresh_from_db()
    assert shopper.phone == "+60123456789" and other.phone == "+60198887777"


# --- Corrections -----------------------------------------------------------------------------


def test_store_staff_correct_points_within_the_limit(counter, shopper, store_staff):
    url = reverse("staff:member_adjust", args=[shopper.public_id])
    response = counter.post(url, {"points": "150", "reason": "Receipt lost by the till"})
    assert response.status_code == 302
    shopper.account.refresh_from_db()
    assert shopper.account.balance == 150
    entry = PointsEntry.objects.get(member=shopper)
    assert entry.created_by == store_staff and entry.description == "Receipt lost by the till"


def test_store_staff_are_refused_a_correction_above_the_limit(counter, shopper, program):
    assert program.staff_adjust_limit == 500
    url = reverse("staff:member_adjust", args=[shopper.public_id])
    response = counter.post(url, {"points": "501", "reason": "Big gesture"})
    assert response.status_code == 200
    assert "500" in " ".join(response.context["form"].non_field_errors())
    assert not PointsEntry.objects.filter(member=shopper).exists()


def test_managers_correct_points_above_the_limit(manager_client, shopper):
    url = reverse("staff:member_adjust", args=[shopper.public_id])
    response = manager_client.post(url, {"points": "5000", "reason": "Compensation"})
    assert response.status_code == 302
    shopper.account.refresh_from_db()
    assert shopper.account.balance == 5000


def test_a_correction_needs_a_reason_and_cannot_overdraw(counter, shopper):
    url = reverse("staff:member_adjust", args=[shopper.public_id])
    response = counter.post(url, {"points": "10", "reason": ""})
    assert "reason" in response.context["form"].errors
    response = counter.post(url, {"points": "-10", "reason": "Oops"})
    assert response.status_code == 200 and response.context["form"].non_field_errors()
    assert not PointsEntry.objects.filter(member=shopper).exists()


# --- Tiers -----------------------------------------------------------------------------------


def test_a_manager_sets_a_tier_by_hand_until_a_date(manager_client, shopper, tiers):
    until = timezone.localdate() + timedelta(days=90)
    response = manager_client.post(
        reverse("staff:member_tier_set", args=[shopper.public_id]),
        {"tier": str(tiers["gold"].pk), "until": until.isoformat()},
    )
    assert response.status_code == 302
    shopper.refresh_from_db()
    assert shopper.tier == tiers["gold"] and shopper.tier_override_until == until
    assert TierChange.objects.filter(member=shopper, reason=TierChange.Reason.MANUAL).exists()


def test_a_tier_cannot_be_set_until_a_past_date(manager_client, shopper, tiers):
    response = manager_client.post(
        reverse("staff:member_tier_set", args=[shopper.public_id]),
        {"tier": str(tiers["gold"].pk), "until": "2001-01-01"},
    )
    assert "until" in response.context["form"].errors
    shopper.refresh_from_db()
    assert shopper.tier == tiers["bronze"]


def test_the_tier_list_counts_members(manager_client, shopper, tiers):
    response = manager_client.get(reverse("staff:tier_list"))
    counts = {tier.code: tier.member_count for tier in response.context["tiers"]}
    assert counts == {"bronze": 1, "silver": 0, "gold": 0}


def tier_form(**changes: str) -> dict[str, str]:
    return {
        "code": "platinum",
        "name": "Platinum",
        "threshold": "50000",
        "multiplier": "3.00",
        "retention_days": "365",
        "benefits": "Lounge access",
        "color": "#888888",
        **changes,
    }


def test_a_manager_creates_updates_and_deletes_a_tier(manager_client):
    response = manager_client.post(reverse("staff:tier_create"), tier_form())
    assert response.status_code == 302
    tier = Tier.objects.get(code="platinum")
    assert tier.multiplier == Decimal("3.00")

    form = tier_form(name="Platinum Plus", multiplier="3.50")
    del form["code"]
    response = manager_client.post(reverse("staff:tier_update", args=["platinum"]), form)
    assert response.status_code == 302
    tier.refresh_from_db()
    assert (tier.name, tier.multiplier, tier.code) == ("Platinum Plus", Decimal("3.50"), "platinum")

    response = manager_client.post(reverse("staff:tier_delete", args=["platinum"]))
    assert response.status_code == 302
    assert not Tier.objects.filter(code="platinum").exists()


def test_a_tier_threshold_already_taken_is_a_form_error(manager_client, tiers):
    response = manager_client.post(reverse("staff:tier_create"), tier_form(threshold="20000"))
    assert response.status_code == 200 and "threshold" in response.context["form"].errors
    assert not Tier.objects.filter(code="platinum").exists()


def test_deleting_a_tier_members_hold_is_refused_with_a_message(manager_client, shopper, tiers):
    response = manager_client.post(reverse("staff:tier_delete", args=["bronze"]))
    assert response["Location"] == reverse("staff:tier_list")
    assert Tier.objects.filter(code="bronze").exists()
    assert any("1 member holds this tier" in text for text in messages_of(response))


def test_store_staff_cannot_delete_a_tier(counter, tiers):
    assert counter.post(reverse("staff:tier_delete", args=["gold"])).status_code == 403
    assert Tier.objects.filter(code="gold").exists()


def test_an_exact_external_id_opens_the_profile(counter, program):
    crm = MemberFactory(user=None, email="crm@example.com", external_id="CRM-77")
    response = counter.get(reverse("staff:member_search"), {"q": " CRM-77 "})
    assert response["Location"] == reverse("staff:member_detail", args=[crm.public_id])
    assert "CRM-77" in counter.get(response["Location"]).content.decode()


def test_enrol_and_edit_save_the_external_id(counter, program, tiers):
    form = {"first_name": "Ali", "email": "ali@example.com", "external_id": " E-1 "}
    response = counter.post(reverse("staff:member_enrol"), {**form, "language": "en"})
    assert response.status_code == 302
    ali = Member.objects.get(email="ali@example.com")
    assert ali.external_id == "E-1"
    edit = {**form, "status": "active", "language": "en", "external_id": "E-2", "tags": ""}
    counter.post(reverse("staff:member_edit", args=[ali.public_id]), edit)
    ali.refresh_from_db()
    assert ali.external_id == "E-2"


@pytest.mark.parametrize(
    ("typed", "reason"),
    [
        ("9123 4567", "no number in use in Malaysia has these digits"),
        ("012-34", "it is too short"),
        ("012 FLOWERS", "use digits, spaces, dashes and a leading + only"),
    ],
)
def test_enrol_refuses_a_number_not_in_use_with_a_friendly_message(counter, program, typed, reason):
    response = counter.post(reverse("staff:member_enrol"), enrol_form(phone=typed))
    assert response.status_code == 200 and not Member.objects.exists()
    (message,) = response.context["form"].errors["phone"]
    assert message.startswith("Enter a valid phone number: ") and reason in message
    assert reason in response.content.decode()


def test_enrol_keeps_a_singapore_number_and_the_counter_finds_it_by_any_form(counter, program):
    counter.post(reverse("staff:member_enrol"), enrol_form(phone="+65 9123 4567"))
    member = Member.objects.get()
    assert member.phone == "+6591234567"
    response = counter.get(reverse("staff:member_search"), {"q": "0065 9123 4567"})
    assert response["Location"] == reverse("staff:member_detail", args=[member.public_id])
