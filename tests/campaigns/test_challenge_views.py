"""The challenge and badge pages: the member's challenges (bars, join, completed,
reversed), the badge wall, leaderboards by nickname, the home panel of what a
purchase moved; the marketers' list, forms (the service's messages on their
fields), results and badges; who may open them; Malay."""

from __future__ import annotations

from datetime import timedelta
from decimal import Decimal

import pytest
from django.core.files.uploadedfile import SimpleUploadedFile
from django.urls import reverse
from django.utils import timezone
from django.utils.translation import override

from campaigns.challenges import badge_create, challenge_create, challenge_join, leaderboard_join
from campaigns.models import Badge, Challenge, ChallengeParticipation, LeaderboardProfile
from loyalty.actors import Actor
from loyalty.models import AuditEvent
from purchases.inputs import LineInput, SaleInput
from purchases.models import Purchase
from purchases.returns import ReturnItem, purchase_return
from purchases.services import purchase_record
from tests.factories import MemberFactory

pytestmark = pytest.mark.django_db

# A 1x1 transparent PNG.
PNG = bytes.fromhex(
    "89504e470d0a1a0a0000000d4948445200000001000000010806000000"
    "1f15c4890000000d49444154789c6360000002000154a24f5d0000000049454e44ae426082"
)


def make_badge(name: str = "Kopi regular", icon: str = "coffee", **fields) -> Badge:
    return badge_create(actor=Actor.system(), name=name, icon=icon, **fields)


def make_challenge(**fields) -> Challenge:
    now = timezone.now()
    values = {
        "name": "Three kopi",
        "goal": "purchase_count",
        "target": Decimal("3"),
        "starts_at": now - timedelta(days=1),
        # 11 days and 23 hours: "12 days left".
        "ends_at": now + timedelta(days=12, hours=-1),
        "opt_in": True,
        "reward_points": 100,
        "status": "scheduled",
    }
    values.update(fields)
    return challenge_create(actor=Actor.system(), **values)


def buy(member, store, reference: str, amount: str = "10.00", **extra):
    return purchase_record(
        sale=SaleInput(
            store=store,
            reference=reference,
            member=member,
            occurred_at=timezone.now(),
            items=[LineInput(sku="KOPI", quantity=1, unit_price=Decimal(amount), **extra)],
        ),
        actor=Actor.system(),
    )


@pytest.fixture
def signed_in_member(client, program, tiers):
    member = MemberFactory(user__email="ahmad@example.com", first_name="Ahmad")
    client.force_login(member.user)
    return member


@pytest.fixture
def marketing(client, marketer, program, tiers):
    client.force_login(marketer)
    return client


# --- Who may open them --------------------------------------------------------------------------


@pytest.mark.parametrize(
    "name", ["challenge_list", "challenge_create", "badge_list", "badge_create"]
)
def test_marketers_and_managers_open_the_challenge_pages_store_staff_do_not(
    client, marketer, manager, store_staff, name
):
    url = reverse(f"staff:{name}")
    client.force_login(store_staff)
    assert client.get(url).status_code == 403
    client.force_login(marketer)
    assert client.get(url).status_code == 200
    client.force_login(manager)
    assert client.get(url).status_code == 200


def test_a_member_cannot_open_the_marketers_pages_and_staff_cannot_open_the_portal_ones(
    client, member, marketer, program
):
    client.force_login(member.user)
    assert client.get(reverse("staff:challenge_list")).status_code == 403
    client.force_login(marketer)
    assert client.get(reverse("portal:challenges")).status_code == 403


def test_the_navigation_leads_to_the_challenges_in_both_places(marketing, client, member):
    assert reverse("staff:challenge_list") in marketing.get(reverse("staff:home")).content.decode()
    client.force_login(member.user)
    assert reverse("portal:challenges") in client.get(reverse("portal:home")).content.decode()


# --- Marketer pages -----------------------------------------------------------------------------


