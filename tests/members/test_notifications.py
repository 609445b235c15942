"""The member's side of notifications (members.notifications and the portal
and staff pages): the inbox, message settings, consent and its history, and
the messages of enrolment, tiers, redemptions and birthdays."""

from __future__ import annotations

from datetime import date, datetime
from decimal import Decimal
from zoneinfo import ZoneInfo

import pytest
from django.urls import reverse

from campaigns.jobs import birthdays
from loyalty.actors import Actor
from loyalty.models import AuditEvent, Notification
from loyalty.notifications import notify
from members.models import ConsentChange, ConsentSource, Member
from members.services import member_enrol
from members.tiers import member_tier_review
from rewards.services import redemption_create
from tests.factories import MemberFactory
from tests.rewards.conftest import fund, make_reward

TIER = {"tier": "Gold", "program": "Setia"}


@pytest.fixture
def portal(client, program, tiers, member):
    client.force_login(member.user)
    return client


def test_the_navigation_shows_the_unread_count_and_opening_a_message_reads_it(portal, member):
    notify(member, "tier_up", TIER, event_key="t:1")
    notify(member, "tier_up", {"tier": "Platinum", "program": "Setia"}, event_key="t:2")
    home = portal.get(reverse("portal:home")).content.decode()
    # The welcome and the two tier messages.
    assert 'portal-unread">3<' in home

    message = member.notifications.get(event_key="t:1")
    page = portal.get(reverse("portal:notification", args=[message.pk]))
    assert page.status_code == 200 and "You reached Gold" in page.content.decode()
    message.refresh_from_db()
    assert message.read_at is not None
    assert 'portal-unread">2<' in portal.get(reverse("portal:inbox")).content.decode()

    assert portal.post(reverse("portal:inbox_read_all")).status_code == 302
    assert not member.notifications.filter(read_at__isnull=True).exists()
    assert "portal-unread" not in portal.get(reverse("portal:inbox")).content.decode()


def test_the_inbox_lists_only_the_members_own_messages(portal, member):
    other = MemberFactory(first_name="Other")
    notify(other, "tier_up", {"tier": "Secret", "program": "S"}, event_key="t:x")
    page = portal.get(reverse("portal:inbox")).content.decode()
    assert "Secret" not in page and "Welcome to" in page


def test_message_settings_save_channels_consent_and_language(portal, member):
    form = {
        "language": "ms",
        "marketing_consent": "on",
        "points_earned:inbox": "on",
        "points_earned:sms": "on",
        "tier_up:email": "",  # off: no tier emails
        "welcome:email": "on",
        "broadcast:email": "on",
    }
    response = portal.post(reverse("portal:notification_preferences"), form)
    assert response.status_code == 302
    member = Member.objects.get(pk=member.pk)
    assert (member.language, member.marketing_consent, member.notify_points_earned) == (
        "ms",
        True,
        True,
    )
    change = ConsentChange.objects.get(member=member)
    assert (change.consent, change.source) == (True, ConsentSource.PORTAL)
    # Tier messages now reach the inbox only.
    assert not notify(member, "tier_up", TIER, event_key="t:3").deliveries.exists()
    form = portal.get(reverse("portal:notification_preferences")).context["form"]
    assert form.initial["points_earned:sms"] is True and form.initial["tier_up:email"] is False


def test_counter_consent_changes_are_recorded_audited_and_shown(client, store_staff, shopper):
    client.force_login(store_staff)
    edit = reverse("staff:member_edit", args=[shopper.public_id])
    form = client.get(edit).context["form"].initial
    data = {k: v for k, v in form.items() if v is not None}
    data.update({"marketing_consent": "on", "tags": "", "home_store": ""})
    assert client.post(edit, data).status_code == 302
    change = ConsentChange.objects.get(member=shopper)
    assert (change.consent, change.source, change.actor) == (True, "counter", store_staff)
    audit = AuditEvent.objects.filter(action="member.update", object_id=str(shopper.pk)).get()
    assert audit.after["marketing_consent"] is True and audit.before["marketing_consent"] is False
    page = client.get(reverse("staff:member_detail", args=[shopper.public_id])).content.decode()
    assert "Agreed to news and offers" in page and store_staff.email in page


def test_consent_given_on_joining_is_recorded_with_the_channel(db):
    member = member_enrol(
        actor=Actor.system(), email="api@example.com", marketing_consent=True, channel="api"
    )
    assert list(ConsentChange.objects.filter(member=member).values_list("source", "consent")) == [
        ("api", True)
    ]


def test_enrolment_welcomes_and_a_tier_up_tells_once_committed(
    program, tiers, django_capture_on_commit_callbacks
):
    with django_capture_on_commit_callbacks(execute=True):
        member = MemberFactory(user=None, email="new@example.com")
    assert list(member.notifications.values_list("kind", flat=True)) == ["welcome"]
    with django_capture_on_commit_callbacks(execute=True):
        member_tier_review(
            member=member, now=member.joined_at, allow_downgrade=False, value=Decimal("20000")
        )
    tier_up = member.notifications.get(kind="tier_up")
    assert tier_up.title == "You reached Gold"


def test_a_tier_change_that_rolls_back_tells_nothing(
    program, tiers, django_capture_on_commit_callbacks
):
    member = MemberFactory(user=None, email="rb@example.com")
    with django_capture_on_commit_callbacks() as callbacks:
        member_tier_review(
            member=member, now=member.joined_at, allow_downgrade=False, value=Decimal("20000")
        )
    # Not committed: the callbacks are dropped, as Django does on a rollback.
    assert len(callbacks) == 1
    assert not member.notifications.filter(kind="tier_up").exists()


def test_a_redemption_is_told_in_the_inbox(program, member):
    fund(member, 1000)
    reward = make_reward(name="Free kopi")
    redemption = redemption_create(member=member, reward=reward, actor=Actor.system())
    message = member.notifications.get(kind="reward_redeemed")
    assert message.event_key == f"redemption:{redemption.pk}"
    assert message.title == "You redeemed Free kopi"


def test_the_birthday_job_greets_once_a_year(program, tiers):
    member = MemberFactory(user=None, email="bday@example.com", birth_date=date(1990, 5, 17))
    MemberFactory(user=None, email="other@example.com", birth_date=date(1990, 6, 1))
    as_of = datetime(2027, 5, 17, 8, 0, tzinfo=ZoneInfo("Asia/Kuala_Lumpur"))
    birthdays(as_of)
    birthdays(as_of)
    greetings = Notification.objects.filter(kind="birthday")
    assert [g.member_id for g in greetings] == [member.pk]
    assert greetings.get().event_key == "birthday:2027"
