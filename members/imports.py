"""The members import (API.md `import_members`; docs/import-export.md).

A header row, then one member a row: `email, phone, first_name, last_name,
birth_date` (YYYY-MM-DD), `language` (en, ms), `marketing_consent`
(true/false), `tags` (`;`-separated), `external_id`, `joined_at` (ISO 8601;
default: now). Read row by row (loyalty.csv_files), each row checked with
the bounds of `POST /members`, then:

- a row that matches no member (by email, phone or external id, each
  normalised as enrolment stores it) is enrolled through
  members.services.member_enrol (channel `import`: no welcome bonus, no
  referral), joined at its `joined_at`, with its consent as given;
- a row that matches one member is skipped (that member stays as they are),
  so a second run of the same file imports nothing;
- a row whose identifiers match two different members is an error.

A dry run writes nothing and tells the same: it remembers the identifiers of
the rows it would enrol (a 64-bit digest each), so a file naming one person
twice is told alike in both runs.
"""

from __future__ import annotations

import hashlib
from dataclasses import dataclass
from datetime import date, datetime
from typing import IO

from django.conf import settings
from django.core.exceptions import ValidationError
from django.core.validators import EmailValidator
from django.db.models import Q
from django.utils import timezone
from django.utils.translation import gettext as _

from loyalty.actors import Actor
from loyalty.csv_files import CsvFileError, csv_records
from loyalty.errors import DomainError
from loyalty.imports import (
    BadCell,
    ImportReport,
    cell_bool,
    cell_date,
    cell_moment,
    cell_text,
    cells_text_check,
    header_problem,
)
from loyalty.limits import EMAIL_MAX_LENGTH
from members.enrolment import Channel
from members.errors import MemberExists
from members.identifiers import (
    EXTERNAL_ID_MAX_LENGTH,
    PhoneInvalid,
    normalise_email,
    normalise_external_id,
    normalise_phone,
)
from members.models import Member
from members.services import member_enrol

COLUMNS = (
    "email",
    "phone",
    "first_name",
    "last_name",
    "birth_date",
    "language",
    "marketing_consent",
    "tags",
    "external_id",
    "joined_at",
)
# As POST /members: at most 50 tags of 40 characters.
TAGS_MAX = 50
TAG_MAX_LENGTH = 40
NAME_MAX_LENGTH = 150
_EMAIL = EmailValidator()


@dataclass(frozen=True)
class MemberRow:
    line: int
    email: str | None
    phone: str | None
    external_id: str | None
    first_name: str
    last_name: str
    birth_date: date | None
    language: str
    marketing_consent: bool
    tags: list[str]
    joined_at: datetime


def member_row_parse(line: int, cells: dict[str, str], *, now: datetime) -> MemberRow:
    """One row as enrolment takes it. Raises BadCell with the row's reason."""
    cells_text_check(cells)
    get = cells.get
    email = normalise_email(get("email"))
    if email is not None:
        cell_text("email", email, max_length=EMAIL_MAX_LENGTH)
        try:
            _EMAIL(email)
        except ValidationError:
            raise BadCell(
                _("email is not an email address: “%(value)s”") % {"value": email}
            ) from None
    try:
        phone = normalise_phone(get("phone"))
    except PhoneInvalid as exc:
        raise BadCell(
            _("phone is not a valid phone number (%(reason)s): “%(value)s”")
            % {"reason": exc.reason, "value": exc.phone}
        ) from None
    external_id = normalise_external_id(get("external_id"))
    if external_id is not None:
        cell_text("external_id", external_id, max_length=EXTERNAL_ID_MAX_LENGTH)
    if email is None and phone is None:
        raise BadCell(_("give an email or a phone number"))
    language = (get("language") or "").strip().lower() or settings.LANGUAGE_CODE
    if language not in {code for code, _name in settings.LANGUAGES}:
        raise BadCell(_("language must be en or ms, not “%(value)s”") % {"value": language})
    tags = sorted({tag.strip() for tag in (get("tags") or "").split(";") if tag.strip()})
    if len(tags) > TAGS_MAX:
        raise BadCell(_("at most %(max)s tags") % {"max": TAGS_MAX})
    for tag in tags:
        cell_text("tags", tag, max_length=TAG_MAX_LENGTH)
    birth = get("birth_date") or ""
    joined = get("joined_at") or ""
    return MemberRow(
        line=line,
        email=email,
        phone=phone,
        external_id=external_id,
        first_name=cell_text("first_name", get("first_name") or "", max_length=NAME_MAX_LENGTH),
        last_name=cell_text("last_name", get("last_name") or "", max_length=NAME_MAX_LENGTH),
        birth_date=cell_date("birth_date", birth, today=timezone.localdate(now)) if birth else None,
        language=language,
        marketing_consent=cell_bool(
            "marketing_consent", get("marketing_consent") or "", default=False
        ),
        tags=tags,
        joined_at=cell_moment("joined_at", joined, now=now) if joined else now,
    )


