"""The back-office rewards pages (marketers, managers) and gift-card designs (managers)."""

from __future__ import annotations

import re

import pytest
from django.contrib.messages import get_messages
from django.core.files.uploadedfile import SimpleUploadedFile
from django.db import connection
from django.test.utils import CaptureQueriesContext
from django.urls import reverse

from loyalty.actors import Actor
from loyalty.models import AuditEvent
from rewards.models import GiftCardDesign, Reward, RewardCategory, RewardKind
from rewards.services import (
    redemption_cancel,
    redemption_create,
    reward_archive,
    reward_category_create,
)
from tests.rewards.conftest import fund, make_reward

pytestmark = pytest.mark.django_db

PNG = b"\x89PNG\r\n\x1a\n" + b"\x00" * 64


def png(name: str = "pic.png") -> SimpleUploadedFile:
    return SimpleUploadedFile(name, PNG, content_type="image/png")


@pytest.fixture(autouse=True)
def _media(settings, tmp_path) -> None:
    settings.MEDIA_ROOT = tmp_path


@pytest.fixture
def marketing(client, marketer, program, tiers):
    client.force_login(marketer)
    return client


@pytest.fixture
def manager_client(client, manager, program, tiers):
    client.force_login(manager)
    return client


def reward_form(**overrides) -> dict:
    data = {
        "name": "Free coffee",
        "description": "Any size.",
        "kind": RewardKind.FREE_PRODUCT,
        "points_cost": "300",
        "value": "12.00",
        "sku": "COF-1",
        "stock": "",
        "per_member_limit": "2",
        "voucher_valid_days": "30",
        "available_from": "",
        "available_until": "",
        "active": "on",
    }
    data.update(overrides)
    return {key: value for key, value in data.items() if value is not None}


def marketing_pages(reward: Reward) -> list[str]:
    return [
        reverse("staff:reward_list"),
        reverse("staff:reward_create"),
        reverse("staff:reward_update", args=[reward.pk]),
        reverse("staff:reward_preview", args=[reward.pk]),
        reverse("staff:reward_archive", args=[reward.pk]),
        reverse("staff:reward_category_list"),
        reverse("staff:reward_donations"),
    ]


DESIGN_PAGES = ["staff:gift_card_design_list", "staff:gift_card_design_create"]


def test_marketers_and_managers_open_the_rewards_pages(client, marketer, manager, program):
    reward = make_reward()
    for user in (marketer, manager):
        client.force_login(user)
        for url in marketing_pages(reward):
            assert client.get(url).status_code == 200, (user.email, url)


def test_store_staff_and_members_are_refused_the_rewards_pages(client, store_staff, member):
    reward = make_reward()
    for user in (store_staff, member.user):
        client.force_login(user)
        for url in marketing_pages(reward):
            assert client.get(url).status_code == 403, (user.email, url)
        move = reverse("staff:reward_move", args=[reward.pk])
        assert client.post(move, {"direction": "down"}).status_code == 403
        archive = reverse("staff:reward_archive", args=[reward.pk])
        assert client.post(archive).status_code == 403
    reward.refresh_from_db()
    assert reward.archived_at is None


def test_anonymous_visitors_are_sent_to_sign_in(client, db):
    response = client.get(reverse("staff:reward_list"))
    assert response.status_code == 302
    assert reverse("account_login") in response.url


def test_designs_are_for_managers_only(client, manager, marketer, store_staff, member):
    design = GiftCardDesign.objects.create(name="Raya")
    urls = [reverse(name) for name in DESIGN_PAGES]
    urls.append(reverse("staff:gift_card_design_update", args=[design.pk]))
    client.force_login(manager)
    for url in urls:
        assert client.get(url).status_code == 200, url
    for user in (marketer, store_staff, member.user):
        client.force_login(user)
        for url in urls:
            assert client.get(url).status_code == 403, (user.email, url)


def test_the_nav_shows_marketing_to_marketers_and_designs_to_managers(
    client, marketer, manager, program
):
    client.force_login(marketer)
    page = client.get(reverse("staff:home")).content.decode()
    assert reverse("staff:reward_list") in page
    assert reverse("staff:gift_card_design_list") not in page
    client.force_login(manager)
    page = client.get(reverse("staff:home")).content.decode()
    assert reverse("staff:reward_list") in page
    assert reverse("staff:gift_card_design_list") in page


