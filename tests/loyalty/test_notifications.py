"""The notification service (loyalty.notifications): the inbox, the channels,
once per event and channel, nothing for a rollback, consent for marketing,
the one-click unsubscribe, emails in the member's language."""

from __future__ import annotations

from datetime import timedelta
from decimal import Decimal

import pytest
from django.core import mail
from django.db import transaction
from django.urls import reverse
from django.utils import timezone, translation

from loyalty import sms
from loyalty.actors import Actor
from loyalty.models import DeliveryStatus, Notification, NotificationDelivery
from loyalty.notification_email import unsubscribe_token
from loyalty.notifications import (
    channel_register,
    channel_unregister,
    delivery_send,
    notify,
)
from loyalty.tasks import notification_create, notification_deliver
from members.jobs import expiry_reminders
from members.ledger import Source
from members.models import ConsentChange, ConsentSource, EntryKind, Member, MemberStatus
from members.notifications import member_notification_preferences_set
from members.points import points_earn
from members.services import member_update
from purchases.inputs import LineInput, SaleInput
from purchases.services import purchase_record
from tests.factories import MemberFactory, StoreFactory

BROADCAST = {"title": {"en": "Raya sale", "ms": "Jualan Raya"}, "body": "20% off this week."}


@pytest.fixture(autouse=True)
def _outboxes(settings):
    settings.EMAIL_BACKEND = "django.core.mail.backends.locmem.EmailBackend"
    settings.LOYALTY_SMS_BACKEND = "loyalty.sms.LocmemSmsBackend"
    sms.outbox.clear()
    yield
    sms.outbox.clear()


def _sale(member: Member, reference: str, amount: str = "20.00") -> None:
    purchase_record(
        sale=SaleInput(
            store=StoreFactory(code="klcc"),
            reference=reference,
            member=Member.objects.select_related("account", "tier").get(pk=member.pk),
            occurred_at=timezone.now(),
            items=[LineInput(sku="KOPI", quantity=1, unit_price=Decimal(amount))],
        ),
        actor=Actor.system(),
    )


def _keen(phone: str = "012-555 0101", **fields) -> Member:
    """A member who asked for points-earned messages by email and SMS."""
    member = MemberFactory(user=None, phone=phone, **fields)
    member_notification_preferences_set(
        member=member,
        choices={("points_earned", "email"): True, ("points_earned", "sms"): True},
    )
    return member


def _mails_to(member: Member, subject_part: str = "") -> list:
    return [m for m in mail.outbox if m.to == [member.email] and subject_part in m.subject]


# --- Once per event and channel -------------------------------------------------------------------


@pytest.mark.django_db(transaction=True)
def test_a_purchase_sends_one_points_earned_message_per_channel_even_when_tasks_run_twice(
    program, tiers
):
    """The sale commits, its task writes the inbox entry and one delivery per
    channel, each sent once; running the tasks again (a redelivered or
    doubled task) sends nothing more and writes no second entry."""
    member = _keen(email="keen@example.com")
    _sale(member, "R-1")

    earned = Notification.objects.get(member=member, kind="points_earned")
    assert earned.title == "You earned 20 points"
    assert len(_mails_to(member, "You earned 20 points")) == 1
    assert [m.to for m in sms.outbox] == ["+60125550101"]
    deliveries = list(earned.deliveries.order_by("channel"))
    assert [(d.channel, d.status, d.attempts) for d in deliveries] == [
        ("email", DeliveryStatus.SENT, 1),
        ("sms", DeliveryStatus.SENT, 1),
    ]

    for delivery in deliveries:
        assert notification_deliver.apply(args=[delivery.pk]).get() == "taken"
    assert not notification_create.apply(
        args=[member.pk, "points_earned", earned.context, earned.event_key]
    ).get()
    assert len(_mails_to(member, "You earned")) == 1 and len(sms.outbox) == 1
    assert Notification.objects.filter(member=member, event_key=earned.event_key).count() == 1


