"""CSV in and out, in one place: every export writes through `csv_lines` (so
no cell reaches a spreadsheet as a formula) and every import reads through
`csv_records` (UTF-8 with or without a byte-order mark, one row at a time).

Formula injection (OWASP, "CSV Injection"): a spreadsheet runs a cell that
starts with `=`, `+`, `-` or `@` as a formula, and a tab or carriage return
in front of one hides it. `csv_safe` puts an apostrophe before such a cell,
which spreadsheets show as text and do not print. Every cell of every export
gets it, ours or typed by someone (a phone "+60…" comes out as "'+60…"):
one rule with no column forgotten. The one exception is a cell given as a
number (an int or a Decimal, not text): its text is a plain number such as
"-5", which a spreadsheet reads as that number and can never run, so it is
written as it is (a points debit stays -5, not '-5). The importers take the
apostrophe off again (`csv_unescape`), so an export reads back as it was.
"""

from __future__ import annotations

import codecs
import csv
from collections.abc import Iterable, Iterator
from decimal import Decimal
from typing import IO, Any, NamedTuple

from django.http import StreamingHttpResponse
from django.utils.translation import gettext as _

FORMULA_STARTS = ("=", "+", "-", "@", "\t", "\r")


def csv_safe(value: Any) -> str:
    """The cell's text, with a leading apostrophe when a spreadsheet would run
    it as a formula. None is the empty cell; a number (int or Decimal, not a
    bool) is its plain text, a negative one too."""
    kind = type(value)
    if kind is str:
        return "'" + value if value.startswith(FORMULA_STARTS) else value
    if kind is int or (kind is Decimal and value.is_finite()):
        return str(value)
    if value is None:
        return ""
    text = str(value)
    return "'" + text if text.startswith(FORMULA_STARTS) else text


def csv_unescape(text: str) -> str:
    """The cell `csv_safe` was given: a leading apostrophe before a formula
    character is taken off; anything else is left as it is."""
    if text.startswith("'") and text[1:].startswith(FORMULA_STARTS):
        return text[1:]
    return text


class _Echo:
    """csv.writer's file: each row written comes back as its text."""

    def write(self, value: str) -> str:
        return value


CSV_BLOCK_ROWS = 500


def csv_lines(rows: Iterable[Iterable[Any]]) -> Iterator[str]:
    """The rows as CSV lines, every cell through `csv_safe`, in blocks of up
    to CSV_BLOCK_ROWS lines (a download writes to the client once a block,
    not once a row): a generator, so an export of any size streams in
    constant memory."""
    writer = csv.writer(_Echo())
    block: list[str] = []
    for row in rows:
        block.append(writer.writerow(list(map(csv_safe, row))))
        if len(block) == CSV_BLOCK_ROWS:
            yield "".join(block)
            block = []
    if block:
        yield "".join(block)


def csv_download(rows: Iterable[Iterable[Any]], *, filename: str) -> StreamingHttpResponse:
    """A streamed CSV download of `rows` (a header row first, by convention)."""
    response = StreamingHttpResponse(csv_lines(rows), content_type="text/csv; charset=utf-8")
    response["Content-Disposition"] = f'attachment; filename="{filename}"'
    return response


# --- Reading --------------------------------------------------------------------------------


class CsvFileError(Exception):
    """The file cannot be read on (not UTF-8, a broken quote): `line` is where."""

    def __init__(self, line: int, reason: str) -> None:
        super().__init__(f"line {line}: {reason}")
        self.line = line
        self.reason = reason


class CsvRecord(NamedTuple):
    """One data row: the line it starts on (the header is line 1), its cells
    by column name (stripped, apostrophe-escaping undone), the cells beyond
    the header's columns (a row too long), and `plain`: its lines are ASCII
    without a NUL, so every cell is text any column stores (an importer need
    not test them one by one, loyalty.imports.cells_text_check). A named
    tuple: an import makes one a row, and it is the cheapest record Python
    builds."""

    line: int
    cells: dict[str, str]
    extra: int = 0
    plain: bool = False


def csv_header(names: list[str]) -> list[str]:
    """Column names as compared: stripped and lower case."""
    return [name.strip().lower() for name in names]


def csv_records(stream: IO[bytes]) -> tuple[list[str], Iterator[CsvRecord]]:
    """The header and the data rows of a CSV file given as bytes, decoded as
    UTF-8 line by line (a byte-order mark at the start is dropped), read row
    by row, never the whole file at once. Blank lines are skipped. Raises
    CsvFileError, naming the line (at once for the header, while iterating
    for the rows), when a line is not UTF-8 or a quoted cell never ends."""
    lines = _Lines(stream)
    reader = csv.reader(lines, strict=True)
    try:
        header = next(reader, None)
    except (UnicodeDecodeError, csv.Error) as exc:
        raise CsvFileError(lines.number, _read_reason(exc)) from exc
    if header is None:
        return [], iter(())
    names = csv_header(header)
    return names, _rows(reader, names, lines)


class _Lines:
    """The stream's lines as text, counted (the physical line last read).
    `apostrophe` tells whether a line read since it was last reset holds an
    apostrophe, `plain` whether they were all ASCII without a NUL: the csv
    reader reads only the lines of the row it returns, so these say it of
    the row (one test a line rather than one a cell)."""

    def __init__(self, stream: IO[bytes]) -> None:
        self.stream, self.number, self.apostrophe, self.plain = stream, 0, False, True

    def __iter__(self) -> Iterator[str]:
        for raw in self.stream:
            self.number += 1
            text = raw.decode("utf-8")
            if self.number == 1 and text.startswith("\ufeff"):
                text = text[1:]
            if "'" in text:
                self.apostrophe = True
            if "\x00" in text or not text.isascii():
                self.plain = False
            yield text


def _read_reason(exc: Exception) -> str:
    if isinstance(exc, UnicodeDecodeError):
        return _("this line is not UTF-8 text; save the file as CSV UTF-8")
    return _("the CSV cannot be read here (%(error)s)") % {"error": exc}


def _rows(reader: Any, names: list[str], lines: _Lines) -> Iterator[CsvRecord]:
    ended, width = lines.number, len(names)
    lines.apostrophe, lines.plain = False, True  # the header's
    while True:
        start = ended + 1
        try:
            row = next(reader)
        except StopIteration:
            return
        except (UnicodeDecodeError, csv.Error) as exc:
            raise CsvFileError(lines.number, _read_reason(exc)) from exc
        ended = lines.number
        stripped = list(map(str.strip, row))
        plain, lines.plain = lines.plain, True
        if not any(stripped):
            lines.apostrophe = False
            continue
        if lines.apostrophe:
            stripped = list(map(csv_unescape, stripped))
            lines.apostrophe = False
        extra = len(row) - width
        yield CsvRecord(
            start, dict(zip(names, stripped, strict=False)), extra if extra > 0 else 0, plain
        )


def csv_count_rows(stream: IO[bytes]) -> int:
    """How many data rows a file has (for a progress bar), read in chunks:
    the lines after the header, blank ones and quoted line breaks included,
    so it is an upper bound. 0 for an empty file."""
    decoder = codecs.getincrementaldecoder("utf-8")(errors="replace")
    newlines, last = 0, ""
    while chunk := stream.read(1 << 20):
        text = decoder.decode(chunk)
        newlines += text.count("\n")
        last = text[-1:] or last
    if not last:
        return 0
    lines = newlines + (0 if last == "\n" else 1)
    return max(0, lines - 1)