def challenge_form(**overrides) -> dict:
    start = timezone.localtime().replace(second=0, microsecond=0)
    data = {
        "name": "Three kopi",
        "description": "",
        "goal": "purchase_count",
        "target": "3",
        "categories": "",
        "skus": "",
        "event": "",
        "streak_freezes": "0",
        "streak_milestones": "",
        "starts_at": start.strftime("%Y-%m-%dT%H:%M"),
        "ends_at": "",
        "rolling_days": "30",
        "opt_in": "on",
        "segment": "",
        "reward_points": "100",
        "badge": "",
        "reward": "",
        "status": "scheduled",
    }
    data.update(overrides)
    return data


def test_a_marketer_creates_a_challenge_audited_and_listed(marketing, marketer):
    badge = make_badge()
    response = marketing.post(
        reverse("staff:challenge_create"), challenge_form(badge=str(badge.pk), leaderboard="on")
    )
    assert response.status_code == 302, response.content.decode()
    challenge = Challenge.objects.get()
    assert (challenge.goal, challenge.target, challenge.rolling_days) == (
        "purchase_count",
        Decimal("3"),
        30,
    )
    assert challenge.badge == badge and challenge.leaderboard and challenge.opt_in
    assert AuditEvent.objects.filter(actor=marketer, action__startswith="challenge").exists()
    page = marketing.get(reverse("staff:challenge_list")).content.decode()
    assert "Three kopi" in page
    assert "Make 3 purchases within 30 days of joining" in page


@pytest.mark.parametrize(
    ("overrides", "field", "message"),
    [
        ({"goal": "event_count", "event": ""}, "event", "Name the event"),
        ({"target": "2.5"}, "target", "A whole number from 1 to"),
        ({"goal": "category_spend", "target": "50"}, "categories", "Name the categories"),
        ({"reward_points": "0"}, None, "Give points, a badge or a reward"),
        ({"streak_milestones": "four weeks"}, "streak_milestones", "weeks: points"),
        ({"target": "-1"}, "target", ""),
    ],
)
def test_the_challenge_form_shows_why_it_was_refused(marketing, overrides, field, message):
    response = marketing.post(reverse("staff:challenge_create"), challenge_form(**overrides))
    assert response.status_code == 200
    form = response.context["form"]
    errors = form.errors.get(field, []) if field else [e for es in form.errors.values() for e in es]
    assert errors and any(message in error for error in errors), form.errors
    assert not Challenge.objects.exists()


def response_status(response) -> str:
    return response.context["form"].initial["status"]


def test_editing_a_joined_challenge_cannot_change_its_goal(marketing, program):
    challenge = make_challenge()
    challenge_join(member=MemberFactory(), challenge=challenge)
    url = reverse("staff:challenge_update", args=[challenge.pk])
    assert marketing.get(url).status_code == 200
    # It is live: its status on the form reads so.
    assert response_status(marketing.get(url)) == "active"
    response = marketing.post(url, challenge_form(target="5", rolling_days="", status="active"))
    assert response.status_code == 200
    assert "Members already take part" in str(response.context["form"].errors)
    challenge.refresh_from_db()
    assert challenge.target == Decimal("3")
    response = marketing.post(
        url, challenge_form(name="Three kopi, now", rolling_days="", status="active")
    )
    assert response.status_code == 302
    challenge.refresh_from_db()
    assert challenge.name == "Three kopi, now"


def test_a_badge_takes_a_built_in_icon_or_an_uploaded_picture(marketing):
    page = marketing.get(reverse("staff:badge_create")).content.decode()
    # The picker: the twelve built-in icons, each drawn.
    for key in ("star", "flame", "trophy", "medal", "crown", "heart"):
        assert f"img/badges/{key}.svg#icon" in page
    response = marketing.post(
        reverse("staff:badge_create"),
        {"name": "On fire", "description": "", "rarity": "epic", "icon": "flame"},
    )
    assert response.status_code == 302
    assert Badge.objects.get(name="On fire").icon == "flame"
    upload = SimpleUploadedFile("mine.png", PNG, content_type="image/png")
    response = marketing.post(
        reverse("staff:badge_create"),
        {"name": "Our own", "description": "", "rarity": "rare", "icon": "star", "image": upload},
    )
    assert response.status_code == 302
    badge = Badge.objects.get(name="Our own")
    assert badge.image
    page = marketing.get(reverse("staff:badge_list")).content.decode()
    assert badge.image.url in page and "img/badges/flame.svg#icon" in page