@pytest.mark.django_db
def test_a_failed_send_is_retried_by_celery_and_still_sent_once(
    member, django_capture_on_commit_callbacks
):
    """A channel that fails once: the task raises, Celery's autoretry runs it
    again (in place here, `apply`), the second attempt sends, and the row
    counts both attempts; the task once more sends nothing."""
    sent: list[int] = []
    failures = iter([RuntimeError("gateway timeout")])

    def flaky(notification: Notification) -> None:
        failure = next(failures, None)
        if failure is not None:
            raise failure
        sent.append(notification.pk)

    channel_register("flaky", flaky)
    try:
        member_notification_preferences_set(member=member, choices={("tier_up", "flaky"): True})
        with django_capture_on_commit_callbacks():
            notification = notify(
                member, "tier_up", {"tier": "Gold", "program": "Setia"}, event_key="t:1"
            )
        delivery = NotificationDelivery.objects.get(notification=notification, channel="flaky")
        notification_deliver.apply(args=[delivery.pk], throw=False)
        assert notification_deliver.apply(args=[delivery.pk]).get() == "taken"
    finally:
        channel_unregister("flaky")
    delivery.refresh_from_db()
    assert sent == [notification.pk]
    assert (delivery.status, delivery.attempts) == (DeliveryStatus.SENT, 2)


@pytest.mark.django_db
def test_the_sweep_sends_a_delivery_whose_task_was_lost(member, django_capture_on_commit_callbacks):
    """A delivery still queued long after its task should have run (a broker
    that lost it, an eager run that failed) is sent by the job
    `notifications_retry`, once."""
    from loyalty.jobs import job_run

    with django_capture_on_commit_callbacks():  # the tasks are "lost": never run
        notification = notify(member, "tier_up", {"tier": "Gold", "program": "S"}, event_key="t:l")
    assert _mails_to(member, "Gold") == []
    later = timezone.now() + timedelta(hours=2)
    # The tier message's email, and the welcome's (its enrolment never committed here).
    assert job_run("notifications_retry", as_of=later) == "2 notification deliveries queued again"
    assert job_run("notifications_retry", as_of=later) == "0 notification deliveries queued again"
    assert len(_mails_to(member, "Gold")) == 1
    assert notification.deliveries.get().status == DeliveryStatus.SENT


@pytest.mark.django_db
def test_a_send_that_fails_on_the_last_attempt_is_failed_and_never_sent_again(member):
    calls: list[int] = []

    def broken(notification: Notification) -> None:
        calls.append(notification.pk)
        raise RuntimeError("down")

    channel_register("broken", broken)
    try:
        member_notification_preferences_set(member=member, choices={("tier_up", "broken"): True})
        notification = notify(member, "tier_up", {"tier": "Gold", "program": "S"}, event_key="t")
        delivery = notification.deliveries.get(channel="broken")
        with pytest.raises(Exception, match="down"):
            delivery_send(delivery_id=delivery.pk, last_attempt=True)
        delivery.refresh_from_db()
        assert delivery.status == DeliveryStatus.FAILED and "down" in delivery.last_error
        assert delivery_send(delivery_id=delivery.pk, last_attempt=True) == "taken"
    finally:
        channel_unregister("broken")
    assert calls == [notification.pk]


@pytest.mark.django_db(transaction=True)
def test_a_sale_that_rolls_back_tells_nothing(program, tiers):
    """The points-earned task is queued on commit: a sale whose transaction
    rolls back leaves no inbox entry and sends nothing."""
    member = _keen(email="rollback@example.com")
    mail.outbox.clear()
    with pytest.raises(RuntimeError), transaction.atomic():
        _sale(member, "R-ROLLBACK")
        raise RuntimeError("the till's request failed after the sale")
    assert not Notification.objects.filter(member=member, kind="points_earned").exists()
    assert mail.outbox == [] and sms.outbox == []


@pytest.mark.django_db
def test_points_earned_is_off_by_default_and_queues_nothing(
    program, tiers, django_capture_on_commit_callbacks
):
    """A member who did not ask: the sale queues no task at all."""
    member = MemberFactory(user=None, email="quiet@example.com")
    assert member.notify_points_earned is False
    with django_capture_on_commit_callbacks() as callbacks:
        _sale(member, "R-QUIET")
    assert callbacks == []


@pytest.mark.django_db
def test_preferences_keep_the_sales_flag_in_step(member):
    member_notification_preferences_set(member=member, choices={("points_earned", "inbox"): True})
    assert Member.objects.get(pk=member.pk).notify_points_earned is True
    member_notification_preferences_set(member=member, choices={("points_earned", "inbox"): False})
    assert Member.objects.get(pk=member.pk).notify_points_earned is False


# --- Who gets what --------------------------------------------------------------------------------


