"""The member portal pages: home, history, tiers and profile."""

from __future__ import annotations

from datetime import timedelta
from decimal import Decimal

import pytest
from django.db import connection
from django.test.utils import CaptureQueriesContext
from django.urls import reverse
from django.utils import timezone

from analytics.feedback import survey_settings_get
from analytics.surveys import survey_invite
from loyalty.actors import Actor
from loyalty.models import AuditEvent
from loyalty.services import program_settings_update
from loyalty.urls import urlpatterns
from members.card_images import card_number_grouped, code128_modules, code128_svg, qr_svg
from members.models import EntryKind, Member, PointsEntry
from members.points import points_adjust
from purchases.inputs import LineInput, SaleInput
from purchases.models import Purchase
from purchases.returns import ReturnItem, purchase_return
from purchases.services import purchase_record
from rewards.services import redemption_create
from tests.factories import MemberFactory, StoreFactory
from tests.rewards.conftest import fund, make_reward

pytestmark = pytest.mark.django_db

PAGES = ["portal:home", "portal:history", "portal:tiers", "portal:profile"]


@pytest.fixture
def portal(client, program, tiers, member):
    """A signed-in member who joined after the tiers exist (so holds Bronze)."""
    client.force_login(member.user)
    return client


def buy(member: Member, reference: str, amount: str = "50.00", *, days_ago: int = 0):
    """A purchase at the program's store, `days_ago` days back."""
    store = StoreFactory(code="klcc")
    sale = SaleInput(
        store=store,
        reference=reference,
        member=member,
        occurred_at=timezone.now() - timedelta(days=days_ago),
        items=[LineInput(sku="KOPI", quantity=1, unit_price=Decimal(amount))],
    )
    return purchase_record(sale=sale, actor=Actor.system())


# --- Access -----------------------------------------------------------------------------------


@pytest.mark.parametrize("name", PAGES)
def test_each_page_renders_for_a_member(portal, name):
    response = portal.get(reverse(name))
    assert response.status_code == 200
    assert b'href="/static/css/portal.css"' in response.content


@pytest.mark.parametrize("name", PAGES)
def test_anonymous_visitors_are_sent_to_sign_in(client, program, name):
    response = client.get(reverse(name))
    assert response.status_code == 302
    assert response.url.startswith(reverse("account_login"))


@pytest.mark.parametrize("name", PAGES)
def test_staff_who_are_not_members_are_refused(client, store_staff, program, name):
    client.force_login(store_staff)
    assert client.get(reverse(name)).status_code == 403


def test_the_navigation_links_every_page_and_marks_the_current_one(portal):
    page = portal.get(reverse("portal:history")).content.decode()
    for name in PAGES:
        assert f'href="{reverse(name)}"' in page
    assert f'href="{reverse("portal:history")}" aria-current="page"' in page


# --- Home -------------------------------------------------------------------------------------


def test_home_keeps_the_greeting_and_shows_the_card(portal, member):
    page = portal.get(reverse("portal:home")).content.decode()
    assert f"Hello, {member.first_name}" in page
    assert card_number_grouped(member.card_number) in page
    assert 'class="code-qr" role="img"' in page
    assert 'class="code-barcode" role="img"' in page
    assert f'aria-label="Card number {member.card_number}"' in page
    assert code128_svg(member.card_number, label=f"Card number {member.card_number}") in page


def test_home_shows_balance_expiry_tier_progress_and_recent_activity(portal, member, program):
    for number in range(7):
        buy(member, f"R-{number}", "20.00")
    response = portal.get(reverse("portal:home"))
    page = response.content.decode()
    assert response.context["account"].balance == 140
    assert 'data-testid="balance">140<' in page
    expires = timezone.localtime(timezone.now() + timedelta(days=365)).strftime("%-d %b %Y")
    assert f"140 points expire on {expires}" in page
    # Spend basis: RM 140 of the RM 10,000 that Silver takes.
    assert "Spend RM9,860.00 more to reach Silver" in page
    assert 'role="progressbar"' not in page and "<progress" in page
    assert 'aria-valuenow="1"' in page
    assert len(response.context["recent"]) == 5
    assert page.count('class="portal-entry"') == 5
    assert reverse("portal:history") in page


def test_home_says_when_pending_points_become_spendable(portal, member, program):
    program_settings_update(actor=Actor.system(), pending_days=14)
    buy(member, "R-PENDING", "80.00")
    page = portal.get(reverse("portal:home")).content.decode()
    spendable = timezone.localtime(timezone.now() + timedelta(days=14)).strftime("%-d %b %Y")
    assert "80 points pending" in page
    assert f"80 points become spendable on {spendable}" in page


