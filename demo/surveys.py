"""The demo's surveys and service recovery (analytics, layer 6), set up by the
marketer before the history and played on its timeline: NPS and CSAT
invitations after the last four months' visits (the job run twice a day),
about a third of them answered a few hours later (each member with their
own humour, a bad day now and then, a comment sometimes, in their
language), some anonymous answers at the Mid Valley kiosk, and the
detractors' follow-ups worked by the Bangsar store staff and the manager:
most closed in time with a note, some with goodwill points, some late,
a quarter never. Aisyah ends with an open invitation to try.

It draws from a random source of its own, seeded from the shop's state
without drawing from it, so the shop's other draws stay as they were."""

from __future__ import annotations

import random
from datetime import datetime, time, timedelta

from django.utils import timezone

from analytics.feedback import survey_settings_get
from analytics.models import FeedbackSource, FollowUp, SurveyInvitation, SurveyKind
from analytics.recovery import follow_up_save
from analytics.surveys import (
    feedback_record,
    survey_invitations_send,
    survey_invite,
    survey_settings_update,
)
from campaigns.services import campaign_create
from demo.members import Shopper
from demo.shop import Action, Shop
from loyalty.actors import Actor
from loyalty.models import Store
from loyalty.roles import Role
from purchases.models import Purchase

HISTORY_DAYS = 120
JOB_TIMES = (time(12, 40), time(19, 40))
ANSWER_SHARE = 0.35
KIOSK_ANSWERS = 30

QUESTIONS = {
    SurveyKind.NPS: (
        "How likely are you to recommend Kedai Setia to a friend or colleague?",
        "Sejauh manakah kemungkinan anda mengesyorkan Kedai Setia kepada rakan atau rakan sekerja?",
    ),
    SurveyKind.CSAT: (
        "How satisfied were you with your visit today?",
        "Sejauh manakah anda berpuas hati dengan lawatan anda hari ini?",
    ),
}

COMMENTS = {
    "en": {
        "high": (
            "The kopi is always just right.",
            "Friendly staff, quick service.",
            "Love the kaya toast, my Saturday treat.",
            "Clean and cosy, great for a morning meeting.",
        ),
        "middle": (
            "Good, but the queue at lunch is long.",
            "Nice food, a bit pricey for every day.",
            "Fine. The music was loud.",
        ),
        "low": (
            "Waited 25 minutes for a takeaway.",
            "My order was wrong and nobody said sorry.",
            "The teh tarik was cold.",
            "Tables were dirty at lunchtime.",
            "Charged twice for the same item.",
        ),
    },
    "ms": {
        "high": (
            "Kopi sentiasa sedap.",
            "Pekerja mesra, layanan cepat.",
            "Roti bakar kaya paling saya suka.",
        ),
        "middle": (
            "Bagus, tetapi barisan waktu makan tengah hari panjang.",
            "Makanan sedap, cuma agak mahal.",
        ),
        "low": (
            "Tunggu 25 minit untuk bungkus.",
            "Pesanan saya salah dan tiada siapa minta maaf.",
            "Teh tarik sejuk.",
            "Meja kotor waktu tengah hari.",
        ),
    },
}

NOTES = (
    "Called the member and apologised; they will come back this weekend.",
    "Spoke to them at the counter on their next visit; the barista has been briefed.",
    "Emailed an apology and an explanation of the delay (short-staffed that day).",
    "Called twice, no answer; left a voicemail with the store's number.",
    "Refunded the item charged twice and apologised.",
    "Member was happy we called; asked for oat milk to be stocked.",
)
GOODWILL = (50, 100, 100, 150, 200)


def _score(rng: random.Random, kind: str, humour: float) -> int:
    """A member's score: their humour (0 sour, 1 sunny) with a bad day now and then."""
    mood = humour if rng.random() > 0.1 else rng.random() * 0.25
    if kind == SurveyKind.NPS:
        if mood > 0.5:
            return rng.choice((8, 9, 9, 10, 10, 10))
        if mood > 0.25:
            return rng.choice((6, 7, 7, 8, 8))
        return rng.choice((0, 2, 3, 4, 5, 6))
    if mood > 0.55:
        return rng.choice((4, 5, 5, 5))
    if mood > 0.28:
        return rng.choice((3, 3, 4, 4))
    return rng.choice((1, 2, 2))


def _comment(rng: random.Random, kind: str, score: int, language: str) -> str:
    if rng.random() > 0.4:
        return ""
    high = 9 if kind == SurveyKind.NPS else 4
    low = 6 if kind == SurveyKind.NPS else 2
    band = "high" if score >= high else "low" if score <= low else "middle"
    return rng.choice(COMMENTS.get(language, COMMENTS["en"])[band])