@pytest.mark.django_db
def test_no_marketing_message_reaches_a_member_without_consent(django_capture_on_commit_callbacks):
    """A broadcast reaches the consenting member's inbox and email; the other
    gets nothing, not even an inbox entry."""
    yes = MemberFactory(user=None, email="yes@example.com", marketing_consent=True)
    no = MemberFactory(user=None, email="no@example.com", marketing_consent=False)
    with django_capture_on_commit_callbacks(execute=True):
        assert notify(yes, "broadcast", BROADCAST, event_key="broadcast:1") is not None
        assert notify(no, "broadcast", BROADCAST, event_key="broadcast:1") is None
    assert Notification.objects.filter(member=no).filter(kind="broadcast").count() == 0
    assert [m.to for m in mail.outbox if "Raya" in m.subject] == [["yes@example.com"]]


@pytest.mark.django_db
def test_consent_withdrawn_before_the_send_cancels_it(django_capture_on_commit_callbacks):
    member = MemberFactory(user=None, email="late@example.com", marketing_consent=True)
    with django_capture_on_commit_callbacks() as callbacks:
        notify(member, "broadcast", BROADCAST, event_key="broadcast:2")
    member_update(actor=Actor.system(), member=member, marketing_consent=False)
    for callback in callbacks:
        callback()
    delivery = NotificationDelivery.objects.get(
        notification__member=member, notification__kind="broadcast"
    )
    assert delivery.status == DeliveryStatus.CANCELLED
    assert [m for m in mail.outbox if "Raya" in m.subject] == []


@pytest.mark.django_db
def test_a_blocked_member_gets_only_the_inbox_and_a_deleted_one_nothing():
    blocked = MemberFactory(user=None, email="blocked@example.com")
    blocked = member_update(actor=Actor.system(), member=blocked, status=MemberStatus.BLOCKED)
    gone = MemberFactory(user=None, email="gone@example.com")
    Member.objects.filter(pk=gone.pk).update(status=MemberStatus.DELETED)
    gone.refresh_from_db()
    context = {"tier": "Gold", "program": "Setia"}
    assert notify(blocked, "tier_up", context, event_key="t").deliveries.count() == 0
    assert notify(gone, "tier_up", context, event_key="t") is None


@pytest.mark.django_db
def test_the_same_event_twice_writes_one_entry(member):
    context = {"tier": "Gold", "program": "Setia"}
    assert notify(member, "tier_up", context, event_key="tier_change:9") is not None
    assert notify(member, "tier_up", context, event_key="tier_change:9") is None
    assert member.notifications.filter(event_key="tier_change:9").count() == 1


# --- Emails ---------------------------------------------------------------------------------------


@pytest.mark.django_db
def test_marketing_emails_carry_the_one_click_unsubscribe_headers(
    settings, django_capture_on_commit_callbacks
):
    settings.LOYALTY_SITE_URL = "https://loyalty.example.com"
    settings.LOYALTY_UNSUBSCRIBE_MAILTO = "unsubscribe@example.com"
    member = MemberFactory(user=None, email="fan@example.com", marketing_consent=True)
    mail.outbox.clear()
    with django_capture_on_commit_callbacks(execute=True):
        notify(member, "broadcast", BROADCAST, event_key="broadcast:3")
        notify(member, "tier_up", {"tier": "Gold", "program": "S"}, event_key="t:3")
    offer, tier = sorted(mail.outbox, key=lambda m: "Raya" not in m.subject)
    url = "https://loyalty.example.com" + reverse(
        "unsubscribe", args=[unsubscribe_token(public_id=member.public_id)]
    )
    assert offer.extra_headers["List-Unsubscribe"] == (
        f"<{url}>, <mailto:unsubscribe@example.com?subject=unsubscribe>"
    )
    assert offer.extra_headers["List-Unsubscribe-Post"] == "List-Unsubscribe=One-Click"
    html = offer.alternatives[0][0]
    assert url in offer.body and url in html
    # Transactional messages are not a list to leave.
    assert "List-Unsubscribe" not in tier.extra_headers


@pytest.mark.django_db
def test_emails_carry_the_merchants_name_and_brand_colours(
    program, django_capture_on_commit_callbacks
):
    from loyalty.services import program_settings_update

    program_settings_update(actor=Actor.system(), merchant_name="Kedai Kopi", brand_color="#7a1f3d")
    member = MemberFactory(user=None, email="brand@example.com")
    with django_capture_on_commit_callbacks(execute=True):
        notify(member, "tier_up", {"tier": "Gold", "program": "S"}, event_key="t:b")
    message = _mails_to(member, "Gold")[0]
    assert "Kedai Kopi" in message.from_email and "Kedai Kopi" in message.subject
    assert "background:#7a1f3d" in message.alternatives[0][0]


