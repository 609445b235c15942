"""Reads about members, tiers and the ledger."""

from __future__ import annotations

from collections.abc import Iterable, Iterator
from dataclasses import dataclass
from datetime import datetime, timedelta
from decimal import Decimal
from typing import Any

from django.contrib.auth.models import AnonymousUser
from django.db.models import Case, DateTimeField, F, Q, QuerySet, Sum, Value, When
from django.db.models.functions import TruncDate
from django.utils import timezone

from loyalty.config import config_cached
from loyalty.db import Compiled, Lookup
from loyalty.exports import EXPORT_CHUNK, export_time
from loyalty.models import ProgramSettings, TierBasis, User
from loyalty.selectors import program_settings_get, store_get_by_id
from members.errors import MemberNotFound
from members.identifiers import (
    normalise_email,
    normalise_external_id,
    normalise_phone,
    normalise_referral_code,
)
from members.ledger import Source
from members.models import (
    EntryKind,
    EntryStatus,
    Member,
    MemberActivity,
    MemberStatus,
    PointsAccount,
    PointsEntry,
    Tier,
    TierChange,
)

EXPIRING_SHOWN = 3


def member_of_user(user: User | AnonymousUser) -> Member | None:
    """The member behind a signed-in user, or None (anonymous or staff only)."""
    if not user.is_authenticated:
        return None
    return Member.objects.select_related("account", "tier").filter(user=user).first()


_BY_PUBLIC_ID = Lookup(Member, "public_id")
_BY_CARD = Lookup(Member, "card_number")
_ACCOUNT = Lookup(PointsAccount, "member_id")


def member_get(*, public_id: str, with_account: bool = True) -> Member:
    """The member with its tier and home store (from the configuration cache)
    and, unless `with_account` is False (a sale locks it instead), its points
    account: two plain statements, built once per process (loyalty.db).
    Raises MemberNotFound."""
    return _member_complete(_BY_PUBLIC_ID.get(public_id), with_account=with_account)


def member_get_by_card(*, card_number: str, with_account: bool = True) -> Member:
    """As `member_get`, by card number. Raises MemberNotFound."""
    return _member_complete(_BY_CARD.get(card_number.strip()), with_account=with_account)


def _member_complete(member: Member | None, *, with_account: bool) -> Member:
    if member is None:
        raise MemberNotFound()
    tier = next((t for t in tier_list() if t.pk == member.tier_id), None)
    if tier is not None:
        Member.tier.field.set_cached_value(member, tier)
    store = store_get_by_id(pk=member.home_store_id) if member.home_store_id else None
    if store is not None:
        Member.home_store.field.set_cached_value(member, store)
    if with_account:
        account = _ACCOUNT.get(member.pk)
        if account is not None:
            Member.account.related.set_cached_value(member, account)
            PointsAccount.member.field.set_cached_value(account, member)
    return member


def members_by_reference(values: Iterable[str]) -> dict[str, list[Member]]:
    """For each value, the members it names as a card number, an email, a
    phone or an external id (each normalised as stored): an import's
    `member` column, many at once, in one statement. A value naming nobody
    maps to []; one naming two members (a phone that is another's external
    id) to both. The members come with their tier and home store from the
    configuration cache (no account)."""
    wanted: dict[str, list[tuple[str, str]]] = {}
    for value in set(values):
        ways = [("card_number", value), ("external_id", normalise_external_id(value) or "")]
        if "@" in value:
            ways.append(("email", normalise_email(value) or ""))
        else:
            try:
                phone = normalise_phone(value)
            except ValueError:
                phone = None
            if phone:
                ways.append(("phone", phone))
        wanted[value] = [(name, key) for name, key in ways if key]
    by: dict[str, set[str]] = {}
    for ways in wanted.values():
        for name, key in ways:
            by.setdefault(name, set()).add(key)
    if not by:
        return {value: [] for value in wanted}
    query = Q()
    for name, keys in by.items():
        query |= Q(**{f"{name}__in": sorted(keys)})
    index: dict[tuple[str, str], Member] = {}
    for member in Member.objects.filter(query):
        member = _member_complete(member, with_account=False)
        for name in by:
            key = getattr(member, name)
            if key:
                index[(name, key)] = member
    result: dict[str, list[Member]] = {}
    for value, ways in wanted.items():
        members = {id(m): m for m in (index.get(way) for way in ways) if m is not None}
        result[value] = list(members.values())
    return result


