"""Bahasa Melayu is complete for every string the code and templates use."""

from __future__ import annotations

import shutil
import subprocess
import sys
from pathlib import Path

import polib
import pytest

from tests.conftest import need

ROOT = Path(__file__).resolve().parents[2]
CATALOGUE = ROOT / "locale" / "ms" / "LC_MESSAGES" / "django.po"


def test_every_malay_entry_is_translated_and_none_is_fuzzy():
    catalogue = polib.pofile(str(CATALOGUE))
    assert catalogue.untranslated_entries() == []
    assert catalogue.fuzzy_entries() == []
    assert catalogue.percent_translated() == 100


def test_the_catalogue_holds_every_string_of_the_sources(tmp_path):
    """makemessages on a copy of the tree finds nothing the catalogue lacks."""
    if not shutil.which("xgettext"):
        need("GNU gettext (xgettext) is needed to extract strings")
    copy = tmp_path / "src"
    shutil.copytree(
        ROOT,
        copy,
        ignore=shutil.ignore_patterns(
            ".venv", ".git", "var", "staticfiles", "media", "node_modules"
        ),
    )
    subprocess.run(
        [
            sys.executable,
            "manage.py",
            "makemessages",
            "-l",
            "ms",
            "--no-obsolete",
            "--ignore=tests",
            "--ignore=benchmarks",
            "-v",
            "0",
        ],
        cwd=copy,
        check=True,
        timeout=120,
    )
    fresh = {e.msgid for e in polib.pofile(str(copy / "locale/ms/LC_MESSAGES/django.po"))}
    ours = {e.msgid for e in polib.pofile(str(CATALOGUE))}
    assert fresh - ours == set(), "run `make makemessages` and translate the new strings"


@pytest.mark.django_db
def test_pages_render_in_malay(client):
    client.cookies["django_language"] = "ms"
    page = client.get("/").content.decode()
    assert 'lang="ms"' in page
    assert "Sertai secara percuma" in page


def test_the_allauth_catalogue_is_complete():
    catalogue = polib.pofile(str(ROOT / "locale" / "allauth" / "ms" / "LC_MESSAGES" / "django.po"))
    assert len(catalogue) > 100
    assert catalogue.untranslated_entries() == [] and catalogue.fuzzy_entries() == []


@pytest.mark.django_db
def test_the_sign_in_and_sign_up_pages_speak_malay(client, roles):
    client.cookies["django_language"] = "ms"
    login = client.get("/accounts/login/").content.decode()
    assert "Log Masuk" in login and "Kata laluan" in login and "Terlupa kata laluan?" in login
    signup = client.get("/accounts/signup/").content.decode()
    assert "Kata laluan (sekali lagi)" in signup and ">Daftar<" in signup.replace("\n", "").replace(
        " ", ""
    )