@pytest.mark.django_db
def test_emails_render_in_malay_for_a_malay_member(program, django_capture_on_commit_callbacks):
    """Subject and body in Bahasa Melayu, whatever the language of the
    request that set it off."""
    member = MemberFactory(user=None, email="siti@example.com", first_name="Siti", language="ms")
    with django_capture_on_commit_callbacks(execute=True):
        notify(member, "tier_up", {"tier": "Emas", "program": "Setia"}, event_key="t:ms")
    message = _mails_to(member, "Emas")[0]
    assert message.subject.startswith("Anda kini di peringkat Emas")
    assert "Tahniah" in message.body and "Helo Siti" in message.body
    html = message.alternatives[0][0]
    assert 'lang="ms"' in html and "Tahniah" in html and "Buka akaun saya" in html
    welcome = member.notifications.get(kind="welcome")
    assert welcome.title.startswith("Selamat datang")


@pytest.mark.django_db
def test_a_malay_members_email_and_sms_write_the_amount_the_malay_way(
    program, tiers, settings, django_capture_on_commit_callbacks
):
    """In Brunei dollars, Malay (ms_BN) writes '$ 1.234,50' where English
    writes 'BND1,234.50': each member reads the sale's total in their own
    language, by email and by SMS, whatever language the sale ran in."""
    settings.LOYALTY_REGION = "BN"
    settings.LOYALTY_CURRENCY = "BND"
    siti = _keen(email="siti@example.com", language="ms", phone="+673 812 3456")
    john = _keen(email="john@example.com", language="en", phone="+673 712 3456")
    with django_capture_on_commit_callbacks(execute=True), translation.override("en"):
        _sale(siti, "R-ms", "1234.50")
    with django_capture_on_commit_callbacks(execute=True), translation.override("ms"):
        _sale(john, "R-en", "1234.50")
    (malay,) = _mails_to(siti)
    assert "$\xa01.234,50" in malay.body and "BND1,234.50" not in malay.body
    (english,) = _mails_to(john)
    assert "BND1,234.50" in english.body and "1.234,50" not in english.body
    texts = {message.to: message.text for message in sms.outbox}
    assert "$\xa01.234,50" in texts[siti.phone] and "BND1,234.50" in texts[john.phone]
    stored = siti.notifications.get(kind="points_earned")
    assert stored.context["total"] == "1234.50"  # a plain decimal, formatted for each reader


# --- The one-click unsubscribe --------------------------------------------------------------------


@pytest.fixture
def subscribers(db):
    return (
        MemberFactory(user=None, email="a@example.com", marketing_consent=True),
        MemberFactory(user=None, email="b@example.com", marketing_consent=True),
    )


def test_the_unsubscribe_link_asks_first_then_one_click_post_unsubscribes_signed_out(
    client, subscribers
):
    member, other = subscribers
    url = reverse("unsubscribe", args=[unsubscribe_token(public_id=member.public_id)])
    page = client.get(url)
    assert page.status_code == 200 and b'method="post"' in page.content
    member.refresh_from_db()
    assert member.marketing_consent is True  # a GET (a mail scanner) changes nothing

    response = client.post(url, {"List-Unsubscribe": "One-Click"})
    assert response.status_code == 200 and response.content == b""
    member.refresh_from_db()
    other.refresh_from_db()
    assert member.marketing_consent is False and other.marketing_consent is True
    change = ConsentChange.objects.get(member=member, consent=False)
    assert change.source == ConsentSource.UNSUBSCRIBE
    # Again: still unsubscribed, no second change recorded.
    assert client.post(url, {"confirm": "1"}).status_code == 200
    assert ConsentChange.objects.filter(member=member, consent=False).count() == 1


def test_a_token_works_only_for_its_member_and_a_tampered_one_is_refused_kindly(
    client, subscribers
):
    member, other = subscribers
    token = unsubscribe_token(public_id=member.public_id)
    signature = token.split(":", 1)[1]
    for bad in (f"{other.public_id}:{signature}", token[:-2] + "xx", "nonsense"):
        url = reverse("unsubscribe", args=[bad])
        page = client.get(url)
        assert page.status_code == 400
        assert "does not work" in page.content.decode()
        assert client.post(url, {"confirm": "1"}).status_code == 400
        assert client.post(url, {"List-Unsubscribe": "One-Click"}).status_code == 400
    member.refresh_from_db()
    other.refresh_from_db()
    assert member.marketing_consent is True and other.marketing_consent is True
    assert not ConsentChange.objects.filter(consent=False).exists()