def member_search(
    *,
    card_number: str | None = None,
    email: str | None = None,
    phone: str | None = None,
    external_id: str | None = None,
    search: str | None = None,
) -> QuerySet[Member]:
    """Look-up by card number, email, phone or external id (each normalised,
    exact), or a free-text search over the name and email, matching the card
    number, phone and external id exactly."""
    members = Member.objects.select_related("account", "tier").order_by(
        "last_name", "first_name", "id"
    )
    if card_number:
        members = members.filter(card_number=card_number.strip())
    if email:
        members = members.filter(email=normalise_email(email))
    if phone:
        try:
            members = members.filter(phone=normalise_phone(phone))
        except ValueError:
            return members.none()
    if external_id:
        members = members.filter(external_id=normalise_external_id(external_id))
    if search:
        text = search.strip()
        query = (
            Q(first_name__icontains=text) | Q(last_name__icontains=text) | Q(email__icontains=text)
        )
        query |= Q(card_number=text.replace(" ", "")) | Q(external_id=text)
        try:
            phone_value = normalise_phone(text)
        except ValueError:
            phone_value = None
        if phone_value:
            query |= Q(phone=phone_value)
        parts = text.split()
        if len(parts) >= 2:
            query |= Q(first_name__icontains=parts[0], last_name__icontains=" ".join(parts[1:]))
        members = members.filter(query)
    return members


def tier_for_value(tiers: list[Tier], value: Decimal) -> Tier | None:
    """The highest tier whose threshold `value` meets."""
    reached = [tier for tier in tiers if tier.threshold <= value]
    return reached[-1] if reached else None


def qualifying_since(program: ProgramSettings, now: datetime) -> datetime | None:
    return (
        None if program.tier_window_days is None else now - timedelta(days=program.tier_window_days)
    )


def member_qualifying_value(*, member_id: int, now: datetime, program: ProgramSettings) -> Decimal:
    """Spend or points (program's tier basis) over the tier window up to `now`.
    One statement, compiled once per process (loyalty.db.Compiled)."""
    since = qualifying_since(program, now)
    spend = program.tier_basis == TierBasis.SPEND
    if since is None:
        rows = (_LIFETIME_SPEND if spend else _LIFETIME_POINTS).rows(member_id, now)
    else:
        rows = (_WINDOW_SPEND if spend else _WINDOW_POINTS).rows(member_id, now, since)
    return Decimal(rows[0][0] or 0) if rows else Decimal("0")


def _activity_sum(column: str, *, windowed: bool) -> Compiled:
    def build(member_id: int, now: datetime, since: datetime | None = None) -> QuerySet:
        activity = MemberActivity.objects.filter(member_id=member_id, occurred_at__lte=now)
        if since is not None:
            activity = activity.filter(occurred_at__gt=since)
        return (
            activity.order_by().values("member_id").annotate(total=Sum(column)).values_list("total")
        )

    return Compiled(build, int, datetime, datetime) if windowed else Compiled(build, int, datetime)


_LIFETIME_SPEND = _activity_sum("spend", windowed=False)
_LIFETIME_POINTS = _activity_sum("points", windowed=False)
_WINDOW_SPEND = _activity_sum("spend", windowed=True)
_WINDOW_POINTS = _activity_sum("points", windowed=True)


def tier_list() -> list[Tier]:
    """The tiers, lowest threshold first, from the configuration cache
    (loyalty.config): read-only."""
    return config_cached("tiers", lambda: list(Tier.objects.order_by("threshold")))


@dataclass(frozen=True)
class TierProgress:
    tier: Tier
    remaining: Decimal
    progress: float
    basis: str


def tier_progress(
    *, member: Member, tiers: list[Tier], value: Decimal, basis: str
) -> TierProgress | None:
    """How far the member is from the next tier above theirs (None at the top)."""
    current = member.tier.threshold if member.tier else Decimal("0")
    above = [tier for tier in tiers if tier.threshold > current]
    if not above:
        return None
    target = above[0]
    span = target.threshold - current
    progress = (
        float(max(Decimal("0"), min(Decimal("1"), (value - current) / span))) if span else 1.0
    )
    remaining = max(Decimal("0"), target.threshold - value)
    return TierProgress(tier=target, remaining=remaining, progress=round(progress, 4), basis=basis)