def test_a_badge_name_taken_is_refused_on_its_field(marketing):
    make_badge(name="On fire")
    response = marketing.post(
        reverse("staff:badge_create"),
        {"name": "On fire", "description": "", "rarity": "common", "icon": "flame"},
    )
    assert response.status_code == 200
    assert response.context["form"].errors["name"]


def test_results_compare_the_participants_purchases_with_the_others(marketing, store):
    challenge = make_challenge(name="Two visits", target=Decimal("2"), reward_points=50)
    joined, other = MemberFactory(), MemberFactory()
    challenge_join(member=joined, challenge=challenge)
    for n in range(2):
        buy(joined, store, f"J-{n}")
    buy(other, store, "O-1")
    response = marketing.get(reverse("staff:challenge_results", args=[challenge.pk]))
    assert response.status_code == 200
    results = response.context["results"]
    assert (results.participants, results.completed, results.points_awarded) == (1, 1, 50)
    page = response.content.decode()
    assert 'data-testid="completion-rate">100' in page
    assert results.purchase_frequency_participants == 2.0
    assert joined.full_name in page  # the participant list
    assert "Completed" in page


# --- Portal -------------------------------------------------------------------------------------


def test_the_challenges_page_shows_the_bar_and_the_time_left(client, signed_in_member, store):
    challenge = make_challenge()
    challenge_join(member=signed_in_member, challenge=challenge)
    buy(signed_in_member, store, "R-1")
    buy(signed_in_member, store, "R-2")
    page = client.get(reverse("portal:challenges")).content.decode()
    assert "2 of 3 purchases" in page and "12 days left" in page
    assert 'value="66"' in page  # the bar, two thirds full


def test_a_member_joins_an_opt_in_challenge_with_its_button(client, signed_in_member):
    challenge = make_challenge()
    page = client.get(reverse("portal:challenges")).content.decode()
    join_url = reverse("portal:challenge_join", args=[challenge.pk])
    assert join_url in page
    response = client.post(join_url, follow=True)
    assert ChallengeParticipation.objects.filter(
        member=signed_in_member, challenge=challenge
    ).exists()
    page = response.content.decode()
    assert "You joined Three kopi" in page and join_url not in page
    assert "0 of 3 purchases" in page


def test_a_member_cannot_join_a_challenge_outside_their_audience(client, signed_in_member, tiers):
    challenge = make_challenge(name="Gold only")
    challenge.tiers.set([tiers["gold"]])
    response = client.post(reverse("portal:challenge_join", args=[challenge.pk]))
    assert response.status_code == 404
    assert not ChallengeParticipation.objects.exists()


def test_a_completed_challenge_says_when_its_points_were_reversed(client, signed_in_member, store):
    challenge = make_challenge(target=Decimal("1"), name="First kopi")
    challenge_join(member=signed_in_member, challenge=challenge)
    recorded = buy(signed_in_member, store, "R-1")
    page = client.get(reverse("portal:challenges")).content.decode()
    assert "Completed" in page and "Points reversed" not in page
    purchase_return(
        purchase=Purchase.objects.get(pk=recorded.record_id),
        items=[ReturnItem(sku="KOPI", quantity=1)],
        reference="RET-1",
        actor=Actor.system(),
    )
    page = client.get(reverse("portal:challenges")).content.decode()
    assert "Points reversed: the purchase was returned." in page


def test_the_home_page_shows_what_the_last_purchase_moved(client, signed_in_member, store):
    moved = make_challenge(name="Three kopi")
    make_challenge(name="Big spender", goal="spend", target=Decimal("500"), opt_in=False)
    untouched = make_challenge(name="Pastries", goal="category_spend", categories=["pastries"])
    for challenge in (moved, untouched):
        challenge_join(member=signed_in_member, challenge=challenge)
    buy(signed_in_member, store, "R-1", amount="20.00")
    response = client.get(reverse("portal:home"))
    (panel,) = [
        shown
        for shown in response.context["panels"]
        if shown.template == "portal/campaigns/challenges_panel.html"
    ]
    assert {card.name for card in panel.context["moved"]} == {"Three kopi", "Big spender"}
    page = response.content.decode()
    assert "1 of 3 purchases" in page and "RM20.00 of RM500.00 spent" in page


