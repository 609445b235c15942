"""`manage.py load_demo_data`: a believable shop, loaded once, whose logins work."""

from __future__ import annotations

from datetime import timedelta
from io import StringIO

import pytest
from django.core.management import call_command
from django.urls import reverse
from django.utils import timezone

from analytics.models import Feedback, FollowUp, SurveyInvitation
from campaigns.broadcast_selectors import broadcast_figures
from campaigns.models import (
    Broadcast,
    Campaign,
    Challenge,
    ChallengeParticipation,
    LeaderboardProfile,
    MemberBadge,
    MemberEvent,
    Referral,
)
from demo.loyalty import DEMO_LOGINS
from loyalty.models import Notification, ProgramSettings, Store, User
from members.models import Member, MemberRfm, PointsEntry, Segment
from members.segments import segment_count
from purchases.models import Purchase
from rewards.models import Redemption, Reward, RewardKind, Voucher, VoucherStatus

pytestmark = pytest.mark.django_db


def test_demo_data_loads_once_and_prints_the_logins(roles):
    first, second = StringIO(), StringIO()
    call_command("load_demo_data", stdout=first)
    call_command("load_demo_data", stdout=second)

    assert "Demo data loaded:" in first.getvalue()
    assert "already loaded" in second.getvalue()
    for login in DEMO_LOGINS:
        assert login.email in second.getvalue()
    assert Store.objects.count() == 3
    assert ProgramSettings.objects.get().main_store.code == "bangsar"
    assert User.objects.count() == 5 and Member.objects.count() == 207
    # Campaigns of several kinds, in every status but one made by hand.
    statuses = set(Campaign.objects.values_list("status", flat=True))
    assert statuses == {"active", "scheduled", "paused", "draft", "ended"}
    assert Campaign.objects.values("kind").distinct().count() >= 6
    # Events reported by the tills, some paid by the review campaign; the welcome
    # bonus of today's walk-in; this month's birthdays paid by their job.
    assert MemberEvent.objects.count() > 10 and MemberEvent.objects.filter(points__gt=0).exists()
    kinds_paid = set(
        Campaign.objects.filter(
            pk__in=[int(pk) for pk in PointsEntry.objects.filter(source_type="campaign")
                    .values_list("source_id", flat=True)]
        ).values_list("kind", flat=True)
    )  # fmt: skip
    assert {"event", "signup"} <= kinds_paid
    # Referrals: one rewarded, joined ones, a self-referral rejected.
    referral_statuses = sorted(Referral.objects.values_list("status", flat=True))
    assert referral_statuses == ["joined", "joined", "rejected", "rewarded"]
    # Challenges moved by the replayed sales: members in progress and done, badges
    # on walls, nicknames on the boards; Aisyah at 2 of 3, Wei Ling completed it.
    regular = Challenge.objects.get(name="Three kopi in a month")
    taking_part = ChallengeParticipation.objects.filter(challenge=regular)
    assert taking_part.filter(times_completed=0).count() > 10
    assert taking_part.filter(times_completed__gt=0).count() > 3
    assert taking_part.get(member__email="aisyah@setia.example").progress == 2
    assert taking_part.get(member__email="weiling@setia.example").times_completed == 1
    assert MemberBadge.objects.filter(
        member__email="weiling@setia.example", badge__name="Kopi regular"
    ).exists()
    assert LeaderboardProfile.objects.count() > 10
    assert not LeaderboardProfile.objects.filter(member__email="aisyah@setia.example").exists()
    assert Challenge.objects.filter(status="draft").count() == 1
    # Broadcasts: one sent (to consenting members only, some read), one scheduled.
    sent = Broadcast.objects.get(status="sent")
    figures = broadcast_figures(broadcasts=[sent])[sent.pk]
    assert figures.delivered > 0 and 0 < figures.opened < figures.delivered
    assert figures.recipients == figures.delivered + figures.skipped
    assert not Notification.objects.filter(
        event_key=sent.event_key, member__marketing_consent=False
    ).exists()
    assert Broadcast.objects.filter(status="scheduled", campaign__isnull=False).count() == 1
    # Inboxes filled by the replayed history, in each member's language, and
    # nothing emailed for it (loyalty.notifications.deliveries_off).
    from loyalty.models import NotificationDelivery

    aisyah = Member.objects.get(email="aisyah@setia.example")
    inbox = Notification.objects.filter(member=aisyah)
    assert "welcome" in set(inbox.values_list("kind", flat=True))
    # Each redemption of the history told its member once (which members
    # redeemed is the demo's draw, so not Aisyah by name).

    redeemed = Notification.objects.filter(kind="reward_redeemed")
    assert redeemed.count() == Redemption.objects.count() > 0
    assert {f"redemption:{pk}" for pk in Redemption.objects.values_list("pk", flat=True)} == set(
        redeemed.values_list("event_key", flat=True)
    )
    assert inbox.get(kind="welcome").title.startswith("Selamat datang")
    assert inbox.get(kind="welcome").created_at == aisyah.joined_at
    assert not NotificationDelivery.objects.exists()
    # A year of history across the three stores, replayed through the services.
    purchases = Purchase.objects.all()
    assert purchases.count() > 2000
    assert set(purchases.values_list("store__code", flat=True).distinct()) == {
        "bangsar",
        "mid-valley",
        "penang",
    }
    oldest = purchases.order_by("occurred_at").first().occurred_at
    assert timezone.now() - oldest > timedelta(days=365)
    call_command("ledger_check", stdout=StringIO())
    # A catalogue across every kind, redeemed in the history: most vouchers used.
    assert Reward.objects.count() == 17
    # Segments a marketer keeps, over members scored for RFM; most have members.
    assert MemberRfm.objects.count() > 150
    assert Segment.objects.count() == 5
    assert sum(segment_count(segment) > 0 for segment in Segment.objects.all()) >= 4
    assert Reward.objects.filter(segment__isnull=False).count() == 1
    assert set(Reward.objects.values_list("kind", flat=True)) == set(RewardKind.values)
    assert Redemption.objects.count() > 50
    assert Voucher.objects.filter(status=VoucherStatus.USED).count() > 20
    assert Voucher.objects.filter(status=VoucherStatus.ISSUED).exists()
    # Surveys: answers of both kinds over the last months (invitations and the
    # kiosk), detractors followed up (most closed, some with goodwill points,
    # some left open), and Aisyah holding an open invitation to try.
    assert Feedback.objects.filter(kind="nps").count() > 20
    assert Feedback.objects.filter(kind="csat", member__isnull=True).exists()
    assert FollowUp.objects.filter(status="closed").exists()
    assert FollowUp.objects.filter(status="open").exists()
    assert FollowUp.objects.filter(goodwill_points__gt=0).exists()
    assert SurveyInvitation.objects.filter(
        member=aisyah, answered_at__isnull=True, expires_at__gt=timezone.now()
    ).exists()
    assert User.objects.get(email="staff@setia.example").store.code == "bangsar"


