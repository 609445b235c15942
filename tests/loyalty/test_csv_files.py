"""The shared CSV helpers: every export cell that a spreadsheet would run is
escaped (OWASP's rule), and the reader takes UTF-8 with or without a BOM,
numbering rows by the line they start on."""

from __future__ import annotations

import io
from decimal import Decimal

import pytest

from loyalty.csv_files import (
    CsvFileError,
    csv_count_rows,
    csv_lines,
    csv_records,
    csv_safe,
    csv_unescape,
)


@pytest.mark.parametrize("start", ["=", "+", "-", "@", "\t", "\r"])
def test_a_cell_starting_like_a_formula_gets_an_apostrophe(start):
    assert csv_safe(start + "SUM(A1)") == "'" + start + "SUM(A1)"
    assert csv_unescape(csv_safe(start + "SUM(A1)")) == start + "SUM(A1)"


def test_other_cells_are_left_alone():
    assert csv_safe("Ann") == "Ann" and csv_safe(None) == "" and csv_safe(12) == "12"


def test_a_number_is_written_plain_even_negative_but_the_same_text_is_escaped():
    """A number's text is never a formula: -5 points stay -5; the text "-5" is
    escaped, since text may be anything typed."""
    assert csv_safe(-5) == "-5" and csv_safe(Decimal("-12.50")) == "-12.50"
    assert csv_safe(0) == "0" and csv_safe(Decimal("0.00")) == "0.00"
    assert csv_safe("-5") == "'-5" and csv_safe(True) == "True"
    assert csv_unescape("'quoted") == "'quoted"


def test_every_cell_of_every_line_goes_through_the_escaping():
    text = "".join(csv_lines([["name", "phone"], ['=HYPERLINK("http://x","y")', "+60123"]]))
    assert text == 'name,phone\r\n"\'=HYPERLINK(""http://x"",""y"")",\'+60123\r\n'


@pytest.mark.parametrize("bom", [b"", b"\xef\xbb\xbf"])
def test_records_read_utf8_with_or_without_a_bom(bom):
    data = (
        bom + 'Email,First_Name\r\nann@x.com,Ánn\r\n\r\n"b@x.com","Bo\nb"\r\nc@x.com,C\r\n'.encode()
    )
    names, records = csv_records(io.BytesIO(data))
    rows = list(records)
    assert names == ["email", "first_name"]
    assert [(r.line, r.cells["first_name"]) for r in rows] == [(2, "Ánn"), (4, "Bo\nb"), (6, "C")]


def test_bytes_that_are_not_utf8_name_their_line():
    _names, records = csv_records(io.BytesIO(b"email\nann@x.com\n\xff\xfe\n"))
    with pytest.raises(CsvFileError) as raised:
        list(records)
    assert raised.value.line == 3


def test_rows_are_counted_without_reading_the_file_whole():
    assert csv_count_rows(io.BytesIO(b"a,b\n1,2\n3,4")) == 2
    assert csv_count_rows(io.BytesIO(b"")) == 0


def test_a_record_is_plain_only_when_its_lines_are_ascii_without_nul():
    data = 'a,b\r\nann,1\r\n"Án\nn",2\r\nx\x00,3\r\n\'=1,4\r\n'.encode()
    _names, records = csv_records(io.BytesIO(data))
    rows = list(records)
    assert [(r.line, r.plain) for r in rows] == [(2, True), (3, False), (5, False), (6, True)]
    assert rows[3].cells == {"a": "=1", "b": "4"}
