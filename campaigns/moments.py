"""The member's own moments: the welcome bonus on enrolment, the birthday
and the membership anniversary (API.md's `signup`, `birthday`,
`anniversary` kinds).

- `signup_award` is an enrolment hook (members.hooks, registered in
  CampaignsConfig.ready): it runs inside `member_enrol`'s transaction, so the
  bonus comes with the enrolment from every channel (the API, the counter,
  the portal sign-up) or not at all.
- `birthdays_award` and `anniversaries_award` are the jobs `birthdays` and
  `anniversaries` (campaigns.jobs). They select the members due at `as_of`
  (the program's local date) in one query, then pay each member in their own
  short transaction with their account locked. Each payment's ledger key
  names the campaign, the member and the year (`birthday:<campaign>:<member>:
  <year>`), so a member is paid once a year by each campaign, however often
  the job runs, and the budget and cap are reserved only for what is paid.

A birthday on 29 February is celebrated on 28 February in other years; so is
an anniversary of joining on 29 February. With `"when": "month"` the birthday
bonus is paid on the first run in the birthday's month.
"""

from __future__ import annotations

import calendar
from collections.abc import Iterator
from datetime import date, datetime
from typing import Any

from django.db import transaction
from django.db.models import Q, QuerySet
from django.utils import translation
from django.utils.translation import ngettext

from campaigns.awarding import (
    campaign_award_notify,
    campaign_awards_pay,
    local,
    member_audience,
)
from campaigns.engine import BirthdayParams, CampaignSnapshot, MemberContext, member_evaluate
from campaigns.models import CampaignKind
from campaigns.selectors import campaigns_active
from loyalty.notifications import notify
from loyalty.selectors import program_settings_get
from members.enrolment import Channel, Enrolment
from members.history import Text
from members.locks import account_lock
from members.models import Member, MemberStatus, PointsEntry
from members.points import points_account_writes

CHUNK = 500


# --- Welcome bonus ------------------------------------------------------------------------------


def signup_award(enrolment: Enrolment) -> None:
    """The welcome bonus of the live signup campaigns (an enrolment hook,
    members.enrolment): one statement when none is live. Runs in
    member_enrol's transaction. A member imported from a file (channel
    `import`) joined before, elsewhere: no welcome bonus."""
    if enrolment.channel == Channel.IMPORT:
        return
    member, now = enrolment.member, enrolment.at
    campaigns = campaigns_active(now=now, kinds=[CampaignKind.SIGNUP])
    if not campaigns:
        return
    account = account_lock(member_id=member.pk)
    evaluation = member_evaluate(
        MemberContext(
            member=member_audience(member=member, campaigns=campaigns, now=now),
            at=local(now),
            store_code=member.home_store.code if member.home_store_id else None,
        ),
        campaigns,
        kind=CampaignKind.SIGNUP,
    )
    with points_account_writes(account):
        final = campaign_awards_pay(
            member=member,
            account=account,
            evaluation=evaluation,
            campaigns=campaigns,
            at=local(now),
            occurred_at=now,
            now=now,
            program=program_settings_get(),
            # The member was created in this transaction: no entry has these keys.
            key=lambda award: f"signup:{award.campaign_id}:{member.pk}",
            key_unused=True,
            description=lambda award: award.label,
        )
    campaign_award_notify(member=member, evaluation=final, event_key="signup", at=now)
    # The enrolling channel answers with the member's status: it reads this account.
    member.account = account


# --- Birthdays and anniversaries -------------------------------------------------------------


def _day_match(field: str, day: date) -> Q:
    """`field` (a date, or a datetime read in the program's time zone) falls
    on `day`'s month and day; on 28 February of a common year, 29 February too."""
    match = Q(**{f"{field}__month": day.month, f"{field}__day": day.day})
    if day.month == 2 and day.day == 28 and not calendar.isleap(day.year):
        match |= Q(**{f"{field}__month": 2, f"{field}__day": 29})
    return match


def _chunks(members: QuerySet[Member]) -> Iterator[list[Member]]:
    chunk: list[Member] = []
    for member in members.select_related("tier", "home_store").order_by("pk").iterator(CHUNK):
        chunk.append(member)
        if len(chunk) == CHUNK:
            yield chunk
            chunk = []
    if chunk:
        yield chunk


def _keys_taken(keys: list[str]) -> set[str]:
    if not keys:
        return set()
    return set(
        PointsEntry.objects.filter(idempotency_key__in=keys).values_list(
            "idempotency_key", flat=True
        )
    )


