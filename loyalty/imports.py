"""CSV imports (API.md "Operations": `import_members`, `import_purchases`),
from the command line and from the managers' upload page.

The rows are the apps' own business: members.imports and purchases.imports
register an importer for their kind from their AppConfig.ready
(`importer_register`), as the ledger checks do, so this platform module
never imports the layers above it. Here is what every import shares:

- `ImportReport`: the counts (`imported N, skipped M, errors K`, in rows
  of the file) and the bad rows as `line N: reason`, all of them told to
  `on_problem` (the command prints them as they come) and the first
  ERRORS_KEPT kept for the page;
- `import_file_run`: one run over a file, dry or real; a real run is audited;
- the upload page's ImportJob: the file is kept, a dry run checks it
  (a Celery task, `import_job_check`), a manager starts the real run
  (`import_job_start`, another task, `import_job_run`), each writing its
  progress and then its counts and bad lines on the row.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import date, datetime, timedelta
from typing import IO, Protocol

from django.core.files.uploadedfile import UploadedFile
from django.db import transaction
from django.utils import timezone, translation
from django.utils.translation import gettext as _

from loyalty.actors import Actor
from loyalty.csv_files import csv_count_rows
from loyalty.errors import ValidationFailed
from loyalty.limits import DAYS_MAX, text_problem
from loyalty.models import ImportJob, ImportKind, ImportStatus
from loyalty.notifications import deliveries_off
from loyalty.services import audit_record

# The bad lines kept on an ImportJob (all of them are counted).
ERRORS_KEPT = 1000
# A run writes its progress on the ImportJob every this many rows.
PROGRESS_EVERY = 1000
# The largest file the upload page takes (the command line takes any).
UPLOAD_MAX_BYTES = 200 * 1024 * 1024


@dataclass
class ImportReport:
    """What a run found: counts in rows of the file, and its bad lines."""

    imported: int = 0
    skipped: int = 0
    errors: int = 0
    problems: list[str] = field(default_factory=list)
    on_problem: Callable[[str], None] | None = None
    on_progress: Callable[[int], None] | None = None
    rows_done: int = 0

    def error(self, line: int, reason: str) -> None:
        """Row `line` is bad (one count); told as `line N: reason`."""
        self.errors += 1
        text = _("line %(line)s: %(reason)s") % {"line": line, "reason": reason}
        if len(self.problems) < ERRORS_KEPT:
            self.problems.append(text)
        if self.on_problem is not None:
            self.on_problem(text)

    def done(self, rows: int) -> None:
        """`rows` more rows were dealt with (imported, skipped or bad)."""
        before = self.rows_done
        self.rows_done += rows
        if self.on_progress is not None and before // PROGRESS_EVERY != (
            self.rows_done // PROGRESS_EVERY
        ):
            self.on_progress(self.rows_done)

    @property
    def summary(self) -> str:
        """The last line of the command's output (API.md), never translated:
        scripts read it."""
        return f"imported {self.imported}, skipped {self.skipped}, errors {self.errors}"


class Importer(Protocol):
    def __call__(
        self, *, stream: IO[bytes], report: ImportReport, dry_run: bool, no_points: bool
    ) -> None: ...


_importers: dict[str, Importer] = {}


def importer_register(kind: str, importer: Importer) -> None:
    """`importer` reads the files of `kind` (an ImportKind)."""
    _importers[kind] = importer


def import_file_run(
    *,
    kind: str,
    stream: IO[bytes],
    actor: Actor,
    dry_run: bool = False,
    no_points: bool = False,
    report: ImportReport | None = None,
    file_name: str = "",
) -> ImportReport:
    """Read the CSV `stream` of `kind` row by row: a dry run checks every row
    and writes nothing; a real run imports the good rows (each importer says
    how it keeps a rerun from importing anything twice) and is audited
    (`import.<kind>`, with the counts)."""
    report = report or ImportReport()
    # A member's imported past is no news to them: what it would tell (a tier
    # reached years ago) goes to the inbox only, dated then, and nothing is sent.
    with deliveries_off():
        _importers[kind](stream=stream, report=report, dry_run=dry_run, no_points=no_points)
    if not dry_run:
        audit_record(
            actor=actor,
            action=f"import.{kind}",
            after={
                "file": file_name,
                "no_points": no_points,
                "imported": report.imported,
                "skipped": report.skipped,
                "errors": report.errors,
            },
        )
    return report


# --- Cells -------------------------------------------------------------------------------------


class BadCell(Exception):
    """A cell the importer cannot take: the message is the row's reason."""