def test_creating_a_reward_saves_it_with_its_audience_picture_and_audit(marketing, tiers):
    category = reward_category_create(actor=Actor.system(), name="Drinks", slug="drinks")
    data = reward_form(
        category=str(category.pk),
        tiers=[str(tiers["silver"].pk), str(tiers["gold"].pk)],
        image=png(),
        available_from="2026-12-01T09:00",
        available_until="2026-12-31T22:00",
        featured="on",
    )
    response = marketing.post(reverse("staff:reward_create"), data)
    assert response.status_code == 302, response.context["form"].errors
    reward = Reward.objects.get()
    assert reward.name == "Free coffee"
    assert reward.category == category
    assert reward.sku == "COF-1"
    assert reward.featured and reward.active
    assert reward.per_member_limit == 2
    assert set(reward.tiers.values_list("code", flat=True)) == {"silver", "gold"}
    assert reward.image.name.startswith("rewards/")
    assert reward.image.read().startswith(b"\x89PNG")
    assert reward.available_until > reward.available_from
    event = AuditEvent.objects.get(action="reward.create")
    assert event.actor_label == "marketer@example.com"


def test_a_non_image_upload_is_refused_and_nothing_is_written(marketing):
    fake = SimpleUploadedFile("pic.png", b"<script>alert(1)</script>", content_type="image/png")
    response = marketing.post(reverse("staff:reward_create"), reward_form(image=fake))
    assert response.status_code == 200
    assert "image" in response.context["form"].errors
    assert not Reward.objects.exists()


@pytest.mark.parametrize(
    ("overrides", "field"),
    [
        ({"points_cost": "0"}, "points_cost"),
        ({"name": ""}, "name"),
        ({"sku": ""}, "sku"),  # the service's rule: a free product needs its SKU
        ({"kind": RewardKind.DISCOUNT_PERCENT, "value": "150"}, "value"),
        ({"kind": RewardKind.DONATION, "value": ""}, "cause"),
        (
            {"available_from": "2026-12-31T10:00", "available_until": "2026-12-01T10:00"},
            None,
        ),
    ],
)
def test_creating_a_reward_with_bad_input_shows_errors_and_writes_nothing(
    marketing, overrides, field
):
    response = marketing.post(reverse("staff:reward_create"), reward_form(**overrides))
    assert response.status_code == 200
    errors = response.context["form"].errors
    assert errors
    if field:
        assert field in errors, errors
    assert not Reward.objects.exists()
    assert not AuditEvent.objects.filter(action="reward.create").exists()


def test_editing_a_reward_changes_it_keeps_its_picture_and_is_audited(marketing, tiers):
    reward = make_reward(image=png())
    reward.tiers.set([tiers["gold"]])
    picture = reward.image.name
    url = reverse("staff:reward_update", args=[reward.pk])
    assert b"RM10 off" in marketing.get(url).content
    data = reward_form(
        name="RM15 off",
        kind=RewardKind.DISCOUNT_FIXED,
        value="15.00",
        sku="",
        points_cost="700",
        stock="20",
    )
    response = marketing.post(url, data)
    assert response.status_code == 302, response.context["form"].errors
    reward.refresh_from_db()
    assert (reward.name, reward.value, reward.points_cost, reward.stock) == (
        "RM15 off",
        15,
        700,
        20,
    )
    assert reward.image.name == picture
    assert not reward.tiers.exists()  # no box ticked: everyone
    event = AuditEvent.objects.get(action="reward.update")
    assert event.before["name"] == "RM10 off" and event.after["name"] == "RM15 off"


def test_editing_with_bad_input_changes_nothing(marketing):
    reward = make_reward()
    url = reverse("staff:reward_update", args=[reward.pk])
    response = marketing.post(url, reward_form(kind=RewardKind.DISCOUNT_FIXED, value=""))
    assert response.status_code == 200
    assert "value" in response.context["form"].errors
    reward.refresh_from_db()
    assert reward.name == "RM10 off"
    assert not AuditEvent.objects.filter(action="reward.update").exists()