@pytest.mark.parametrize(
    ("email", "home"),
    [
        ("manager@setia.example", "/staff/"),
        ("marketer@setia.example", "/staff/"),
        ("staff@setia.example", "/staff/"),
        ("aisyah@setia.example", "/portal/"),
        ("weiling@setia.example", "/portal/"),
    ],
)
def test_each_demo_login_lands_on_its_home(client, roles, email, home):
    call_command("load_demo_data", members=3, stdout=StringIO())
    password = DEMO_LOGINS[0].password
    response = client.post(reverse("account_login"), {"login": email, "password": password})
    assert response.status_code == 302 and response["Location"] == home
    assert client.get(home).status_code == 200


def test_the_demo_is_rolled_up_so_the_dashboard_shows_its_figures(client, roles):
    """The loader runs the roll-ups once: the dashboard and a store's day read
    the demo's sales, not empty tables."""
    from analytics.models import RollupState, StoreDay

    call_command("load_demo_data", stdout=StringIO())
    assert RollupState.objects.get().ran_at is not None
    rolled = StoreDay.objects.values_list("sales", flat=True)
    assert sum(rolled) == Purchase.objects.count()
    client.force_login(User.objects.get(email="marketer@setia.example"))
    page = client.get(reverse("staff:analytics_dashboard"), {"period": "last_90"}).content.decode()
    value = page.split('data-testid="kpi-sales-count-value">', 1)[1].split("<", 1)[0]
    assert int(value.replace(",", "")) > 0
