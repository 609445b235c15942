"""The member's own moments (campaigns.moments): the welcome bonus on every
enrolment channel, the birthday and anniversary jobs, once a year each."""

from __future__ import annotations

from datetime import date, datetime, timedelta
from zoneinfo import ZoneInfo

import pytest
from django.urls import reverse
from django.utils import timezone

from campaigns.models import CampaignHoldout
from loyalty.jobs import job_run
from loyalty.models import User
from members.checks import ledger_problems
from members.models import Member, PointsAccount, PointsEntry
from tests.campaigns.factories import make_campaign
from tests.factories import MemberFactory

pytestmark = pytest.mark.django_db

KL = ZoneInfo("Asia/Kuala_Lumpur")
LONG_AGO = datetime(2020, 1, 1, tzinfo=KL)


def bonus(member: Member) -> list[int]:
    return list(
        PointsEntry.objects.filter(member=member, source_type="campaign")
        .order_by("id")
        .values_list("points", flat=True)
    )


def balance(member: Member) -> int:
    return PointsAccount.objects.get(member=member).balance


# --- Welcome bonus ------------------------------------------------------------------------------


@pytest.fixture
def welcome(program, tiers):
    return make_campaign("signup", name="Welcome gift", params={"points": 100})


def test_enrolling_through_the_api_pays_the_welcome_bonus(welcome, pos_api):
    response = pos_api.post(
        "/api/v1/members", {"email": "new@example.com", "first_name": "Ali"}, format="json"
    )
    assert response.status_code == 201, response.content
    assert response.json()["points"]["balance"] == 100
    member = Member.objects.get(email="new@example.com")
    entry = PointsEntry.objects.get(member=member)
    assert entry.description == "Welcome gift" and entry.source_id == str(welcome.pk)
    assert ledger_problems() == []


def test_enrolling_at_the_counter_pays_the_welcome_bonus(welcome, client, store_staff):
    client.force_login(store_staff)
    response = client.post(
        reverse("staff:member_enrol"),
        {"first_name": "Siti", "email": "siti@example.com", "language": "ms"},
    )
    assert response.status_code == 302, response.content
    assert bonus(Member.objects.get(email="siti@example.com")) == [100]


def test_signing_up_on_the_portal_pays_the_welcome_bonus(welcome, client):
    response = client.post(
        reverse("account_signup"),
        {
            "first_name": "Nurul",
            "email": "nurul@example.com",
            "password1": "a-long-pass-phrase-42",
            "password2": "a-long-pass-phrase-42",
        },
    )
    assert response.status_code == 302
    member = Member.objects.get(user=User.objects.get(email="nurul@example.com"))
    assert bonus(member) == [100]


def test_no_welcome_bonus_without_a_live_signup_campaign(program, tiers):
    make_campaign("signup", params={"points": 100}, status="draft")
    assert bonus(MemberFactory(user=None, email="a@example.com")) == []


def test_the_welcome_bonus_respects_its_budget(program, tiers):
    make_campaign("signup", params={"points": 100}, budget_points=150)
    members = [MemberFactory(user=None, email=f"m{n}@example.com") for n in range(3)]
    assert [bonus(m) for m in members] == [[100], [50], []]


# --- Birthdays -----------------------------------------------------------------------------------


def birthday_campaign(when: str = "day", **fields):
    return make_campaign(
        "birthday", name="Birthday treat", params={"points": 200, "when": when},
        starts_at=LONG_AGO, **fields,
    )  # fmt: skip


def test_the_birthday_job_pays_on_the_day_once_a_year_even_run_twice(program, tiers):
    birthday_campaign()
    today = MemberFactory(user=None, email="b1@example.com", birth_date=date(1990, 6, 15))
    other = MemberFactory(user=None, email="b2@example.com", birth_date=date(1990, 6, 16))
    as_of = datetime(2026, 6, 15, 8, 0, tzinfo=KL)
    assert job_run("birthdays", as_of=as_of) == "1 members got 200 birthday points"
    assert job_run("birthdays", as_of=as_of) == "0 members got 0 birthday points"
    assert job_run("birthdays", as_of=as_of + timedelta(hours=3)).startswith("0 members")
    assert bonus(today) == [200] and bonus(other) == []
    entry = PointsEntry.objects.get(member=today)
    assert entry.description == "Birthday treat (birthday 2026)"
    job_run("birthdays", as_of=datetime(2027, 6, 15, 8, 0, tzinfo=KL))
    assert bonus(today) == [200, 200]
    assert ledger_problems() == []


def test_the_birthday_is_read_in_the_program_time_zone(program, tiers):
    birthday_campaign()
    member = MemberFactory(user=None, email="b@example.com", birth_date=date(1990, 6, 15))
    # 16:30 UTC on the 14th is already 00:30 on the 15th in Kuala Lumpur.
    job_run("birthdays", as_of=datetime(2026, 6, 14, 16, 30, tzinfo=ZoneInfo("UTC")))
    assert bonus(member) == [200]


def test_a_birthday_in_month_mode_is_paid_once_in_the_month(program, tiers):
    birthday_campaign("month")
    member = MemberFactory(user=None, email="b@example.com", birth_date=date(1990, 6, 28))
    for day in (1, 2, 20, 30):
        job_run("birthdays", as_of=datetime(2026, 6, day, 8, 0, tzinfo=KL))
    job_run("birthdays", as_of=datetime(2026, 7, 1, 8, 0, tzinfo=KL))
    assert bonus(member) == [200]