def _moment_pay(
    *,
    member: Member,
    campaigns: list[CampaignSnapshot],
    kind: str,
    as_of: datetime,
    key_prefix: str,
    description: Text,
) -> int:
    """Pay `member` the awards of `campaigns` not paid this year, in one short
    transaction holding their account lock. Returns the points paid."""
    year = local(as_of).year

    def key(campaign_id: int) -> str:
        return f"{key_prefix}:{campaign_id}:{member.pk}:{year}"

    with transaction.atomic():
        account = account_lock(member_id=member.pk)
        # Under the lock: a job running at the same time has either paid (its
        # entries are here) or waits for this one.
        taken = _keys_taken([key(c.id) for c in campaigns])
        due = [c for c in campaigns if key(c.id) not in taken]
        if not due:
            return 0
        evaluation = member_evaluate(
            MemberContext(
                member=member_audience(member=member, campaigns=due, now=as_of),
                at=local(as_of),
                store_code=member.home_store.code if member.home_store_id else None,
            ),
            due,
            kind=kind,
        )
        with points_account_writes(account):
            final = campaign_awards_pay(
                member=member,
                account=account,
                evaluation=evaluation,
                campaigns=due,
                at=local(as_of),
                occurred_at=as_of,
                now=as_of,
                program=program_settings_get(),
                key=lambda award: key(award.campaign_id),
                description=lambda award: Text("moment", award=award.label, moment=description),
            )
        if kind == CampaignKind.BIRTHDAY:
            birthday_greet(member=member, as_of=as_of, points=final.points)
        else:
            campaign_award_notify(
                member=member, evaluation=final, event_key=f"{key_prefix}:{year}", at=as_of
            )
        return final.points


def _moments_pay(
    *,
    members: QuerySet[Member],
    campaigns: list[CampaignSnapshot],
    kind: str,
    as_of: datetime,
    key_prefix: str,
    describe: Any,
) -> tuple[int, int]:
    """Pay every member of `members` (members already paid by every campaign
    this year are skipped with one query per chunk). Returns (members paid,
    points)."""
    year = local(as_of).year
    paid = points = 0
    for chunk in _chunks(members.filter(status=MemberStatus.ACTIVE)):
        keys = [f"{key_prefix}:{c.id}:{m.pk}:{year}" for m in chunk for c in campaigns]
        taken = _keys_taken(keys)
        for member in chunk:
            if all(f"{key_prefix}:{c.id}:{member.pk}:{year}" in taken for c in campaigns):
                continue
            got = _moment_pay(
                member=member,
                campaigns=campaigns,
                kind=kind,
                as_of=as_of,
                key_prefix=key_prefix,
                description=describe(member),
            )
            if got:
                paid += 1
                points += got
    return paid, points


def birthdays_award(*, as_of: datetime) -> tuple[int, int]:
    """The `birthdays` job: the live birthday campaigns pay the members whose
    birthday is today (`"when": "day"`) or in this month (`"month"`), in the
    program's time zone, once a year each. Returns (members paid, points)."""
    campaigns = campaigns_active(now=as_of, kinds=[CampaignKind.BIRTHDAY])
    today = local(as_of).date()
    paid = points = 0
    for when, match in (
        ("day", _day_match("birth_date", today)),
        ("month", Q(birth_date__month=today.month)),
    ):
        chosen = [c for c in campaigns if isinstance(c.params, BirthdayParams)]
        chosen = [c for c in chosen if c.params.when == when]
        if not chosen:
            continue
        got = _moments_pay(
            members=Member.objects.filter(match, birth_date__isnull=False),
            campaigns=chosen,
            kind=CampaignKind.BIRTHDAY,
            as_of=as_of,
            key_prefix="birthday",
            describe=lambda member: Text("moment.birthday", year=today.year),
        )
        paid, points = paid + got[0], points + got[1]
    _birthday_greetings(today=today, as_of=as_of)
    return paid, points


def birthday_greet(*, member: Member, as_of: datetime, points: int) -> None:
    """The member's birthday greeting, once a year (event `birthday:<year>`),
    with the points their birthday campaigns paid, if any."""
    program = program_settings_get()
    with translation.override(member.language):
        gift = (
            ngettext(
                "Here is %(points)s point to celebrate.",
                "Here are %(points)s points to celebrate.",
                points,
            )
            % {"points": points}
            if points
            else ""
        )
    notify(
        member,
        "birthday",
        {
            "name": member.first_name or member.card_number,
            "merchant": program.merchant_name,
            "gift": gift,
        },
        event_key=f"birthday:{local(as_of).year}",
        at=as_of,
    )


def _birthday_greetings(*, today: date, as_of: datetime) -> None:
    """Greet the active members whose birthday is today that no birthday
    campaign paid (those were greeted with their points already): the event
    key makes a second run, or a paid member, a no-op."""
    members = Member.objects.filter(
        _day_match("birth_date", today), birth_date__isnull=False, status=MemberStatus.ACTIVE
    )
    for chunk in _chunks(members):
        for member in chunk:
            with transaction.atomic():
                birthday_greet(member=member, as_of=as_of, points=0)


def anniversaries_award(*, as_of: datetime) -> tuple[int, int]:
    """The `anniversaries` job: the live anniversary campaigns pay the members
    who joined on this day (month and day, in the program's time zone) of an
    earlier year, once a year each. Returns (members paid, points)."""
    campaigns = campaigns_active(now=as_of, kinds=[CampaignKind.ANNIVERSARY])
    if not campaigns:
        return 0, 0
    today = local(as_of).date()

    def describe(member: Member) -> Text:
        return Text("moment.anniversary", years=today.year - local(member.joined_at).year)

    joined = Member.objects.filter(_day_match("joined_at", today), joined_at__year__lt=today.year)
    return _moments_pay(
        members=joined,
        campaigns=campaigns,
        kind=CampaignKind.ANNIVERSARY,
        as_of=as_of,
        key_prefix="anniversary",
        describe=describe,
    )
