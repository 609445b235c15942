"""Referrals (issue 10; API.md "Referrals"): a friend joins with a member's
code; both get the referral campaign's points once, when the friend's first
qualifying sale is recorded; a full return of that sale within the return
window takes them back.

The life of a referral (campaigns.models.Referral), one function per step:

1. Joining (`referral_on_enrol`, a members enrolment hook registered in
   CampaignsConfig.ready, members.enrolment): every channel that enrols with
   a code — `POST /members`, the counter's form, the portal sign-up through
   `/join?ref=CODE` — records the referral, `joined`, and raises the friend's
   `Member.referral_pending` flag; or `rejected` with its reason at once when
   the fraud checks say so: the friend is the referrer under another address
   (the same mailbox once `+tags`, and dots at Gmail, are ignored), the same
   phone, or the same name and birth date; or too many referred sign-ups came
   from one network address in a day (portal). members refuses an unknown
   code itself (`400` on `referral_code`).
2. The sale (`referral_sale_recorded`, called by the sale flow inside its
   transaction, holding the friend's points-account lock): when the friend's
   sale qualifies under the live referral campaign (eligible amount ≥
   `min_spend`, within `within_days` of joining), the referral becomes
   `qualified` with the sale's id and the flag goes down. Nothing is paid
   here: paying the referrer needs the referrer's account, and the sale holds
   the friend's account, its vouchers and gift cards already — taking another
   member's account now would go back up the lock order (rewards.locks), and
   a referrer buying at the same moment with a gift card the friend also uses
   would deadlock. Costs no statement when the flag is down (read from the
   member row the sale has).
3. Settling (`referral_settle`, in its own transaction, queued on the sale's
   commit as a Celery task and swept by the `referrals_settle` job, so a lost
   task delays it and loses nothing): pays a `qualified` referral — checks the
   advocate's `monthly_cap` (referrals rewarded per referrer per calendar
   month in the program's time zone) and the campaign's budget (both awards
   or none), then writes one `bonus` entry each, source ("campaign", id), with
   the qualifying sale's `occurred_at` so they wait out the same pending days
   — and becomes `rewarded`; or takes back a rewarded referral whose sale was
   returned (`reversal_due`), with members.points.points_reverse on the same
   source, so the ledger nets to zero and the budget gets the points back.
4. A return (`referral_purchase_returned`, called by the returns flow inside
   its transaction): the qualifying sale returned in full within the return
   window (the program's `pending_days`; with none, any full return) rejects
   the referral, "qualifying purchase returned"; a rewarded one is marked
   `reversal_due` and settled after the commit. A partial return changes
   nothing; the call costs no statement then, one indexed SELECT otherwise.

Lock order (global order of rewards.locks; a referral row comes after the
accounts and before campaign budget rows): the settle step locks both
members' accounts at once, in member id order (members.locks.accounts_lock),
then the referral row, then the campaign's budget row. The sale and the
return lock only the friend's account (theirs already) and then the referral
row. So two friends of one referrer buying at once take turns only on the
referrer's account in their settle steps, in id order; a referrer who is
also someone's friend settles each referral with the two accounts of that
referral, in id order; and no flow holds a referral row while waiting for an
account. Two sales of one friend at once take turns on the friend's account:
the second finds the referral qualified and pays nothing.
"""

from __future__ import annotations

import hashlib
import logging
from dataclasses import dataclass
from datetime import datetime, timedelta
from decimal import Decimal

from django.conf import settings
from django.db import transaction
from django.db.models import F, Q, QuerySet
from django.utils import timezone
from django.utils.translation import gettext_lazy

from campaigns import locks, tasks
from campaigns.awarding import campaign_awarded_emit
from campaigns.challenges import challenges_referral_rewarded
from campaigns.engine import ReferralParams
from campaigns.models import Campaign, CampaignKind, CampaignStatus, Referral, ReferralStatus
from campaigns.params import params_parse
from campaigns.selectors import SOURCE_TYPE
from loyalty.notifications import notify
from loyalty.selectors import program_settings_get
from members.enrolment import Enrolment
from members.history import Text
from members.identifiers import email_identity
from members.ledger import Source
from members.locks import accounts_lock
from members.models import EntryKind, Member, MemberStatus, PointsAccount
from members.points import points_account_writes, points_earn, points_reverse
from members.segments import member_in_segments
from members.services import member_referral_pending_set

