"""A member's data: the download (everything, audited) and erasure (no personal
detail left anywhere, the points forfeited so the ledger still adds up, a
later return of the member's sale still nets to zero, twice changes nothing),
from the portal and from a manager's page."""

from __future__ import annotations

import json
from datetime import timedelta
from decimal import Decimal
from io import StringIO

import pytest
from django.core.management import call_command
from django.urls import reverse
from django.utils import timezone
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from analytics.models import Feedback
from campaigns.models import LeaderboardProfile, Referral
from loyalty.actors import Actor
from loyalty.models import AuditEvent, Notification, User
from loyalty.services import program_settings_update
from members.models import EntryKind, Member, MemberStatus, PointsAccount, PointsEntry
from members.privacy import ERASED, member_data_export, member_erase
from members.services import member_update
from purchases.inputs import LineInput, SaleInput
from purchases.models import Purchase
from purchases.returns import ReturnItem, purchase_return
from purchases.services import purchase_record
from tests.factories import MemberFactory, StoreFactory

pytestmark = pytest.mark.django_db


def buy(member: Member, reference: str, amount: str = "40.00", *, quantity: int = 1):
    return purchase_record(
        sale=SaleInput(
            store=StoreFactory(code="klcc"),
            reference=reference,
            member=Member.objects.select_related("account", "tier").get(pk=member.pk),
            occurred_at=timezone.now() - timedelta(minutes=5),
            items=[LineInput(sku="KOPI", quantity=quantity, unit_price=Decimal(amount))],
        ),
        actor=Actor.system(),
    )


def ledger_clean() -> str:
    out = StringIO()
    call_command("ledger_check", stdout=out)
    return out.getvalue()


@pytest.fixture
def aisyah(program, tiers):
    member = MemberFactory(
        user__email="aisyah@example.com",
        email="aisyah@example.com",
        phone="+60123456789",
        first_name="Aisyah",
        last_name="Rahman",
        birth_date="1990-04-01",
        tags=["vip"],
        marketing_consent=True,
    )
    return Member.objects.get(pk=member.pk)


def test_the_download_holds_the_members_details_points_and_purchases(aisyah):
    buy(aisyah, "R-1")
    Feedback.objects.create(kind="nps", score=0, comment="Slow", member=aisyah, source="portal")

    document = member_data_export(member=aisyah)

    assert document["member"]["email"] == "aisyah@example.com"
    assert document["member"]["first_name"] == "Aisyah"
    assert document["points"]["balance"] == 40
    assert [e["kind"] for e in document["points_history"]] == [EntryKind.EARN]
    (purchase,) = document["purchases"]
    assert purchase["reference"] == "R-1" and purchase["total"] == "40.00"
    assert purchase["lines"][0]["sku"] == "KOPI"
    assert document["feedback"]["answers"][0]["score"] == 0  # a 0 is a score
    assert {"rewards", "campaigns", "notifications", "consent_changes"} <= set(document)
    json.dumps(document)  # JSON-safe as it is


def test_erasure_leaves_no_personal_detail_and_forfeits_the_points(aisyah):
    buy(aisyah, "R-1")
    user_id = aisyah.user_id
    member_update(actor=Actor.system(), member=aisyah, last_name="Rahman-Ali")
    LeaderboardProfile.objects.create(member=aisyah, nickname="KopiQueen", nickname_key="kopiqueen")

    erasure = member_erase(actor=Actor.system(), member=aisyah, by_member=True)

    member = Member.objects.get(pk=aisyah.pk)
    assert erasure.points_forfeited == 40 and not erasure.already
    assert member.status == MemberStatus.DELETED
    assert (member.email, member.phone, member.first_name, member.last_name) == (None, None, "", "")
    assert member.birth_date is None and member.tags == [] and not member.marketing_consent
    assert member.user_id is None and not User.objects.filter(pk=user_id).exists()
    assert not LeaderboardProfile.objects.filter(member=member).exists()
    account = PointsAccount.objects.get(member=member)
    assert (account.balance, account.pending, account.expired) == (0, 0, 40)
    forfeit = PointsEntry.objects.get(member=member, kind=EntryKind.EXPIRE)
    assert forfeit.points == -40 and "erased" in forfeit.description
    assert "Ledger sound" in ledger_clean()
    # The audit log keeps what happened, without the personal details.
    text = json.dumps(list(AuditEvent.objects.values("before", "after", "object_repr")))
    assert "Rahman" not in text and "aisyah@example.com" not in text
    assert ERASED in text
    assert AuditEvent.objects.filter(action="member.erase", object_id=str(member.pk)).exists()
    # Nothing of theirs is left in the download either.
    document = json.dumps(member_data_export(member=member))
    assert "Aisyah" not in document and "+60123456789" not in document