def edit_form(reward: Reward, **overrides) -> dict:
    """The edit page's form as the browser sends it, with the stock it showed."""
    data = reward_form(
        name=reward.name,
        kind=reward.kind,
        value=str(reward.value),
        sku=reward.sku,
        points_cost=str(reward.points_cost),
        stock="" if reward.stock is None else str(reward.stock),
        stock_seen="" if reward.stock is None else str(reward.stock),
    )
    data.update(overrides)
    return data


def test_the_edit_page_carries_the_stock_it_showed(marketing):
    reward = make_reward(stock=5)
    form = marketing.get(reverse("staff:reward_update", args=[reward.pk])).context["form"]
    assert form["stock_seen"].value() == 5 and form["stock_seen"].is_hidden


def test_saving_a_stale_edit_page_does_not_put_redeemed_stock_back(marketing, rich_shopper):
    reward = make_reward(stock=5, points_cost=100)
    page = edit_form(reward, name="RM10 off, renamed")  # opened at stock 5
    redemption_create(actor=Actor.system(), member=rich_shopper, reward=reward, quantity=2)

    response = marketing.post(reverse("staff:reward_update", args=[reward.pk]), page)
    assert response.status_code == 302, response.context["form"].errors
    reward.refresh_from_db()
    assert (reward.name, reward.stock) == ("RM10 off, renamed", 3)
    assert "3 left now" in " ".join(str(m) for m in get_messages(response.wsgi_request))


def test_units_added_on_a_stale_page_are_added_to_what_is_left(marketing, rich_shopper):
    reward = make_reward(stock=5, points_cost=100)
    page = edit_form(reward, stock="15")  # +10 typed over the 5 shown
    redemption_create(actor=Actor.system(), member=rich_shopper, reward=reward, quantity=2)

    response = marketing.post(reverse("staff:reward_update", args=[reward.pk]), page)
    assert response.status_code == 302, response.context["form"].errors
    reward.refresh_from_db()
    assert reward.stock == 13
    event = AuditEvent.objects.get(action="reward.update")
    assert (event.before["stock"], event.after["stock"]) == (3, 13)


def test_taking_off_more_than_is_left_now_is_refused_and_shows_the_stock_now(
    marketing, rich_shopper
):
    reward = make_reward(stock=5, points_cost=100)
    page = edit_form(reward, stock="1", name="Renamed")  # -4 typed over the 5 shown
    redemption_create(actor=Actor.system(), member=rich_shopper, reward=reward, quantity=3)

    response = marketing.post(reverse("staff:reward_update", args=[reward.pk]), page)
    assert response.status_code == 200
    form = response.context["form"]
    assert "Only 2 are left now" in form.errors["stock"][0]
    # The page now shows the stock left, so saving it again starts from there.
    assert (form["stock"].value(), form["stock_seen"].value()) == ("2", "2")
    reward.refresh_from_db()
    assert (reward.name, reward.stock) == ("RM10 off", 2)
    assert not AuditEvent.objects.filter(action="reward.update").exists()


def test_a_stale_page_cannot_make_a_limited_stock_unlimited_or_back(marketing, rich_shopper):
    reward = make_reward(stock=5, points_cost=100)
    url = reverse("staff:reward_update", args=[reward.pk])
    page = edit_form(reward, stock="")  # unlimited typed over the 5 shown
    redemption_create(actor=Actor.system(), member=rich_shopper, reward=reward)
    refused = marketing.post(url, page)
    assert "stock changed" in refused.context["form"].errors["stock"][0]
    assert Reward.objects.get(pk=reward.pk).stock == 4

    fresh = edit_form(Reward.objects.get(pk=reward.pk), stock="")
    assert marketing.post(url, fresh).status_code == 302
    assert Reward.objects.get(pk=reward.pk).stock is None


def test_an_edit_page_that_left_the_stock_alone_never_writes_it(marketing, rich_shopper):
    reward = make_reward(stock=5, points_cost=100)
    page = edit_form(reward, points_cost="200")
    redemption_create(actor=Actor.system(), member=rich_shopper, reward=reward, quantity=2)
    with CaptureQueriesContext(connection) as queries:
        marketing.post(reverse("staff:reward_update", args=[reward.pk]), page)
    updates = [q["sql"] for q in queries if q["sql"].startswith('UPDATE "rewards_reward"')]
    assert len(updates) == 1 and '"stock"' not in updates[0].split("WHERE")[0]
    assert Reward.objects.get(pk=reward.pk).stock == 3