def surveys_schedule(shop: Shop, shoppers: list[Shopper]) -> None:
    """Turn both surveys on with a points campaign for answering, and put the
    invitation runs of the last HISTORY_DAYS and the kiosk's answers on the
    shop's timeline."""
    rng = random.Random(shop.rng.getstate()[1][0])  # noqa: S311 - the demo must repeat
    marketer = shop.staff[Role.MARKETER]
    for kind, (english, malay) in QUESTIONS.items():
        changes = {"sample_percent": 25, "delay_hours": 3, "cooldown_days": 45}
        if kind == SurveyKind.CSAT:
            changes = {"sample_percent": 30, "delay_hours": 2, "cooldown_days": 21}
        survey_settings_update(
            actor=marketer,
            kind=kind,
            enabled=True,
            question_en=english,
            question_ms=malay,
            follow_up_hours=48,
            **changes,
        )
    campaign_create(
        actor=marketer,
        name="Thanks for your feedback",
        kind="event",
        params={"event": "survey_answered", "points": 10},
        per_member_cap=10,
        cap_period="week",
        starts_at=shop.now - timedelta(days=HISTORY_DAYS + 5),
        status="scheduled",
    )
    humour = {shopper.member.pk: rng.betavariate(3, 1.5) for shopper in shoppers}
    for days_ago in range(HISTORY_DAYS, -1, -1):
        day = timezone.localdate(shop.now - timedelta(days=days_ago))
        for moment in JOB_TIMES:
            when = datetime.combine(day, moment, tzinfo=timezone.get_current_timezone())
            shop.at(when, _invitations_run(shop, rng, humour))
    kiosk = shop.stores["mid-valley"]
    for _n in range(KIOSK_ANSWERS):
        when = shop.now - timedelta(days=rng.randint(1, HISTORY_DAYS), hours=rng.randint(0, 9))
        score = _score(rng, SurveyKind.CSAT, rng.betavariate(3, 1.5))
        shop.at(when, _kiosk_answer(score, kiosk, shop.tills["mid-valley"]))


def _invitations_run(shop: Shop, rng: random.Random, humour: dict[int, float]) -> Action:
    def run(when: datetime) -> None:
        before = set(SurveyInvitation.objects.values_list("pk", flat=True))
        survey_invitations_send(as_of=when)
        for invitation in SurveyInvitation.objects.exclude(pk__in=before).order_by("pk"):
            if rng.random() < ANSWER_SHARE:
                later = _waking(when + timedelta(hours=rng.randint(1, 30)), rng)
                shop.at(later, _answer(shop, rng, invitation.pk, humour))

    return run


def _waking(moment: datetime, rng: random.Random) -> datetime:
    """`moment`, or the next morning when it falls in the night (members
    answer between 7:00 and 23:00)."""
    local = timezone.localtime(moment)
    if 7 <= local.hour < 23:
        return moment + timedelta(minutes=rng.randint(0, 59))
    morning = local.replace(hour=7, minute=rng.randint(0, 59))
    return morning if morning > local else morning + timedelta(days=1)


def _answer(shop: Shop, rng: random.Random, invitation_id: int, humour: dict[int, float]) -> Action:
    def answer(when: datetime) -> None:
        invitation = SurveyInvitation.objects.select_related("member", "purchase__store").get(
            pk=invitation_id
        )
        if invitation.expires_at <= when:
            return
        score = _score(rng, invitation.kind, humour[invitation.member_id])
        recorded = feedback_record(
            kind=invitation.kind,
            score=score,
            comment=_comment(rng, invitation.kind, score, invitation.member.language),
            member=invitation.member,
            invitation=invitation,
            source=FeedbackSource.INVITATION,
            actor=Actor.system(),
            now=when,
        )
        if recorded.follow_up is not None:
            _follow_up_schedule(shop, rng, recorded.follow_up, humour)

    return answer


def _follow_up_schedule(
    shop: Shop, rng: random.Random, follow_up: FollowUp, humour: dict[int, float]
) -> None:
    """Most closed within the 48 hours, some late, some never. A member
    looked after feels better about the shop; one left alone, worse."""
    draw = rng.random()
    if draw > 0.75:
        humour[follow_up.member_id] = max(0.0, humour[follow_up.member_id] - 0.15)
        return
    humour[follow_up.member_id] = min(1.0, humour[follow_up.member_id] + 0.3)
    hours = rng.randint(2, 40) if draw < 0.6 else rng.randint(50, 140)
    goodwill = rng.choice(GOODWILL) if rng.random() < 0.3 else 0
    note = rng.choice(NOTES)
    shop.at(
        follow_up.created_at + timedelta(hours=hours, minutes=rng.randint(0, 59)),
        _close(shop, follow_up.pk, note, goodwill),
    )


def _close(shop: Shop, follow_up_id: int, note: str, goodwill: int) -> Action:
    def close(when: datetime) -> None:
        follow_up = FollowUp.objects.select_related("store").get(pk=follow_up_id)
        # The Bangsar counter looks after its own; the manager after the rest.
        role = Role.STORE_STAFF if follow_up.store == shop.stores["bangsar"] else Role.MANAGER
        follow_up_save(
            actor=shop.staff[role],
            follow_up=follow_up,
            note=note,
            goodwill_points=goodwill,
            close=True,
            now=when,
        )

    return close


def _kiosk_answer(score: int, store: Store, till: Actor) -> Action:
    def answer(when: datetime) -> None:
        feedback_record(
            kind=SurveyKind.CSAT,
            score=score,
            store=store,
            source=FeedbackSource.TILL,
            actor=till,
            now=when,
        )

    return answer


def named_invitation_open(shop: Shop, named: list[Shopper]) -> None:
    """Aisyah's latest purchase gets a CSAT invitation now, if she holds no
    open one: the portal's survey is there to try."""
    aisyah = named[0].member
    if SurveyInvitation.objects.filter(
        member=aisyah, answered_at__isnull=True, expires_at__gt=shop.now
    ).exists():
        return
    purchase = (
        Purchase.objects.filter(member=aisyah, survey_invitation__isnull=True)
        .select_related("member", "store")
        .order_by("-occurred_at")
        .first()
    )
    if purchase is not None:
        survey_invite(
            purchase=purchase, survey=survey_settings_get(kind=SurveyKind.CSAT), as_of=shop.now
        )