def test_the_home_page_has_no_challenges_panel_without_challenges(client, signed_in_member):
    response = client.get(reverse("portal:home"))
    assert all(
        shown.template != "portal/campaigns/challenges_panel.html"
        for shown in response.context["panels"]
    )


def test_the_badge_wall_shows_earned_and_locked_badges_and_how_to_earn_them(
    client, signed_in_member, store
):
    regular = make_badge(name="Kopi regular", icon="coffee")
    make_badge(name="On fire", icon="flame")
    challenge = make_challenge(name="First kopi", target=Decimal("1"), badge=regular)
    make_challenge(
        name="Four weeks",
        goal="weekly_streak",
        target=Decimal("4"),
        badge=Badge.objects.get(name="On fire"),
    )
    challenge_join(member=signed_in_member, challenge=challenge)
    buy(signed_in_member, store, "R-1")
    page = client.get(reverse("portal:badges")).content.decode()
    assert 'data-badge="Kopi regular" data-earned="yes"' in page
    assert 'data-badge="On fire" data-earned="no"' in page
    assert "Four weeks: Buy something every week for 4 weeks in a row" in page
    assert "1 of 2 badges earned" in page


def test_leaderboard_ties_share_a_rank_and_show_nicknames_only(client, signed_in_member, store):
    challenge = make_challenge(leaderboard=True, target=Decimal("5"))
    others = [MemberFactory(first_name=f"Named{n}", last_name="Person") for n in range(3)]
    for member, nickname, visits in zip(
        [signed_in_member, *others], ["Kopi1", "Kopi2", "Kopi3", None], [2, 2, 1, 3], strict=True
    ):
        challenge_join(member=member, challenge=challenge)
        if nickname:
            leaderboard_join(member=member, nickname=nickname)
        for n in range(visits):
            buy(member, store, f"{member.pk}-{n}")
    response = client.get(reverse("portal:challenge_leaderboard", args=[challenge.pk]))
    rows = response.context["rows"]
    assert [(row["rank"], row["nickname"]) for row in rows] == [
        (1, "Kopi1"),
        (1, "Kopi2"),
        (3, "Kopi3"),
    ]
    assert rows[0]["is_me"] and not rows[1]["is_me"]
    page = response.content.decode()
    assert "Named" not in page and "Person" not in page  # no name of anyone's
    assert others[0].email not in page


def test_a_member_opts_in_and_out_of_the_leaderboards(client, signed_in_member):
    challenge = make_challenge(leaderboard=True)
    board = reverse("portal:challenge_leaderboard", args=[challenge.pk])
    url = reverse("portal:leaderboard_nickname")
    response = client.post(url, {"nickname": "Ahmad", "action": "join", "next": board}, follow=True)
    assert "must not show your name" in response.content.decode()
    assert not LeaderboardProfile.objects.exists()
    response = client.post(url, {"nickname": "KopiKing", "action": "join", "next": board})
    assert response["Location"] == board
    assert LeaderboardProfile.objects.get(member=signed_in_member).nickname == "KopiKing"
    client.post(url, {"action": "leave", "next": "https://elsewhere.example/"})
    assert not LeaderboardProfile.objects.exists()


def test_the_challenges_page_reads_in_malay(client, signed_in_member, store):
    challenge = make_challenge()
    challenge_join(member=signed_in_member, challenge=challenge)
    buy(signed_in_member, store, "R-1")
    client.cookies["django_language"] = "ms"
    # The middleware leaves the request's language active in the thread: give it back after.
    with override("en"):
        page = client.get(reverse("portal:challenges")).content.decode()
    assert "Cabaran" in page
    assert "1 daripada 3 pembelian" in page
    assert "12 hari lagi" in page