def test_donations_by_cause_show_points_and_donors(marketing, rich_shopper, member):
    fund(member, 1000)
    flood = make_reward(kind=RewardKind.DONATION, value=None, cause="Flood relief", points_cost=100)
    redemption_create(actor=Actor.system(), member=rich_shopper, reward=flood, quantity=3)
    redemption_create(actor=Actor.system(), member=member, reward=flood)
    assert (
        reverse("staff:reward_donations")
        in marketing.get(reverse("staff:reward_list")).content.decode()
    )

    response = marketing.get(reverse("staff:reward_donations"))
    assert response.status_code == 200
    row = re.search(r"<td>Flood relief</td>(.*?)</tr>", response.content.decode(), re.S)
    assert re.findall(r'<td class="num">(\d+)</td>', row.group(1)) == ["400", "2"]


def test_the_donations_page_without_donations_says_so(marketing):
    assert b"No donations yet" in marketing.get(reverse("staff:reward_donations")).content


def test_archiving_asks_first_then_takes_the_reward_out_of_the_catalogue(marketing):
    reward = make_reward()
    url = reverse("staff:reward_archive", args=[reward.pk])
    assert b"Archive the reward" in marketing.get(url).content
    reward.refresh_from_db()
    assert reward.archived_at is None
    response = marketing.post(url)
    assert response.status_code == 302
    reward.refresh_from_db()
    assert reward.archived_at is not None and not reward.active
    assert AuditEvent.objects.filter(action="reward.archive").count() == 1
    listing = marketing.get(reverse("staff:reward_list"))
    assert reward not in listing.context["rewards"]
    archived = marketing.get(reverse("staff:reward_list"), {"status": "archived"})
    assert list(archived.context["rewards"]) == [reward]


def test_moving_rewards_swaps_their_places_and_is_audited(marketing):
    first, second, third = (make_reward(name=name) for name in ("A", "B", "C"))
    move = reverse("staff:reward_move", args=[third.pk])
    assert marketing.post(move, {"direction": "up"}).status_code == 302
    listing = marketing.get(reverse("staff:reward_list"))
    assert [r.name for r in listing.context["rewards"]] == ["A", "C", "B"]
    marketing.post(reverse("staff:reward_move", args=[first.pk]), {"direction": "down"})
    assert [r.name for r in Reward.objects.all()] == ["C", "A", "B"]
    assert AuditEvent.objects.filter(action="reward.move").count() == 2
    # The first one up, or a direction that means nothing, changes nothing.
    marketing.post(reverse("staff:reward_move", args=[third.pk]), {"direction": "up"})
    marketing.post(reverse("staff:reward_move", args=[second.pk]), {"direction": "sideways"})
    assert [r.name for r in Reward.objects.all()] == ["C", "A", "B"]
    assert marketing.get(reverse("staff:reward_move", args=[first.pk])).status_code == 405


def test_an_archived_reward_cannot_be_moved(marketing):
    reward = make_reward()
    make_reward(name="Other")
    reward_archive(actor=Actor.system(), reward=reward)
    marketing.post(reverse("staff:reward_move", args=[reward.pk]), {"direction": "down"})
    assert not AuditEvent.objects.filter(action="reward.move").exists()


def test_the_list_counts_units_of_completed_redemptions_in_one_query(marketing, rich_shopper):
    popular = make_reward(name="Popular", points_cost=100, stock=10)
    make_reward(name="Quiet", points_cost=100)
    redemption_create(actor=Actor.system(), member=rich_shopper, reward=popular, quantity=3)
    redemption_create(actor=Actor.system(), member=rich_shopper, reward=popular)
    cancelled = redemption_create(actor=Actor.system(), member=rich_shopper, reward=popular)
    redemption_cancel(redemption=cancelled, actor=Actor.system())
    with CaptureQueriesContext(connection) as queries:
        response = marketing.get(reverse("staff:reward_list"))
    counts = {r.name: r.redeemed_units for r in response.context["rewards"]}
    # A redemption of 3 counts 3 units; with the 6 left they make the stock of 10.
    assert counts == {"Popular": 4, "Quiet": 0}
    assert Reward.objects.get(pk=popular.pk).stock == 6
    # The counts come with the rewards (a join), not from a query per row.
    redemption_queries = [q for q in queries if '"rewards_redemption"' in q["sql"]]
    assert len(redemption_queries) == 1
    assert '"rewards_reward"' in redemption_queries[0]["sql"]
    assert b"unlimited" in response.content