TRUE_WORDS = frozenset({"true", "yes", "1"})
FALSE_WORDS = frozenset({"false", "no", "0"})


def cells_text_check(cells: dict[str, str]) -> None:
    """Raises BadCell for a cell no column can store (a NUL, a lone surrogate),
    naming the first such cell. The row's cells are tested together first
    (UTF-8 refuses every surrogate code point, paired or not, so the joined
    text encodes if and only if each cell does); only a row that fails is
    tested cell by cell, for its reason."""
    joined = "".join(cells.values())
    if "\x00" not in joined and (joined.isascii() or text_problem(joined) is None):
        return
    for name, value in cells.items():
        problem = text_problem(value)
        if problem is not None:
            raise BadCell(f"{name}: {problem}")


def cell_bool(name: str, value: str, *, default: bool) -> bool:
    """true/false (also yes/no, 1/0, any case); empty is `default`."""
    word = value.strip().lower()
    if not word:
        return default
    if word in TRUE_WORDS:
        return True
    if word in FALSE_WORDS:
        return False
    raise BadCell(_("%(column)s must be true or false, not “%(value)s”") % _named(name, value))


def cell_moment(name: str, value: str, *, now: datetime) -> datetime:
    """An ISO 8601 time (a date alone is its midnight; without an offset, the
    program's time zone), not in the future (5 minutes of clock drift
    allowed, as a sale) nor more than a century back (DAYS_MAX: every date
    derived from it stays in the calendar)."""
    try:
        moment = datetime.fromisoformat(value.strip())
    except ValueError:
        raise BadCell(
            _("%(column)s is not an ISO 8601 time: “%(value)s”") % _named(name, value)
        ) from None
    if timezone.is_naive(moment):
        moment = timezone.make_aware(moment)
    if moment > now + timedelta(minutes=5):
        raise BadCell(_("%(column)s is in the future: “%(value)s”") % _named(name, value))
    if moment < now - timedelta(days=DAYS_MAX):
        raise BadCell(_("%(column)s is more than a century ago: “%(value)s”") % _named(name, value))
    return moment


def cell_date(name: str, value: str, *, today: date) -> date:
    """A YYYY-MM-DD date, not after `today` nor more than a century before."""
    try:
        day = date.fromisoformat(value.strip())
    except ValueError:
        raise BadCell(
            _("%(column)s is not a YYYY-MM-DD date: “%(value)s”") % _named(name, value)
        ) from None
    if day > today:
        raise BadCell(_("%(column)s is in the future: “%(value)s”") % _named(name, value))
    if day < today - timedelta(days=DAYS_MAX):
        raise BadCell(_("%(column)s is more than a century ago: “%(value)s”") % _named(name, value))
    return day


def cell_text(name: str, value: str, *, max_length: int) -> str:
    if len(value) > max_length:
        raise BadCell(
            _("%(column)s is longer than %(max)s characters") % {"column": name, "max": max_length}
        )
    return value


def _named(name: str, value: str) -> dict[str, str]:
    # A long cell is cut in the message: the reason names it, it need not repeat it whole.
    return {"column": name, "value": value if len(value) <= 60 else value[:57] + "…"}


def header_problem(names: list[str], *, columns: tuple[str, ...], required: tuple[str, ...]) -> str:
    """Why a header cannot be read (unknown, missing or repeated columns), or ""."""
    unknown = [name for name in names if name not in columns]
    if unknown:
        return _("unknown column(s): %(names)s (the columns are: %(columns)s)") % {
            "names": ", ".join(unknown),
            "columns": ", ".join(columns),
        }
    missing = [name for name in required if name not in names]
    if missing:
        return _("missing column(s): %(names)s") % {"names": ", ".join(missing)}
    repeated = sorted({name for name in names if names.count(name) > 1})
    if repeated:
        return _("repeated column(s): %(names)s") % {"names": ", ".join(repeated)}
    return ""


# --- The upload page's jobs ----------------------------------------------------------------


