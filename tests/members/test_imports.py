"""The members import (API.md `import_members`): a dry run names every bad
line and writes nothing, the real run imports the rest, a second run
imports nothing new, and a row matching two members is an error."""

from __future__ import annotations

import io
from io import StringIO

import pytest
from django.core.management import call_command
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from loyalty.actors import Actor
from loyalty.imports import ImportReport, import_file_run
from loyalty.models import AuditEvent
from members.models import Member
from tests.factories import MemberFactory

pytestmark = pytest.mark.django_db

HEADER = (
    "email,phone,first_name,last_name,birth_date,language,marketing_consent,tags,"
    "external_id,joined_at\n"
)
BAD = {
    # line number in the file (the header is line 1) -> the row
    12: "not-an-email,,Bad,Email,,en,false,,,\n",
    50: "ok50@example.com,,Bad,Date,1990-02-30,en,false,,,\n",
    77: "ok77@example.com,,Bad,Language,,fr,false,,,\n",
}


def members_file(rows: int = 100, bad: dict[int, str] = BAD) -> bytes:
    lines = [HEADER]
    for line in range(2, rows + 2):
        lines.append(
            bad.get(line)
            or f"m{line}@example.com,0123{line:06d},First{line},Last,1990-01-01,ms,true,"
            f"vip;b2b,EXT{line},2024-03-01T09:00:00+08:00\n"
        )
    return "".join(lines).encode()


def run(data: bytes, *, dry_run: bool = False) -> ImportReport:
    return import_file_run(
        kind="members", stream=io.BytesIO(data), actor=Actor.system(), dry_run=dry_run
    )


def test_the_dry_run_names_the_three_bad_lines_and_writes_nothing(program):
    report = run(members_file(), dry_run=True)
    assert [p.split(":")[0] for p in report.problems] == ["line 12", "line 50", "line 77"]
    assert (report.imported, report.skipped, report.errors) == (97, 0, 3)
    assert not Member.objects.exists()


def test_the_run_imports_97_and_a_second_run_imports_nothing(program):
    first = run(members_file())
    assert (first.imported, first.skipped, first.errors) == (97, 0, 3)
    member = Member.objects.get(email="m2@example.com")
    assert member.phone == "+60123000002" and member.external_id == "EXT2"
    assert member.language == "ms" and member.marketing_consent and member.tags == ["b2b", "vip"]
    assert member.joined_at.isoformat() == "2024-03-01T01:00:00+00:00"
    assert AuditEvent.objects.filter(action="import.members", after__imported=97).exists()
    again = run(members_file())
    assert (again.imported, again.skipped, again.errors) == (0, 97, 3)
    assert Member.objects.count() == 97


def test_the_command_prints_each_bad_line_then_the_counts(program, tmp_path):
    path = tmp_path / "members.csv"
    path.write_bytes(b"\xef\xbb\xbf" + members_file(5, {3: ",,No,Contact,,en,false,,,\n"}))
    out = StringIO()
    call_command("import_members", str(path), "--dry-run", stdout=out)
    assert out.getvalue().splitlines() == [
        "line 3: give an email or a phone number",
        "imported 4, skipped 0, errors 1",
    ]


def test_a_row_matching_two_different_members_is_an_error(program):
    MemberFactory(user=None, email="ann@example.com")
    MemberFactory(user=None, email=None, phone="012-999 0000")
    data = (HEADER + "ANN@example.com,0129990000,Ann,,,en,false,,,\n").encode()
    report = run(data)
    assert report.errors == 1 and "matches 2 different members" in report.problems[0]
    assert Member.objects.count() == 2


def test_a_row_matching_one_member_by_external_id_is_skipped(program):
    MemberFactory(user=None, email="old@example.com", external_id="C-9")
    report = run((HEADER + "new@example.com,,New,,,en,false,,C-9,\n").encode())
    assert (report.imported, report.skipped) == (0, 1)
    assert not Member.objects.filter(email="new@example.com").exists()


def test_one_person_twice_in_a_file_is_told_alike_by_the_dry_run_and_the_run(program):
    data = (
        HEADER + "a@example.com,,A,,,en,false,,,\n" + "A@EXAMPLE.COM,,A2,,,en,false,,,\n"
    ).encode()
    dry, real = run(data, dry_run=True), run(data)
    assert (dry.imported, dry.skipped) == (real.imported, real.skipped) == (1, 1)


def test_imported_members_get_no_welcome_bonus(program):
    from campaigns.models import Campaign
    from tests.campaigns.factories import make_campaign

    make_campaign(kind="signup", params={"points": 100})
    assert Campaign.objects.filter(kind="signup").exists()
    run((HEADER + "w@example.com,,W,,,en,false,,,\n").encode())
    assert Member.objects.get(email="w@example.com").account.balance == 0


def test_a_header_with_an_unknown_column_is_refused(program):
    report = run(b"email,phone,nickname\na@example.com,,Al\n")
    assert report.problems == [
        "line 1: unknown column(s): nickname (the columns are: email, phone, first_name, "
        "last_name, birth_date, language, marketing_consent, tags, external_id, joined_at)"
    ]


rows = st.lists(
    st.tuples(st.integers(0, 6), st.sampled_from(["email", "phone", "both"])), max_size=12
)


@settings(
    max_examples=25, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture]
)
@given(rows=rows, cut=st.integers(0, 12))
def test_a_file_imported_in_two_parts_gives_what_one_run_gives(program, rows, cut):
    """However a file is cut in two, running both parts gives the members one run gives."""
    from django.db import transaction

    lines = []
    for person, how in rows:
        email = f"p{person}@example.com" if how in ("email", "both") else ""
        phone = f"0123{person:06d}" if how in ("phone", "both") else ""
        lines.append(f"{email},{phone},P{person},,,en,false,,,\n")

    def members_after(parts: list[list[str]]) -> list[tuple]:
        with transaction.atomic():
            for part in parts:
                run((HEADER + "".join(part)).encode())
            found = sorted(Member.objects.values_list("email", "phone", "first_name"), key=str)
            transaction.set_rollback(True)
        return found

    cut = min(cut, len(lines))
    assert members_after([lines]) == members_after([lines[:cut], lines[cut:]])


def test_a_phone_not_in_use_is_its_line_and_reason_and_foreign_numbers_keep_their_country(
    program, tmp_path
):
    path = tmp_path / "members.csv"
    path.write_text(
        HEADER
        + "sg@example.com,+65 9123 4567,Wei,,,en,false,,,\n"
        + "bad@example.com,9123 4567,Bad,Phone,,en,false,,,\n"
        + "id@example.com,+62 812-3456-7890,Putri,,,ms,false,,,\n"
        + "short@example.com,012-34,Short,,,en,false,,,\n"
    )
    out = StringIO()
    call_command("import_members", str(path), stdout=out)
    assert out.getvalue().splitlines() == [
        "line 3: phone is not a valid phone number (no number in use in Malaysia has these "
        "digits; for another country, start with + and its country code): “9123 4567”",
        "line 5: phone is not a valid phone number (it is too short): “012-34”",
        "imported 2, skipped 0, errors 2",
    ]
    assert sorted(Member.objects.values_list("phone", flat=True)) == [
        "+6281234567890",
        "+6591234567",
    ]