def test_home_shows_progress_in_points_when_tiers_follow_points(portal, member, program):
    program_settings_update(actor=Actor.system(), tier_basis="points")
    buy(member, "R-1", "30.00")
    page = portal.get(reverse("portal:home")).content.decode()
    assert "Earn 9970 more points to reach Silver" in page


def test_home_runs_the_same_number_of_queries_for_3_and_30_purchases(portal, member):
    def count_queries() -> int:
        with CaptureQueriesContext(connection) as queries:
            assert portal.get(reverse("portal:home")).status_code == 200
        return len(queries)

    for number in range(3):
        buy(member, f"A-{number}", "10.00", days_ago=40 - number)
    with_three = count_queries()
    for number in range(27):
        buy(member, f"B-{number}", "10.00", days_ago=30 - number)
    assert count_queries() == with_three


# --- History ----------------------------------------------------------------------------------


def test_history_lists_entries_with_the_running_balance(portal, member):
    points_adjust(actor=Actor.system(), member=member, points=50, reason="Welcome gift")
    points_adjust(actor=Actor.system(), member=member, points=-20, reason="Duplicate fixed")
    response = portal.get(reverse("portal:history"))
    page = response.content.decode()
    assert [(e.points, e.balance_after) for e in response.context["entries"]] == [
        (-20, 30),
        (50, 50),
    ]
    assert "Welcome gift" in page and "Duplicate fixed" in page
    assert "+50" in page and "-20" in page


def test_history_filters_by_kind(portal, member):
    buy(member, "R-KIND", "40.00")
    points_adjust(actor=Actor.system(), member=member, points=5, reason="Goodwill")
    url = reverse("portal:history")
    adjustments = portal.get(url, {"kind": EntryKind.ADJUST}).context["entries"]
    assert [entry.kind for entry in adjustments] == [EntryKind.ADJUST]
    earned = portal.get(url, {"kind": EntryKind.EARN}).context["entries"]
    assert [entry.points for entry in earned] == [40]


def test_history_filters_by_date(portal, member):
    points_adjust(actor=Actor.system(), member=member, points=5, reason="Today")
    url = reverse("portal:history")
    today = timezone.localdate().isoformat()
    tomorrow = (timezone.localdate() + timedelta(days=1)).isoformat()
    assert len(portal.get(url, {"since": today, "until": today}).context["entries"]) == 1
    response = portal.get(url, {"since": tomorrow})
    assert len(response.context["entries"]) == 0
    assert "No points movement matches these filters." in response.content.decode()


def test_history_without_entries_shows_the_empty_state(portal):
    page = portal.get(reverse("portal:history")).content.decode()
    assert "Your points appear here after your first purchase." in page


def test_history_is_paginated_and_keeps_the_filter(portal, member):
    for _n in range(25):
        points_adjust(actor=Actor.system(), member=member, points=1, reason="Stamp")
    url = reverse("portal:history")
    first = portal.get(url, {"kind": EntryKind.ADJUST})
    assert len(first.context["entries"]) == 20
    assert "kind=adjust&amp;page=2" in first.content.decode()
    assert len(portal.get(url, {"kind": EntryKind.ADJUST, "page": 2}).context["entries"]) == 5


def test_a_member_never_sees_another_members_history(portal, member, program):
    """Return entries carry their reference: the member's own shows, the other's never."""
    mine = buy(member, "MINE-REF-1", "60.00")
    purchase_return(
        purchase=Purchase.objects.get(pk=mine.record_id),
        reference="MINE-RET-1",
        actor=Actor.system(),
        items=[ReturnItem(sku="KOPI", quantity=1)],
    )
    other = MemberFactory(first_name="Other")
    theirs = buy(other, "OTHER-REF-77", "60.00")
    purchase_return(
        purchase=Purchase.objects.get(pk=theirs.record_id),
        reference="OTHER-RET-77",
        actor=Actor.system(),
        items=[ReturnItem(sku="KOPI", quantity=1)],
    )
    points_adjust(actor=Actor.system(), member=other, points=9, reason="Secret of other")
    history = portal.get(reverse("portal:history"))
    assert "MINE-RET-1" in history.content.decode()
    assert {entry.member_id for entry in history.context["entries"]} == {member.pk}
    for name in PAGES:
        page = portal.get(reverse(name)).content.decode()
        assert "OTHER-RET-77" not in page
        assert "Secret of other" not in page
        assert other.card_number not in page


# --- Tiers ------------------------------------------------------------------------------------