logger = logging.getLogger(__name__)

# Referred sign-ups from one network address within a day before the next is rejected.
SIGNUPS_PER_ADDRESS = 3
SIGNUP_WINDOW = timedelta(days=1)

# Why a referral is rejected, or why it stays joined (Referral.reason).
SELF_EMAIL = "self_email"
SELF_PHONE = "self_phone"
SELF_NAME = "self_name_birth_date"
ADDRESS_LIMIT = "address_limit"
WINDOW_PASSED = "window_passed"
MONTHLY_CAP = "monthly_cap"
BUDGET = "budget"
RETURNED = "returned"
REFERRER_INACTIVE = "referrer_inactive"
REFERRER_AUDIENCE = "referrer_audience"

REASON_TEXTS = {
    SELF_EMAIL: gettext_lazy("Self-referral: the same mailbox as the referrer's email."),
    SELF_PHONE: gettext_lazy("Self-referral: the same phone number as the referrer."),
    SELF_NAME: gettext_lazy("Self-referral: the same name and birth date as the referrer."),
    ADDRESS_LIMIT: gettext_lazy("Too many referred sign-ups from one network address in a day."),
    WINDOW_PASSED: gettext_lazy("No qualifying purchase within the days allowed after joining."),
    MONTHLY_CAP: gettext_lazy("The referrer's monthly limit of rewarded referrals was reached."),
    BUDGET: gettext_lazy("The referral campaign's budget was exhausted."),
    RETURNED: gettext_lazy("Qualifying purchase returned."),
    REFERRER_INACTIVE: gettext_lazy("The referrer's membership is blocked or closed."),
    REFERRER_AUDIENCE: gettext_lazy(
        "The referrer is not in the referral campaign's audience (its tiers or segment)."
    ),
}


def referral_reason_text(reason: str) -> str:
    """The sentence of a reason code, in the active language ('' for none)."""
    return str(REASON_TEXTS.get(reason, reason))


def _address_hash(address: str | None) -> str:
    """The network address, kept only as a keyed hash (enough to count sign-ups)."""
    if not address:
        return ""
    keyed = f"{settings.SECRET_KEY}:referral-address:{address}".encode()
    return hashlib.sha256(keyed).hexdigest()


def _same_person(friend: Member, referrer: Member) -> str | None:
    """The self-referral reason when `friend` looks like `referrer` again."""
    friend_mailbox, referrer_mailbox = email_identity(friend.email), email_identity(referrer.email)
    if friend_mailbox and friend_mailbox == referrer_mailbox:
        return SELF_EMAIL
    if friend.phone and friend.phone == referrer.phone:
        return SELF_PHONE
    if (
        friend.birth_date is not None
        and friend.birth_date == referrer.birth_date
        and friend.full_name
        and friend.full_name.casefold() == referrer.full_name.casefold()
    ):
        return SELF_NAME
    return None


# --- 1. Joining ------------------------------------------------------------------------------


def referral_on_enrol(enrolment: Enrolment) -> None:
    """Record the referral of a member enrolled with a friend's code (the
    enrolment hook): `joined`, with the friend's pending flag raised, or
    `rejected` with the fraud check's reason. Runs in the enrolment's
    transaction: 2 statements (3 with a network address)."""
    referrer, friend, now = enrolment.referrer, enrolment.member, enrolment.at
    if referrer is None:
        return
    address = _address_hash(enrolment.address)
    reason = _same_person(friend, referrer)
    if reason is None and address:
        recent = Referral.objects.filter(address_hash=address, created_at__gte=now - SIGNUP_WINDOW)
        if recent.count() >= SIGNUPS_PER_ADDRESS:
            reason = ADDRESS_LIMIT
    Referral.objects.create(
        referrer=referrer,
        friend=friend,
        code=referrer.referral_code,
        status=ReferralStatus.REJECTED if reason else ReferralStatus.JOINED,
        reason=reason or "",
        address_hash=address,
        created_at=now,
        rejected_at=now if reason else None,
    )
    if reason is None:
        member_referral_pending_set(member=friend, pending=True)


# --- 2. The friend's sale --------------------------------------------------------------------