def _lots_by_expiry(
    *, member_id: int, now: datetime, limit: int = EXPIRING_SHOWN
) -> tuple[int, list[dict[str, Any]]]:
    """(points of lots past their expiry that the nightly job has not expired
    yet, the next `limit` expiries soonest first as `[{"points", "expires_at"}]`),
    in one grouped query: the lots already due group together under NULL."""
    query = _LOTS_BY_EXPIRY.get(limit) or _LOTS_BY_EXPIRY.setdefault(
        limit, _lots_by_expiry_query(limit)
    )
    rows = query.rows(member_id, now)
    lapsed, expiring = 0, []
    for due_at, points in rows:
        if due_at is None:
            lapsed = points
        else:
            expiring.append({"points": points, "expires_at": due_at})
    return lapsed, expiring[:limit]


def _lots_by_expiry_query(limit: int) -> Compiled:
    def build(member_id: int, now: datetime) -> QuerySet:
        due_at = Case(
            When(expires_at__lte=now, then=Value(None)),
            default=F("expires_at"),
            output_field=DateTimeField(),
        )
        return (
            PointsEntry.objects.filter(
                member_id=member_id,
                status=EntryStatus.AVAILABLE,
                remaining__gt=0,
                expires_at__isnull=False,
            )
            .annotate(due_at=due_at)
            .values("due_at")
            .annotate(points=Sum("remaining"))
            .order_by(F("due_at").asc(nulls_first=True))
            .values_list("due_at", "points")[: limit + 1]
        )

    return Compiled(build, int, datetime)


_LOTS_BY_EXPIRY: dict[int, Compiled] = {}


def points_by_day(
    *,
    member_id: int,
    status: str,
    column: str,
    limit: int = EXPIRING_SHOWN,
    after: datetime | None = None,
) -> list[dict[str, Any]]:
    """Open lots summed by the local day of `column` (`available_at`: when pending
    points become spendable; `expires_at`: when spendable ones expire), soonest
    first: `[{"points", "day"}]`; with `after`, only those due after it (points
    past their expiry are gone, not expiring). By day, not by timestamp: seven
    purchases on one day read as one line "140 points expire on 3 Jan 2027".
    One grouped query."""
    lots = PointsEntry.objects.filter(
        member_id=member_id, status=status, remaining__gt=0, **{f"{column}__isnull": False}
    )
    if after is not None:
        lots = lots.filter(**{f"{column}__gt": after})
    rows = (
        lots.annotate(day=TruncDate(column, tzinfo=timezone.get_current_timezone()))
        .values("day")
        .annotate(points=Sum("remaining"))
        .order_by("day")[:limit]
    )
    return [{"points": row["points"], "day": row["day"]} for row in rows]


@dataclass(frozen=True)
class MemberStatusView:
    member: Member
    balance: int  # what the member can spend now: lots past their expiry left out
    expiring: list[dict[str, Any]]
    next_tier: TierProgress | None
    qualifying_value: Decimal


def member_status(*, member: Member, now: datetime | None = None) -> MemberStatusView:
    """Everything the status endpoint and the portal home show, in a constant
    number of queries whatever the history length (a test counts them).

    `balance` is what the member can spend now: lots whose expiry has come do
    not count, even before the nightly job writes their `expire` entries."""
    now = now or timezone.now()
    program = program_settings_get()
    value = member_qualifying_value(member_id=member.pk, now=now, program=program)
    lapsed, expiring = _lots_by_expiry(member_id=member.pk, now=now)
    return MemberStatusView(
        member=member,
        balance=member.account.balance - lapsed,
        expiring=expiring,
        next_tier=tier_progress(
            member=member, tiers=tier_list(), value=value, basis=program.tier_basis
        ),
        qualifying_value=value,
    )


def points_spendable(*, member: Member, now: datetime) -> int:
    """What the member can spend at `now`: the balance less what is left of lots
    whose expiry has come (the next debit, or the nightly job, expires them)."""
    due = PointsEntry.objects.filter(
        member=member, status=EntryStatus.AVAILABLE, remaining__gt=0, expires_at__lte=now
    ).aggregate(points=Sum("remaining"))["points"]
    return member.account.balance - (due or 0)


@dataclass(frozen=True)
class SourcePoints:
    """What one source (a sale) did to a member's points, read from its entries."""

    earned: int  # its earn and bonus entries, whatever awarded them
    paid: int  # points spent on it
    refunded: int  # of those, given back