def _identifiers(row: MemberRow) -> list[tuple[str, str]]:
    return [
        (name, value)
        for name, value in (
            ("email", row.email),
            ("phone", row.phone),
            ("external_id", row.external_id),
        )
        if value is not None
    ]


def members_matching(row: MemberRow) -> dict[int, list[str]]:
    """The members any of the row's identifiers belong to: member id → the
    identifiers (email, phone, external_id) it matched by. One statement."""
    query = Q()
    for name, value in _identifiers(row):
        query |= Q(**{name: value})
    found: dict[int, list[str]] = {}
    for pk, email, phone, external_id in Member.objects.filter(query).values_list(
        "pk", "email", "phone", "external_id"
    ):
        found[pk] = [
            name
            for name, value in _identifiers(row)
            if value == {"email": email, "phone": phone, "external_id": external_id}[name]
        ]
    return found


def _digest(name: str, value: str) -> int:
    return int.from_bytes(hashlib.blake2b(f"{name}\0{value}".encode(), digest_size=8).digest())


class _DryRunMembers:
    """The members a dry run would have enrolled, by identifier digest (the
    row's line as a stand-in id, negative so it never meets a real one)."""

    def __init__(self) -> None:
        self.ids: dict[int, int] = {}

    def matching(self, row: MemberRow) -> dict[int, list[str]]:
        found: dict[int, list[str]] = {}
        for name, value in _identifiers(row):
            pk = self.ids.get(_digest(name, value))
            if pk is not None:
                found.setdefault(pk, []).append(name)
        return found

    def add(self, row: MemberRow) -> None:
        for name, value in _identifiers(row):
            self.ids[_digest(name, value)] = -row.line


def _two_members(found: dict[int, list[str]]) -> str:
    ways = " / ".join(", ".join(names) for names in found.values())
    return _("matches %(count)s different members (by %(ways)s)") % {
        "count": len(found),
        "ways": ways,
    }


def members_import(
    *, stream: IO[bytes], report: ImportReport, dry_run: bool, no_points: bool = False
) -> None:
    """Import (or, `dry_run`, check) a members file; see the module docstring.
    Every bad row is told to `report` as its line and reason; the rest are
    imported or skipped. `no_points` means nothing here (no points are
    imported with members)."""
    now = timezone.now()
    actor = Actor.system()
    try:
        names, records = csv_records(stream)
    except CsvFileError as exc:
        report.error(exc.line, exc.reason)
        return
    problem = (
        header_problem(names, columns=COLUMNS, required=()) if names else _("the file is empty")
    )
    if not problem and "email" not in names and "phone" not in names:
        problem = _("missing column(s): %(names)s") % {"names": "email, phone"}
    if problem:
        report.error(1, problem)
        return
    planned = _DryRunMembers() if dry_run else None
    try:
        for record in records:
            _member_record(record.line, record.cells, record.extra, report, planned, now, actor)
            report.done(1)
    except CsvFileError as exc:
        report.error(exc.line, exc.reason)


def _member_record(
    line: int,
    cells: dict[str, str],
    extra: int,
    report: ImportReport,
    planned: _DryRunMembers | None,
    now: datetime,
    actor: Actor,
) -> None:
    if extra:
        report.error(line, _("more cells than the header has columns"))
        return
    try:
        row = member_row_parse(line, cells, now=now)
    except BadCell as exc:
        report.error(line, str(exc))
        return
    found = members_matching(row)
    if planned is not None:
        found |= planned.matching(row)
    if len(found) > 1:
        report.error(line, _two_members(found))
        return
    if found:
        report.skipped += 1
        return
    if planned is not None:
        planned.add(row)
        report.imported += 1
        return
    try:
        member_enrol(
            actor=actor,
            email=row.email,
            phone=row.phone,
            external_id=row.external_id,
            first_name=row.first_name,
            last_name=row.last_name,
            birth_date=row.birth_date,
            language=row.language,
            marketing_consent=row.marketing_consent,
            tags=row.tags,
            now=row.joined_at,
            channel=Channel.IMPORT,
        )
    except MemberExists:
        # Enrolled elsewhere since the look-up (the counter, the API): as a match.
        found = members_matching(row)
        if len(found) == 1:
            report.skipped += 1
        else:
            report.error(line, _two_members(found))
        return
    except DomainError as exc:
        reasons = [m for messages in (exc.fields or {}).values() for m in messages]
        report.error(line, "; ".join(reasons) or exc.message)
        return
    report.imported += 1