@dataclass(frozen=True)
class Qualified:
    """A sale that qualified its member's referral: the referral is settled
    (both paid, or rejected with a reason) after the sale commits."""

    referral_id: int
    campaign_id: int


def _live_referral_campaign(at: datetime) -> Campaign | None:
    """The referral campaign live at `at` (the highest priority, then the
    oldest): one statement."""
    return (
        Campaign.objects.filter(
            kind=CampaignKind.REFERRAL,
            status__in=[CampaignStatus.SCHEDULED, CampaignStatus.ACTIVE],
            starts_at__lte=at,
        )
        .filter(Q(ends_at__isnull=True) | Q(ends_at__gt=at))
        .order_by("-priority", "created_at", "pk")
        .first()
    )


def referral_sale_recorded(
    *,
    member: Member,
    purchase_id: int,
    store_id: int | None,
    eligible_amount: Decimal,
    occurred_at: datetime,
    now: datetime,
) -> Qualified | None:
    """Tell referrals of a member's recorded sale. Call it inside the sale's
    transaction, holding the member's points-account lock (which serialises
    the member's sales, so a referral qualifies once), after the purchase row
    exists.

    When the sale is the friend's first qualifying one under the live
    referral campaign (eligible ≥ min_spend, at most within_days after
    joining), the referral becomes qualified and its settling is queued for
    after the commit; returns it. A sale below the minimum leaves it joined;
    one after the window leaves it joined with reason `window_passed` and
    the flag down (it can no longer qualify).

    Statements: none when `member.referral_pending` is False (every member
    not referred, or whose referral is decided); else 2 SELECTs (the referral,
    locked; the live referral campaign), plus 2 UPDATEs when it qualifies or
    its window has passed, plus 1 SELECT (the campaign's stores) when it
    reaches the minimum.
    """
    if not member.referral_pending:
        return None
    referral = (
        Referral.objects.select_for_update()
        .filter(friend_id=member.pk, status=ReferralStatus.JOINED)
        .first()
    )
    if referral is None:
        member_referral_pending_set(member=member, pending=False)
        return None
    if occurred_at < referral.created_at:
        return None  # a till's backdated sale from before the friend joined
    campaign = _live_referral_campaign(occurred_at)
    if campaign is None:
        return None  # stays joined: a referral campaign may start later
    params: ReferralParams = params_parse(campaign.kind, campaign.params)  # type: ignore[assignment]
    if occurred_at > referral.created_at + timedelta(days=params.within_days):
        referral.reason = WINDOW_PASSED
        referral.campaign = campaign
        referral.save(update_fields=["reason", "campaign"])
        member_referral_pending_set(member=member, pending=False)
        return None
    if eligible_amount < params.min_spend:
        return None
    stores = set(campaign.stores.values_list("pk", flat=True))
    if stores and store_id not in stores:
        return None  # stays joined: a sale at one of the campaign's stores qualifies
    referral.status = ReferralStatus.QUALIFIED
    referral.campaign = campaign
    referral.purchase_id = purchase_id
    referral.purchase_occurred_at = occurred_at
    referral.qualified_at = now
    referral.save(
        update_fields=["status", "campaign", "purchase_id", "purchase_occurred_at", "qualified_at"]
    )
    member_referral_pending_set(member=member, pending=False)
    _settle_after_commit(referral.pk)
    return Qualified(referral_id=referral.pk, campaign_id=campaign.pk)


def _settle_after_commit(referral_id: int) -> None:
    # robust: the sale (or return) is committed whatever happens to the task;
    # a failure is logged and the referrals_settle job tries again.
    transaction.on_commit(lambda: tasks.referral_settle_task.delay(referral_id), robust=True)


# --- 3. Settling -----------------------------------------------------------------------------


def _month_bounds(moment: datetime) -> tuple[datetime, datetime]:
    """The calendar month of `moment` in the program's time zone."""
    local = timezone.localtime(moment)
    start = local.replace(day=1, hour=0, minute=0, second=0, microsecond=0)
    following = (start + timedelta(days=32)).replace(day=1)
    return start, following


def _reject(referral: Referral, reason: str, now: datetime) -> None:
    referral.status = ReferralStatus.REJECTED
    referral.reason = reason
    referral.rejected_at = now
    referral.save(update_fields=["status", "reason", "rejected_at"])