def source_points(*, member_id: int, source: Source) -> SourcePoints:
    """The points a source earned, was paid with and refunded: one aggregate."""
    sums = PointsEntry.objects.filter(
        member_id=member_id, source_type=source.type, source_id=source.id
    ).aggregate(
        earned=Sum("points", filter=Q(kind__in=[EntryKind.EARN, EntryKind.BONUS])),
        paid=Sum("points", filter=Q(kind=EntryKind.REDEEM)),
        refunded=Sum("points", filter=Q(kind=EntryKind.REFUND)),
    )
    return SourcePoints(
        earned=sums["earned"] or 0, paid=-(sums["paid"] or 0), refunded=sums["refunded"] or 0
    )


def ledger_list(*, member: Member) -> QuerySet[PointsEntry]:
    """A member's entries, newest first."""
    return PointsEntry.objects.filter(member=member).order_by("-created_at", "-id")


def tier_history(*, member: Member) -> QuerySet[TierChange]:
    return TierChange.objects.filter(member=member).select_related("from_tier", "to_tier")


def member_by_referral_code(*, code: str | None) -> Member | None:
    """The active member whose referral code this is (any case, spaces
    ignored), or None."""
    code = normalise_referral_code(code)
    if code is None:
        return None
    return Member.objects.filter(referral_code=code, status=MemberStatus.ACTIVE).first()


MEMBER_EXPORT_COLUMNS = (
    "member_id",
    "card_number",
    "external_id",
    "first_name",
    "last_name",
    "email",
    "phone",
    "birth_date",
    "language",
    "status",
    "tier",
    "home_store",
    "points_balance",
    "marketing_consent",
    "tags",
    "joined_at",
)


def member_export_rows() -> Iterator[list[Any]]:
    """Every member as CSV rows for the managers' export (a header, then one
    row a member, oldest first), read with values_list EXPORT_CHUNK at a time
    so a million members stream in constant memory. `tags` are `;`-separated,
    as the import reads them; times in the program's time zone. Write them
    through loyalty.csv_files (formula escaping)."""
    yield list(MEMBER_EXPORT_COLUMNS)
    rows = (
        Member.objects.order_by("pk")
        .values_list(
            "public_id",
            "card_number",
            "external_id",
            "first_name",
            "last_name",
            "email",
            "phone",
            "birth_date",
            "language",
            "status",
            "tier__code",
            "home_store__code",
            "account__balance",
            "marketing_consent",
            "tags",
            "joined_at",
        )
        .iterator(chunk_size=EXPORT_CHUNK)
    )
    for *head, birth_date, language, status, tier, store, balance, consent, tags, joined in rows:
        yield [
            *head,
            birth_date.isoformat() if birth_date else "",
            language,
            status,
            tier or "",
            store or "",
            balance or 0,
            "true" if consent else "false",
            ";".join(tags or ()),
            export_time(joined),
        ]


LEDGER_EXPORT_COLUMNS = (
    "entry_id",
    "created_at",
    "member_id",
    "card_number",
    "kind",
    "status",
    "points",
    "balance_after",
    "remaining",
    "available_at",
    "expires_at",
    "description",
    "source_type",
    "source_id",
)


def ledger_export_rows(*, entries: QuerySet[PointsEntry]) -> Iterator[list[Any]]:
    """`entries` (in their order) as CSV rows: a header, then one row an
    entry, read with values_list EXPORT_CHUNK at a time (constant memory for
    a million). Points as the integers they are, times ISO 8601 in the
    program's time zone. Write them through loyalty.csv_files."""
    yield list(LEDGER_EXPORT_COLUMNS)
    rows = entries.values_list(
        "pk",
        "created_at",
        "member__public_id",
        "member__card_number",
        "kind",
        "status",
        "points",
        "balance_after",
        "remaining",
        "available_at",
        "expires_at",
        "description",
        "source_type",
        "source_id",
    ).iterator(chunk_size=EXPORT_CHUNK)
    for pk, created, public_id, card, kind, status, points, after, remaining, *rest in rows:
        available, expires, description, source_type, source_id = rest
        yield [
            pk,
            export_time(created),
            public_id,
            card,
            kind,
            status,
            points,
            after,
            remaining,
            export_time(available),
            export_time(expires),
            description,
            source_type,
            source_id,
        ]
