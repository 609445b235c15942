"""The managers' import pages and the members export: upload, dry run with
its bad lines, the real run as a task with its counts; managers only,
audited; exported cells never run as formulas."""

from __future__ import annotations

import csv
import io

import pytest
from django.core.files.uploadedfile import SimpleUploadedFile
from django.urls import reverse

from loyalty.models import AuditEvent, ImportJob, ImportStatus
from members.models import Member
from tests.factories import MemberFactory
from tests.members.test_imports import members_file

pytestmark = pytest.mark.django_db


@pytest.fixture
def manager_client(client, manager, settings, tmp_path):
    settings.MEDIA_ROOT = tmp_path
    client.force_login(manager)
    return client


def test_a_manager_uploads_sees_the_bad_lines_then_imports(
    manager_client, program, django_capture_on_commit_callbacks
):
    upload = SimpleUploadedFile("members.csv", members_file(), content_type="text/csv")
    with django_capture_on_commit_callbacks(execute=True):
        response = manager_client.post(
            reverse("staff:import_list"), {"kind": "members", "file": upload}
        )
    job = ImportJob.objects.get()
    assert response.status_code == 302 and job.status == ImportStatus.CHECKED
    assert not Member.objects.exists()
    page = manager_client.get(reverse("staff:import_detail", args=[job.pk])).content.decode()
    assert "line 12:" in page and "line 50:" in page and "line 77:" in page
    assert "Import 97 rows" in page
    with django_capture_on_commit_callbacks(execute=True):
        manager_client.post(reverse("staff:import_start", args=[job.pk]))
    job.refresh_from_db()
    assert (job.status, job.imported, job.errors_count) == (ImportStatus.DONE, 97, 3)
    assert Member.objects.count() == 97
    page = manager_client.get(reverse("staff:import_detail", args=[job.pk])).content.decode()
    assert "imported 97, skipped 0, errors 3" in page
    status = manager_client.get(reverse("staff:import_status", args=[job.pk])).json()
    assert status["finished"] and status["percent"] == 100
    actions = set(AuditEvent.objects.values_list("action", flat=True))
    assert {"import.upload", "import.start", "import.members"} <= actions
    # A second start of the same job is refused: nothing runs twice.
    response = manager_client.post(reverse("staff:import_start", args=[job.pk]), follow=True)
    assert "not waiting to be imported" in response.content.decode()


def test_the_pages_are_for_managers_only(client, marketer):
    client.force_login(marketer)
    assert client.get(reverse("staff:import_list")).status_code == 403
    assert client.get(reverse("staff:member_export")).status_code == 403


def test_the_members_export_escapes_a_name_that_is_a_formula(manager_client, program):
    MemberFactory(user=None, email="x@example.com", first_name='=HYPERLINK("http://x","y")')
    response = manager_client.get(reverse("staff:member_export"))
    assert response["Content-Type"].startswith("text/csv")
    rows = list(csv.reader(io.StringIO(b"".join(response.streaming_content).decode())))
    assert rows[0][:4] == ["member_id", "card_number", "external_id", "first_name"]
    assert rows[1][3] == '\'=HYPERLINK("http://x","y")'
    assert AuditEvent.objects.get(action="member.export").after == {
        "filters": {},
        "store": None,
        "rows": 1,
    }


def test_the_members_export_writes_numbers_plain_and_times_in_the_programs_zone(
    manager_client, program
):
    """A balance of 0 is "0", never blank; joined_at is ISO 8601 at +08:00."""
    MemberFactory(user=None, email="zero@example.com", phone="+60123456789")
    response = manager_client.get(reverse("staff:member_export"))
    rows = list(csv.reader(io.StringIO(b"".join(response.streaming_content).decode())))
    member = dict(zip(rows[0], rows[1], strict=True))
    assert member["points_balance"] == "0" and member["phone"] == "'+60123456789"
    assert member["joined_at"].endswith("+08:00") and member["marketing_consent"] == "false"