def test_erasing_twice_changes_nothing_the_second_time(aisyah):
    buy(aisyah, "R-1")
    member_erase(actor=Actor.system(), member=aisyah)
    events = AuditEvent.objects.count()
    again = member_erase(actor=Actor.system(), member=aisyah)
    assert again.already and again.points_forfeited == 0
    assert AuditEvent.objects.count() == events


def test_pending_points_are_forfeited_too(aisyah):
    program_settings_update(actor=Actor.system(), pending_days=14)
    buy(aisyah, "R-1")
    assert PointsAccount.objects.get(member=aisyah).pending == 40

    assert member_erase(actor=Actor.system(), member=aisyah).points_forfeited == 40

    account = PointsAccount.objects.get(member=aisyah)
    assert (account.balance, account.pending) == (0, 0)
    assert "Ledger sound" in ledger_clean()


def test_a_return_after_erasure_settles_against_the_forfeited_points(aisyah):
    buy(aisyah, "R-1", "10.00", quantity=4)
    member_erase(actor=Actor.system(), member=aisyah)
    purchase = Purchase.objects.get(member=aisyah, reference="R-1")
    for n in range(2):
        purchase_return(
            purchase=purchase,
            reference=f"B-{n}",
            items=[ReturnItem(sku="KOPI", quantity=2)],
            actor=Actor.system(),
        )
    account = PointsAccount.objects.get(member=aisyah)
    assert (account.balance, account.clawback_owed) == (0, 0)
    assert "Ledger sound" in ledger_clean()


def test_the_referrer_no_longer_reads_the_erased_friends_name(program, tiers):
    referrer = MemberFactory(first_name="Wei", language="en")
    friend = MemberFactory(first_name="Aisyah")
    referral = Referral.objects.create(referrer=referrer, friend=friend, code="ABC")
    key = f"referral:{referral.pk}:referrer"
    PointsEntry.objects.create(
        member=referrer,
        kind=EntryKind.BONUS,
        points=0,
        balance_after=0,
        description="Friends: Aisyah joined with your code",
        message={
            "key": "referral.referrer",
            "args": {"campaign": "Friends", "name": "Aisyah"},
        },
        source_type="campaign",
        source_id="1",
        idempotency_key=key,
    )
    Notification.objects.create(
        member=referrer, kind="referral_rewarded", event_key=key, title="Aisyah joined", body=""
    )

    member_erase(actor=Actor.system(), member=friend)

    entry = PointsEntry.objects.get(idempotency_key=key)
    assert "Aisyah" not in entry.description and "Aisyah" not in json.dumps(entry.message)
    assert "your friend" in entry.description
    assert "Aisyah" not in Notification.objects.get(member=referrer, event_key=key).title


def test_erasure_blanks_survey_comments_but_keeps_the_scores(aisyah):
    Feedback.objects.create(
        kind="nps", score=3, comment="Rude staff", member=aisyah, source="portal"
    )
    member_erase(actor=Actor.system(), member=aisyah)
    (answer,) = Feedback.objects.filter(member=aisyah)
    assert (answer.score, answer.comment) == (3, "")


# --- Pages ------------------------------------------------------------------------------------


def test_a_member_downloads_their_data_from_the_portal(client, aisyah):
    client.force_login(aisyah.user)
    page = client.get(reverse("portal:privacy"))
    assert page.status_code == 200 and reverse("portal:privacy_data") in page.content.decode()

    response = client.get(reverse("portal:privacy_data"))

    assert response.status_code == 200
    assert "attachment" in response["Content-Disposition"]
    assert json.loads(response.content)["member"]["card_number"] == aisyah.card_number
    assert AuditEvent.objects.filter(action="member.data_export").count() == 1


def test_a_member_who_types_the_wrong_word_keeps_their_account(client, aisyah):
    client.force_login(aisyah.user)
    response = client.post(reverse("portal:privacy"), {"confirm": "yes"})
    assert response.status_code == 200
    assert "Type DELETE to confirm." in response.content.decode()
    assert Member.objects.get(pk=aisyah.pk).status == MemberStatus.ACTIVE