def test_tiers_lists_every_tier_and_highlights_the_members(portal, member, tiers):
    tiers["silver"].benefits = "Free parking on weekends"
    tiers["silver"].save()
    page = portal.get(reverse("portal:tiers")).content.decode()
    for tier in tiers.values():
        assert tier.name in page
    assert "Free parking on weekends" in page
    assert page.count("portal-tier-current") == 1
    assert 'portal-tier portal-tier-current" style="--tier-color: ' in page
    assert "Spend RM10,000.00 more to reach Silver" in page
    assert "Kept for at least" in page and "365 days" in page
    assert "RM20,000.00 spent" in page


def test_tiers_at_the_top_says_so(portal, member, tiers):
    Member.objects.filter(pk=member.pk).update(tier=tiers["gold"])
    page = portal.get(reverse("portal:tiers")).content.decode()
    assert "You are in the highest tier." in page


# --- Profile ----------------------------------------------------------------------------------


def profile_form(**changes: str) -> dict[str, str]:
    return {
        "first_name": "Nur",
        "last_name": "Aisyah",
        "phone": "",
        "birth_date": "1990-05-17",
        "language": "en",
        **changes,
    }


def test_profile_edit_saves_through_the_service(portal, member):
    response = portal.post(
        reverse("portal:profile"),
        profile_form(phone="012-999 8888", marketing_consent="on", language="ms"),
    )
    assert response.status_code == 302
    member.refresh_from_db()
    assert (member.first_name, member.last_name, member.phone) == ("Nur", "Aisyah", "+60129998888")
    assert member.birth_date.isoformat() == "1990-05-17"
    assert member.marketing_consent is True and member.language == "ms"
    assert response.cookies["django_language"].value == "ms"
    assert AuditEvent.objects.filter(action="member.update", actor=member.user).exists()


def test_profile_links_to_the_email_change(portal):
    page = portal.get(reverse("portal:profile")).content.decode()
    assert f'href="{reverse("account_email")}"' in page


def test_profile_with_another_members_phone_shows_an_error_and_writes_nothing(portal, member):
    MemberFactory(phone="012-345 6789")
    before = Member.objects.values().get(pk=member.pk)
    response = portal.post(reverse("portal:profile"), profile_form(phone="+60 12-345 6789"))
    assert response.status_code == 200
    assert "A member with this phone number already exists." in response.content.decode()
    assert Member.objects.values().get(pk=member.pk) == before
    assert not AuditEvent.objects.filter(action="member.update").exists()


def test_profile_refuses_a_malformed_phone(portal, member):
    response = portal.post(reverse("portal:profile"), profile_form(phone="call me"))
    assert (
        "Enter a valid phone number: use digits, spaces, dashes and a leading + only."
        in response.content.decode()
    )
    response = portal.post(reverse("portal:profile"), profile_form(phone="9123 4567"))
    assert "no number in use in Malaysia has these digits" in response.content.decode()


def test_profile_keeps_an_indonesian_number(portal, member):
    portal.post(reverse("portal:profile"), profile_form(phone="+62 812-3456-7890"))
    member.refresh_from_db()
    assert member.phone == "+6281234567890"


# --- Codes ------------------------------------------------------------------------------------


def test_card_numbers_are_grouped_by_four():
    assert card_number_grouped("8812345678901234") == "8812 3456 7890 1234"


def test_the_code128_pattern_of_a_known_card_number_is_stable():
    # Start C (105), the pairs 88 12 34 56 78 90 12 34, the checksum and the stop.
    # Checksum: (105 + 1*88 + 2*12 + 3*34 + 4*56 + 5*78 + 6*90 + 7*12 + 8*34) % 103 = 78,
    # so its symbol repeats the one of the pair 78.
    start, s88, s12, s34, s56 = (
        "11010011100",
        "11110010010",
        "10110011100",
        "10001011000",
        "11100010110",
    )
    s78, s90, stop = "11000010100", "11011110110", "1100011101011"
    assert code128_modules("8812345678901234") == (
        start + s88 + s12 + s34 + s56 + s78 + s90 + s12 + s34 + s78 + stop
    )


def test_the_barcode_svg_draws_the_pattern_and_is_named():
    svg = code128_svg("8812345678901234", label="Card number 8812345678901234")
    assert svg.startswith('<svg xmlns="http://www.w3.org/2000/svg"')
    assert 'role="img" aria-label="Card number 8812345678901234"' in svg
    assert "<title>Card number 8812345678901234</title>" in svg
    # 123 modules between two 10-module quiet zones.
    assert 'viewBox="0 0 143 40"' in svg
    assert svg.count("v40h") == code128_modules("8812345678901234").count("01") + 1


def test_the_qr_svg_is_deterministic_and_named():
    first = qr_svg("8812345678901234", label="Card")
    assert first == qr_svg("8812345678901234", label="Card")
    assert first != qr_svg("8812345678901235", label="Card")
    assert first.startswith('<svg xmlns="http://www.w3.org/2000/svg"')
    assert "svg:" not in first and 'aria-label="Card"' in first and "<path" in first