def test_a_29_february_birthday_is_paid_on_28_february_in_common_years(program, tiers):
    birthday_campaign()
    leapling = MemberFactory(user=None, email="l@example.com", birth_date=date(2000, 2, 29))
    job_run("birthdays", as_of=datetime(2027, 2, 28, 8, 0, tzinfo=KL))
    assert bonus(leapling) == [200]
    job_run("birthdays", as_of=datetime(2028, 2, 28, 8, 0, tzinfo=KL))
    assert bonus(leapling) == [200]  # 2028 has its own 29 February
    job_run("birthdays", as_of=datetime(2028, 2, 29, 8, 0, tzinfo=KL))
    assert bonus(leapling) == [200, 200]


def test_the_birthday_hold_out_is_recorded_and_unpaid(program, tiers):
    from campaigns.engine import in_holdout

    campaign = birthday_campaign(holdout_percent=50)
    members = [
        MemberFactory(user=None, email=f"h{n}@example.com", birth_date=date(1990, 6, 15))
        for n in range(10)
    ]
    job_run("birthdays", as_of=datetime(2026, 6, 15, 8, 0, tzinfo=KL))
    held = {
        m.pk
        for m in members
        if in_holdout(member_id=m.pk, campaign_id=campaign.pk, holdout_percent=50)
    }
    assert {m.pk for m in members if not bonus(m)} == held
    assert set(CampaignHoldout.objects.values_list("member_id", flat=True)) == held


def test_blocked_members_get_no_birthday_bonus(program, tiers):
    from loyalty.actors import Actor
    from members.services import member_update

    birthday_campaign()
    member = MemberFactory(user=None, email="b@example.com", birth_date=date(1990, 6, 15))
    member_update(actor=Actor.system(), member=member, status="blocked")
    job_run("birthdays", as_of=datetime(2026, 6, 15, 8, 0, tzinfo=KL))
    assert bonus(member) == []


# --- Anniversaries ------------------------------------------------------------------------------


def test_the_anniversary_job_pays_each_year_of_membership_once(program, tiers):
    make_campaign("anniversary", name="Thank you", params={"points": 100}, starts_at=LONG_AGO)
    joined = datetime(2024, 3, 10, 15, 0, tzinfo=KL)
    member = MemberFactory(user=None, email="a@example.com", joined_at=joined)
    newcomer = MemberFactory(
        user=None, email="n@example.com", joined_at=datetime(2026, 3, 10, 9, 0, tzinfo=KL)
    )
    job_run("anniversaries", as_of=datetime(2025, 3, 10, 20, 0, tzinfo=KL))
    job_run("anniversaries", as_of=datetime(2025, 3, 10, 21, 0, tzinfo=KL))
    job_run("anniversaries", as_of=datetime(2025, 3, 11, 8, 0, tzinfo=KL))
    assert bonus(member) == [100]
    as_of = datetime(2026, 3, 10, 20, 0, tzinfo=KL)
    assert job_run("anniversaries", as_of=as_of) == "1 members got 100 anniversary points"
    assert bonus(member) == [100, 100] and bonus(newcomer) == []
    latest = PointsEntry.objects.filter(member=member).order_by("-id").first()
    assert latest.description == "Thank you (2 years a member)"
    assert ledger_problems() == []


def test_no_anniversary_job_work_without_a_campaign(program, tiers, django_assert_max_num_queries):
    MemberFactory(user=None, email="a@example.com", joined_at=LONG_AGO)
    with django_assert_max_num_queries(1):
        assert job_run("anniversaries", as_of=timezone.now()).startswith("0 members")


# --- The portal's "Ways to earn" -----------------------------------------------------------------


def test_the_portal_home_lists_the_campaigns_the_member_can_still_earn(client, program, tiers):
    make_campaign("event", name="Write a review", params={"event": "review", "points": 20})
    make_campaign(
        "event", name="Gold shares", params={"event": "social_share", "points": 5},
        tiers=[tiers["gold"]],
    )  # fmt: skip
    birthday_campaign()
    make_campaign(
        "event", name="Daily check-in", params={"event": "check_in", "points": 10},
        per_member_cap=10, cap_period="day",
    )  # fmt: skip
    member = MemberFactory(user__email="p@example.com", birth_date=date(1990, 6, 15))
    from campaigns.events import event_record
    from loyalty.actors import Actor

    event_record(
        member=member, name="check_in", reference=None, occurred_at=None, actor=Actor.system()
    )
    client.force_login(member.user)
    response = client.get(reverse("portal:home"))
    assert "Ways to earn" in response.content.decode()
    # The home page's other panels (the survey's, analytics) are not this test's.
    (panel,) = [
        shown
        for shown in response.context["panels"]
        if shown.template == "portal/campaigns/ways_to_earn.html"
    ]
    shown = {way.name: way.points for way in panel.context["ways"]}
    # Not "Gold shares" (not in its audience), not the check-in (today's cap reached).
    assert shown == {"Write a review": 20, "Birthday treat": 200}


def test_the_portal_home_shows_no_ways_to_earn_without_campaigns(client, program, tiers):
    member = MemberFactory(user__email="p@example.com")
    client.force_login(member.user)
    assert "Ways to earn" not in client.get(reverse("portal:home")).content.decode()