def _descriptions(referral: Referral, campaign: Campaign) -> tuple[Text, Text]:
    """The history lines of the friend's and the referrer's award."""
    friend, referrer = referral.friend, referral.referrer
    for_friend = Text(
        "referral.friend",
        campaign=campaign.name,
        name=referrer.first_name or Text("referral.a_friend"),
    )
    for_referrer = Text(
        "referral.referrer",
        campaign=campaign.name,
        name=friend.first_name or Text("referral.your_friend"),
    )
    return for_friend, for_referrer


def _in_audience(referrer: Member, campaign: Campaign, now: datetime) -> bool:
    """The campaign's audience is its advocates: the referrer's tier among its
    tiers and the referrer in its segment, when it has them."""
    tiers = set(campaign.tiers.values_list("pk", flat=True))
    if tiers and referrer.tier_id not in tiers:
        return False
    if campaign.segment_id is None:
        return True
    return campaign.segment_id in member_in_segments(
        member=referrer, segment_ids=[campaign.segment_id], now=now
    )


def _reward(referral: Referral, accounts: dict[int, PointsAccount], now: datetime) -> str:
    campaign = referral.campaign
    assert campaign is not None
    params: ReferralParams = params_parse(campaign.kind, campaign.params)  # type: ignore[assignment]
    if referral.referrer.status != MemberStatus.ACTIVE:
        _reject(referral, REFERRER_INACTIVE, now)
        return REFERRER_INACTIVE
    if not _in_audience(referral.referrer, campaign, now):
        _reject(referral, REFERRER_AUDIENCE, now)
        return REFERRER_AUDIENCE
    if params.monthly_cap is not None:
        start, end = _month_bounds(now)
        rewarded = Referral.objects.filter(
            referrer_id=referral.referrer_id,
            status=ReferralStatus.REWARDED,
            rewarded_at__gte=start,
            rewarded_at__lt=end,
        ).count()
        if rewarded >= params.monthly_cap:
            _reject(referral, MONTHLY_CAP, now)
            return MONTHLY_CAP
    total = params.friend_points + params.referrer_points
    if campaign.budget_points is not None:
        budget, used = locks.campaign_budgets_lock(campaign_ids=[campaign.pk])[campaign.pk]
        if budget is not None and budget - used < total:
            _reject(referral, BUDGET, now)
            return BUDGET
        Campaign.objects.filter(pk=campaign.pk).update(budget_used=F("budget_used") + total)
    program = program_settings_get()
    source = Source(SOURCE_TYPE, str(campaign.pk))
    for_friend, for_referrer = _descriptions(referral, campaign)
    occurred_at = referral.purchase_occurred_at or now
    for member, points, description, side in (
        (referral.friend, params.friend_points, for_friend, "friend"),
        (referral.referrer, params.referrer_points, for_referrer, "referrer"),
    ):
        account = accounts[member.pk]
        with points_account_writes(account):
            points_earn(
                member=member,
                points=points,
                kind=EntryKind.BONUS,
                description=description,
                source=source,
                occurred_at=occurred_at,
                now=now,
                program=program,
                idempotency_key=f"referral:{referral.pk}:{side}",
                account=account,
            )
            if side == "referrer":
                challenges_referral_rewarded(
                    member=member,
                    account=account,
                    referral_id=referral.pk,
                    occurred_at=occurred_at,
                    now=now,
                    program=program,
                )
        campaign_awarded_emit(
            member=member,
            campaign_id=campaign.pk,
            points=points,
            label=str(campaign.name),
            occurred_at=occurred_at,
            now=now,
        )
        if points:
            notify(
                member,
                "referral_rewarded",
                {"points": points, "reason": description},
                event_key=f"referral:{referral.pk}:{side}",
            )
    referral.status = ReferralStatus.REWARDED
    referral.friend_points = params.friend_points
    referral.referrer_points = params.referrer_points
    referral.rewarded_at = now
    referral.reason = ""
    referral.save(
        update_fields=["status", "friend_points", "referrer_points", "rewarded_at", "reason"]
    )
    return ReferralStatus.REWARDED