def test_a_member_deletes_their_account_and_is_signed_out(client, aisyah):
    client.force_login(aisyah.user)
    response = client.post(reverse("portal:privacy"), {"confirm": "delete"})
    assert response.status_code == 302 and response["Location"] == reverse("landing")
    assert Member.objects.get(pk=aisyah.pk).status == MemberStatus.DELETED
    assert "_auth_user_id" not in client.session
    assert client.get(reverse("portal:home")).status_code == 302  # to sign in


def test_a_malay_member_confirms_with_padam(client, aisyah):
    client.force_login(aisyah.user)
    client.post(reverse("portal:privacy"), {"confirm": "PADAM"})
    assert Member.objects.get(pk=aisyah.pk).status == MemberStatus.DELETED


def test_only_managers_answer_privacy_requests_at_the_back_office(client, aisyah, store_staff):
    client.force_login(store_staff)
    for name in ("staff:member_data_export", "staff:member_erase"):
        assert client.get(reverse(name, args=[aisyah.public_id])).status_code == 403
    detail = client.get(reverse("staff:member_detail", args=[aisyah.public_id]))
    assert reverse("staff:member_erase", args=[aisyah.public_id]) not in detail.content.decode()


def test_a_manager_erases_a_member_who_asked_with_their_card_number(client, aisyah, manager):
    client.force_login(manager)
    url = reverse("staff:member_erase", args=[aisyah.public_id])
    assert client.get(url).status_code == 200
    wrong = client.post(url, {"card_number": "0000", "note": "Asked by email"})
    assert wrong.status_code == 200 and "not this member" in wrong.content.decode()
    assert Member.objects.get(pk=aisyah.pk).status == MemberStatus.ACTIVE

    response = client.post(url, {"card_number": aisyah.card_number, "note": "Asked by email"})

    assert response.status_code == 302
    assert Member.objects.get(pk=aisyah.pk).email is None
    download = client.get(reverse("staff:member_data_export", args=[aisyah.public_id]))
    assert download.status_code == 200 and b"aisyah@example.com" not in download.content


# --- The rule, for any history ----------------------------------------------------------------


@settings(
    max_examples=15,
    deadline=None,
    suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow],
)
@given(
    sales=st.lists(st.integers(min_value=1, max_value=5), min_size=1, max_size=4),
    pending_days=st.sampled_from([0, 7]),
    returned_before=st.lists(st.integers(min_value=0, max_value=5), max_size=4),
    returned_after=st.lists(st.integers(min_value=0, max_value=5), max_size=4),
)
def test_any_history_erased_leaves_nothing_held_and_a_sound_ledger(
    program, tiers, sales, pending_days, returned_before, returned_after
):
    """Whatever the member bought, returned before and after the erasure,
    nothing stays held, nothing is owed, and the ledger adds up."""
    program_settings_update(actor=Actor.system(), pending_days=pending_days)
    member = MemberFactory()
    run = member.pk  # the examples share the database: receipts of their own

    for n, quantity in enumerate(sales):
        buy(member, f"R{run}-{n}", "7.50", quantity=quantity)

    def give_back(amounts: list[int], tag: str) -> None:
        for n, quantity in enumerate(amounts):
            purchase = Purchase.objects.filter(member=member, reference=f"R{run}-{n}").first()
            if purchase is None:
                continue
            line = purchase.lines.get()
            left = line.quantity - line.returned_quantity
            if quantity and left:
                purchase_return(
                    purchase=purchase,
                    reference=f"{tag}{run}-{n}",
                    items=[ReturnItem(sku="KOPI", quantity=min(quantity, left))],
                    actor=Actor.system(),
                )

    give_back(returned_before, "B")
    member_erase(actor=Actor.system(), member=member)
    give_back(returned_after, "A")

    account = PointsAccount.objects.get(member=member)
    assert (account.balance, account.pending) == (0, 0)
    assert "Ledger sound" in ledger_clean()


def test_the_privacy_page_reads_in_malay(client, aisyah):
    from django.utils import translation

    Member.objects.filter(pk=aisyah.pk).update(language="ms")
    client.force_login(aisyah.user)
    client.cookies["django_language"] = "ms"
    try:
        page = client.get(reverse("portal:privacy"), HTTP_ACCEPT_LANGUAGE="ms").content.decode()
    finally:
        translation.activate("en")
    assert "Padam akaun saya" in page and "taip PADAM" in page