# --- Reminders ------------------------------------------------------------------------------------


@pytest.mark.django_db
def test_expiry_reminders_twice_for_the_same_time_remind_once_per_lot(
    program, django_capture_on_commit_callbacks
):
    """Two lots within `expiry_warning_days` (14) of their expiry, one beyond:
    two reminders, each with its lot's points; the job again sends none."""
    member = MemberFactory(user=None, email="lots@example.com")
    now = timezone.now()
    for points, days_ago in ((30, 355), (40, 360), (50, 100)):
        moment = now - timedelta(days=days_ago)
        points_earn(
            member=member,
            points=points,
            kind=EntryKind.BONUS,
            description="lot",
            source=Source("test", str(points)),
            occurred_at=moment,
            now=moment,
            program=program,
        )
    mail.outbox.clear()
    with django_capture_on_commit_callbacks(execute=True):
        assert (
            expiry_reminders(now) == "2 points expiry reminders, 0 expiring lots told to webhooks"
        )
        assert (
            expiry_reminders(now) == "0 points expiry reminders, 0 expiring lots told to webhooks"
        )
    reminders = member.notifications.filter(kind="points_expiring")
    assert sorted(r.context["points"] for r in reminders) == [30, 40]
    assert len(_mails_to(member, "expire soon")) == 2


def test_points_read_one_point_and_two_points_in_english_and_malay():
    from loyalty.notifications import kind_get

    earned = kind_get("points_earned")
    context = {"store": "KLCC", "reference": "R-1", "total": "1250.00", "balance": 10}
    assert earned.texts({**context, "points": 1}, "en") == (
        "You earned 1 point",
        "1 point for your purchase of RM1,250.00 at KLCC (receipt R-1).",
    )
    assert earned.texts({**context, "points": 2}, "en")[0] == "You earned 2 points"
    assert earned.texts({**context, "points": 1}, "ms")[0] == "Anda memperoleh 1 mata"
    assert kind_get("points_expiring").texts({"points": 1, "expires": "1 Jan"}, "en")[0] == (
        "1 point expires soon"
    )


@pytest.mark.django_db
def test_batched_notifications_go_as_one_task_each_written_once(
    member, monkeypatch, django_capture_on_commit_callbacks
):
    """notifications_batched (an import's batch): its notify_on_commit calls
    make one task when the transaction commits, written in order, each once
    however often the task runs; nothing for a transaction that rolls back."""
    from loyalty import notifications, tasks

    other = MemberFactory(user=None, email="other@example.com")
    queued: list[list] = []
    monkeypatch.setattr(tasks.notifications_create, "delay", queued.append)
    monkeypatch.setattr(notifications, "BATCHED_MAX", 2)
    context = {"tier": "Gold", "program": "Setia"}
    with (
        django_capture_on_commit_callbacks(execute=True),
        transaction.atomic(),
        notifications.notifications_batched(),
    ):
        for who, key in ((member, "t:1"), (other, "t:2"), (member, "t:3")):
            notifications.notify_on_commit(
                member_id=who.pk, kind="tier_up", context=context, event_key=key
            )
    assert [[item[3] for item in chunk] for chunk in queued] == [["t:1", "t:2"], ["t:3"]]
    tier_notes = Notification.objects.filter(kind="tier_up")
    assert not tier_notes.exists()  # the tasks did not run yet
    for chunk in queued:
        assert tasks.notifications_create.apply(args=[chunk]).get() == len(chunk)
    for chunk in queued:
        assert tasks.notifications_create.apply(args=[chunk]).get() == 0
    assert sorted(tier_notes.values_list("event_key", flat=True)) == ["t:1", "t:2", "t:3"]

    queued.clear()
    with (
        django_capture_on_commit_callbacks(execute=True),
        pytest.raises(RuntimeError),
        transaction.atomic(),
        notifications.notifications_batched(),
    ):
        notifications.notify_on_commit(
            member_id=member.pk, kind="tier_up", context=context, event_key="t:4"
        )
        raise RuntimeError("the batch fails")
    assert queued == []