def _reverse(referral: Referral, now: datetime) -> str:
    campaign = referral.campaign
    assert campaign is not None
    source = Source(SOURCE_TYPE, str(campaign.pk))
    total = referral.friend_points + referral.referrer_points
    if campaign.budget_points is not None and total:
        locks.campaign_budgets_lock(campaign_ids=[campaign.pk])
        Campaign.objects.filter(pk=campaign.pk, budget_used__gte=total).update(
            budget_used=F("budget_used") - total
        )
    for member, points in (
        (referral.friend, referral.friend_points),
        (referral.referrer, referral.referrer_points),
    ):
        description = Text("referral.reversed", campaign=campaign.name)
        points_reverse(
            member=member, points=points, description=description, source=source, now=now
        )
    referral.reversal_due = False
    referral.reversed_at = now
    referral.save(update_fields=["reversal_due", "reversed_at"])
    return "reversed"


def referral_settle(*, referral_id: int, now: datetime | None = None) -> str | None:
    """Pay a qualified referral, or take back a rewarded one whose qualifying
    sale was returned; anything else (already settled, unknown) is left alone,
    so running it twice pays once. Its own transaction: both accounts locked
    in member id order, then the referral row, then the campaign's budget
    row. Returns what happened (`rewarded`, `reversed`, a rejection reason) or
    None."""
    now = now or timezone.now()
    with transaction.atomic():
        pair = (
            Referral.objects.filter(pk=referral_id).values_list("referrer_id", "friend_id").first()
        )
        if pair is None:
            return None
        accounts = accounts_lock(member_ids=list(pair))
        referral = (
            Referral.objects.select_for_update(of=("self",))
            .select_related("campaign", "referrer", "friend")
            .get(pk=referral_id)
        )
        if referral.status == ReferralStatus.QUALIFIED:
            outcome = _reward(referral, accounts, now)
        elif referral.reversal_due:
            outcome = _reverse(referral, now)
        else:
            return None
    logger.info("referral %s settled: %s", referral_id, outcome)
    return outcome


def referrals_settle_due(*, now: datetime) -> int:
    """Settle every referral waiting for it (qualified, or a reversal due):
    the job's sweep behind the task queued at each commit. Returns how many
    changed."""
    due = Referral.objects.filter(
        Q(status=ReferralStatus.QUALIFIED) | Q(reversal_due=True)
    ).values_list("pk", flat=True)
    return sum(1 for pk in list(due) if referral_settle(referral_id=pk, now=now) is not None)


# --- 4. A return of the qualifying sale ---------------------------------------------------


def referral_purchase_returned(*, purchase_id: int, fully_returned: bool, now: datetime) -> bool:
    """Tell referrals that a sale was returned. Call it inside the return's
    transaction, after the return has reversed the sale's own points (so the
    friend's account is locked first). When the sale qualified a referral and
    is now returned in full within the return window (the program's
    `pending_days` after the sale; with 0, no window), the referral is
    rejected ("qualifying purchase returned"); a rewarded one's points are
    taken back from both after the commit. Returns True when it rejected one.

    Statements: none for a partial return; one indexed SELECT for a full
    return of a sale that qualified nothing; +1 UPDATE when it rejects."""
    if not fully_returned:
        return False
    referral = Referral.objects.select_for_update().filter(purchase_id=purchase_id).first()
    if referral is None or referral.status not in (
        ReferralStatus.QUALIFIED,
        ReferralStatus.REWARDED,
    ):
        return False
    pending_days = program_settings_get().pending_days
    sold_at = referral.purchase_occurred_at or referral.qualified_at or now
    if pending_days and now > sold_at + timedelta(days=pending_days):
        return False
    was_rewarded = referral.status == ReferralStatus.REWARDED
    referral.status = ReferralStatus.REJECTED
    referral.reason = RETURNED
    referral.rejected_at = now
    referral.reversal_due = was_rewarded
    referral.save(update_fields=["status", "reason", "rejected_at", "reversal_due"])
    if was_rewarded:
        _settle_after_commit(referral.pk)
    return True


# --- Reads -----------------------------------------------------------------------------------


def referrals_of_member(*, member: Member) -> QuerySet[Referral]:
    """The friends a member referred, newest first, with the friends' rows."""
    return (
        Referral.objects.filter(referrer=member)
        .select_related("friend")
        .order_by("-created_at", "-id")
    )


def referral_share_url(*, member: Member, base_url: str) -> str:
    """The member's share link: the portal's join page with their code."""
    return f"{base_url.rstrip('/')}/join?ref={member.referral_code}"