def test_portal_urls_with_ids_answer_404_for_another_members_real_objects(portal, member):
    """Every portal URL that takes an argument, called with the objects of
    another real member: nothing of theirs opens. A new URL with an argument
    fails here until it is added to this sweep."""
    portal_urls = next(p for p in urlpatterns if str(p.pattern) == "portal/").url_patterns
    with_arguments = {p.name for p in portal_urls if p.pattern.regex.groups}
    assert with_arguments == {
        "reward",
        "reward_redeem",
        "voucher",
        "notification",
        "survey",
        "challenge_join",
        "challenge_leaderboard",
    }

    other = MemberFactory(first_name="Other")
    fund(other, 1000)
    fund(member, 1000)
    reward = make_reward(name="Free kopi")
    theirs = redemption_create(member=other, reward=reward, actor=Actor.system())
    mine = redemption_create(member=member, reward=reward, actor=Actor.system())
    their_code, my_code = theirs.vouchers.get().code, mine.vouchers.get().code

    assert portal.get(reverse("portal:voucher", args=[their_code])).status_code == 404
    assert portal.get(reverse("portal:voucher", args=[my_code])).status_code == 200
    # Rewards are the catalogue's, not a member's: their pages show the
    # signed-in member's own standing, never the other member's.
    page = portal.get(reverse("portal:reward", args=[reward.pk])).content.decode()
    assert other.full_name not in page and their_code not in page
    # Another member's message is not found; reading it marks nothing read.
    their_message = other.notifications.get(kind="welcome")
    my_message = member.notifications.get(kind="welcome")
    assert portal.get(reverse("portal:notification", args=[their_message.pk])).status_code == 404
    their_message.refresh_from_db()
    assert their_message.read_at is None
    assert portal.get(reverse("portal:notification", args=[my_message.pk])).status_code == 200
    # Another member's survey invitation is not found, nor answered.
    survey = survey_settings_get(kind="csat")
    their_survey = survey_invite(
        purchase=Purchase.objects.get(pk=buy(other, "THEIRS").record_id),
        survey=survey,
        as_of=timezone.now(),
    )
    my_survey = survey_invite(
        purchase=Purchase.objects.get(pk=buy(member, "MINE").record_id),
        survey=survey,
        as_of=timezone.now(),
    )
    assert portal.get(reverse("portal:survey", args=[their_survey.pk])).status_code == 404
    answered = portal.post(reverse("portal:survey", args=[their_survey.pk]), {"csat-score": "1"})
    assert answered.status_code == 404
    assert portal.get(reverse("portal:survey", args=[my_survey.pk])).status_code == 200
    # A challenge for another audience (a tier the member is not in) is not found:
    # neither joined nor its leaderboard shown; one open to them is.
    from campaigns.challenges import challenge_create
    from tests.factories import TierFactory

    def challenge(name: str):
        return challenge_create(
            actor=Actor.system(),
            name=name,
            goal="purchase_count",
            target=Decimal("3"),
            starts_at=timezone.now() - timedelta(hours=1),
            reward_points=10,
            leaderboard=True,
            status="scheduled",
        )

    theirs_only, open_to_all = challenge("Gold only"), challenge("Everyone")
    theirs_only.tiers.set([TierFactory(code="gold-only", threshold=Decimal("99999"))])
    assert portal.post(reverse("portal:challenge_join", args=[theirs_only.pk])).status_code == 404
    board = reverse("portal:challenge_leaderboard", args=[theirs_only.pk])
    assert portal.get(board).status_code == 404
    assert not theirs_only.participations.exists()
    board = reverse("portal:challenge_leaderboard", args=[open_to_all.pk])
    assert portal.get(board).status_code == 200
    # No query parameter reaches another member's history entries.
    their_entry = other.entries.order_by("id").first()
    for params in ({"member": other.pk}, {"id": their_entry.pk}, {"member_id": other.public_id}):
        history = portal.get(reverse("portal:history"), params)
        assert {entry.member_id for entry in history.context["entries"]} <= {member.pk}


def test_home_shows_only_the_points_that_can_be_spent_now(portal, member):
    """Points past their expiry are neither to spend nor 'expiring', even
    before the nightly job writes their `expire` entries (issue 8)."""
    buy(member, "OLD", "30.00")
    buy(member, "NEW", "70.00")
    past = timezone.now() - timedelta(minutes=1)
    PointsEntry.objects.filter(member=member, points=30).update(expires_at=past)
    response = portal.get(reverse("portal:home"))
    page = response.content.decode()
    assert '<span class="portal-balance-value" data-testid="balance">70</span>' in page
    assert [lot["points"] for lot in response.context["expiring"]] == [70]