def test_the_list_filters_by_kind_category_and_status(marketing):
    drinks = RewardCategory.objects.create(name="Drinks", slug="drinks")
    coffee = make_reward(name="Coffee", kind=RewardKind.FREE_PRODUCT, sku="C1", category=drinks)
    make_reward(name="RM10 off")
    paused = make_reward(name="Paused", active=False)
    url = reverse("staff:reward_list")
    assert list(marketing.get(url, {"kind": "free_product"}).context["rewards"]) == [coffee]
    assert list(marketing.get(url, {"category": drinks.pk}).context["rewards"]) == [coffee]
    assert list(marketing.get(url, {"status": "inactive"}).context["rewards"]) == [paused]
    assert len(marketing.get(url, {"status": "active"}).context["rewards"]) == 2


def test_the_preview_shows_the_members_card(marketing):
    reward = make_reward(
        name="Cinema night",
        kind=RewardKind.EXPERIENCE,
        value="40.00",
        stock=5,
        per_member_limit=1,
        image=png(),
    )
    page = marketing.get(reverse("staff:reward_preview", args=[reward.pk])).content.decode()
    assert "Cinema night" in page
    assert "500 points" in page
    assert "Only 5 left" in page
    assert "Limit 1 per member" in page
    assert reward.image.url in page


def test_categories_are_listed_and_added(marketing):
    url = reverse("staff:reward_category_list")
    response = marketing.post(url, {"name": "Dining", "slug": "dining", "position": "1"})
    assert response.status_code == 302
    assert RewardCategory.objects.get().name == "Dining"
    assert b"Dining" in marketing.get(url).content
    again = marketing.post(url, {"name": "Food", "slug": "dining", "position": "0"})
    assert again.status_code == 200
    assert "slug" in again.context["form"].errors
    assert RewardCategory.objects.count() == 1


def test_managers_create_and_edit_gift_card_designs(manager_client):
    response = manager_client.post(
        reverse("staff:gift_card_design_create"),
        {
            "name": "Raya",
            "merchant_name": "Kedai Setia",
            "background_color": "#123456",
            "text_color": "#fefefe",
            "active": "on",
            "image": png("raya.png"),
        },
    )
    assert response.status_code == 302, response.context["form"].errors
    design = GiftCardDesign.objects.get()
    assert design.image.name.startswith("gift-cards/")
    assert AuditEvent.objects.filter(action="gift_card_design.create").count() == 1
    listing = manager_client.get(reverse("staff:gift_card_design_list")).content.decode()
    assert "background: #123456; color: #fefefe" in listing
    assert "Kedai Setia" in listing

    url = reverse("staff:gift_card_design_update", args=[design.pk])
    response = manager_client.post(
        url, {"name": "Raya 2", "background_color": "#000000", "text_color": "#ffffff"}
    )
    assert response.status_code == 302
    design.refresh_from_db()
    assert (design.name, design.active, design.background_color) == ("Raya 2", False, "#000000")
    assert design.image.name.startswith("gift-cards/")
    assert AuditEvent.objects.filter(action="gift_card_design.update").count() == 1


def test_a_design_with_a_bad_colour_or_picture_is_refused(manager_client):
    fake = SimpleUploadedFile("x.png", b"not a picture at all", content_type="image/png")
    response = manager_client.post(
        reverse("staff:gift_card_design_create"),
        {"name": "Bad", "background_color": "red", "text_color": "#ffffff", "image": fake},
    )
    assert response.status_code == 200
    errors = response.context["form"].errors
    assert "background_color" in errors and "image" in errors
    assert not GiftCardDesign.objects.exists()