def import_job_create(
    *, actor: Actor, kind: str, upload: UploadedFile, no_points: bool = False
) -> ImportJob:
    """Keep an uploaded file and queue its dry run (on commit). Audited
    (`import.upload`). Raises ValidationFailed for an unknown kind, an empty
    file or one above UPLOAD_MAX_BYTES."""
    if kind not in ImportKind.values:
        raise ValidationFailed(fields={"kind": [_("Choose members or past purchases.")]})
    if not upload.size:
        raise ValidationFailed(fields={"file": [_("The file is empty.")]})
    if upload.size > UPLOAD_MAX_BYTES:
        raise ValidationFailed(
            fields={
                "file": [
                    _("A file of at most %(size)s MB; import larger ones from the command line.")
                    % {"size": UPLOAD_MAX_BYTES // (1024 * 1024)}
                ]
            }
        )
    rows = csv_count_rows(upload.file)
    upload.file.seek(0)
    with transaction.atomic():
        job = ImportJob.objects.create(
            kind=kind,
            file=upload,
            file_name=(upload.name or "")[:255],
            no_points=no_points and kind == ImportKind.PURCHASES,
            rows_total=rows,
            created_by=actor.user,
        )
        audit_record(
            actor=actor,
            action="import.upload",
            obj=job,
            after={"kind": kind, "file": job.file_name, "rows": rows, "no_points": job.no_points},
        )
        _queue(job, actor, check=True)
    return job


def import_job_start(*, actor: Actor, job: ImportJob) -> ImportJob:
    """Queue the real run of a checked file (on commit). Audited
    (`import.start`). Raises ValidationFailed when the file is not checked
    or was imported already."""
    with transaction.atomic():
        started = ImportJob.objects.filter(pk=job.pk, status=ImportStatus.CHECKED).update(
            status=ImportStatus.QUEUED, rows_done=0
        )
        if not started:
            raise ValidationFailed(_("This file is not waiting to be imported."))
        job.refresh_from_db()
        audit_record(actor=actor, action="import.start", obj=job, after={"file": job.file_name})
        _queue(job, actor, check=False)
    return job


def _queue(job: ImportJob, actor: Actor, *, check: bool) -> None:
    from loyalty.tasks import import_job_task

    user_id = actor.user.pk if actor.user is not None else None
    language = translation.get_language() or "en"
    transaction.on_commit(lambda: import_job_task.delay(job.pk, check, user_id, actor.ip, language))


def import_job_execute(*, job_id: int, check: bool, actor: Actor) -> None:
    """The task's work: the dry run (`check`) of a file waiting for it, or
    the real run of a queued one; anything else is left alone (a task
    delivered twice does nothing the second time). Progress, then the counts
    and the first bad lines, are written on the job; a failure marks it
    failed and is raised."""
    if check:
        claimed = ImportJob.objects.filter(
            pk=job_id, status=ImportStatus.CHECKING, started_at__isnull=True
        ).update(started_at=timezone.now())
    else:
        claimed = ImportJob.objects.filter(pk=job_id, status=ImportStatus.QUEUED).update(
            status=ImportStatus.RUNNING, started_at=timezone.now()
        )
    if not claimed:
        return
    job = ImportJob.objects.get(pk=job_id)

    def progress(done: int) -> None:
        ImportJob.objects.filter(pk=job_id).update(rows_done=min(done, job.rows_total))

    report = ImportReport(on_progress=progress)
    try:
        with job.file.open("rb") as stream:
            import_file_run(
                kind=job.kind,
                stream=stream,
                actor=actor,
                dry_run=check,
                no_points=job.no_points,
                report=report,
                file_name=job.file_name,
            )
    except Exception:
        ImportJob.objects.filter(pk=job_id).update(
            status=ImportStatus.FAILED, finished_at=timezone.now()
        )
        raise
    fields = {
        "status": ImportStatus.CHECKED if check else ImportStatus.DONE,
        "rows_done": report.rows_done,
        "rows_total": max(job.rows_total, report.rows_done),
        "imported": report.imported,
        "skipped": report.skipped,
        "errors_count": report.errors,
        "errors": report.problems,
    }
    if check:
        fields |= {"checked_imported": report.imported, "checked_errors": report.errors}
    else:
        fields["finished_at"] = timezone.now()
    ImportJob.objects.filter(pk=job_id).update(**fields)
