"""members/0010_phones_e164: stored phones rewritten in E.164; a phone that
is not a valid number is kept as it was; of two spellings of one number the
first keeps it (one already in E.164, else the lowest id) and the other is
kept as it was; the migration never fails on data."""

from __future__ import annotations

import logging
from importlib import import_module

import pytest
from django.apps import apps

from members.models import Member
from tests.factories import MemberFactory

migration = import_module("members.migrations.0010_phones_e164")

pytestmark = pytest.mark.django_db


def stored(**phones: str) -> dict[str, Member]:
    """Members whose phone column holds what is given, as an older version
    (or a hand edit) wrote it: written past the services' normalisation."""
    members = {}
    for name, phone in phones.items():
        member = MemberFactory(user=None, email=f"{name}@example.com")
        Member.objects.filter(pk=member.pk).update(phone=phone)
        members[name] = member
    return members


def phones(members: dict[str, Member]) -> dict[str, str | None]:
    return {
        name: Member.objects.values_list("phone", flat=True).get(pk=member.pk)
        for name, member in members.items()
    }


def test_old_spellings_become_e164_and_what_is_already_e164_stays(program):
    members = stored(
        trunk_zero="+600123456789",  # '+60 012-345 6789' under the old rule
        local="012-555 0101",
        no_plus="60132223344",
        singapore="+6591234567",
        indonesia="+62 812-3456-7890",
        done="+60198887777",
    )
    migration.phones_e164(apps, None)
    assert phones(members) == {
        "trunk_zero": "+60123456789",
        "local": "+60125550101",
        "no_plus": "+60132223344",
        "singapore": "+6591234567",
        "indonesia": "+6281234567890",
        "done": "+60198887777",
    }


def test_junk_is_kept_as_it_was_and_logged(program, caplog):
    members = stored(
        mangled="+606591234567",  # '65 9123 4567' read as Malaysian by the old rule
        junk="call me",
        short="+6012",
        fine="012-345 6789",
    )
    with caplog.at_level(logging.WARNING, logger=migration.__name__):
        migration.phones_e164(apps, None)
    assert phones(members) == {
        "mangled": "+606591234567",
        "junk": "call me",
        "short": "+6012",
        "fine": "+60123456789",
    }
    assert len([r for r in caplog.records if "not a valid number" in r.getMessage()]) == 3


def test_two_spellings_of_one_number_keep_it_for_the_first_and_leave_the_other(program, caplog):
    members = stored(
        first="+600129998888",
        second="0129998888",
        legacy="+600135550101",
        holder="+60135550101",  # already E.164: it keeps the number though enrolled later
    )
    with caplog.at_level(logging.WARNING, logger=migration.__name__):
        migration.phones_e164(apps, None)
    assert phones(members) == {
        "first": "+60129998888",
        "second": "0129998888",
        "legacy": "+600135550101",
        "holder": "+60135550101",
    }
    logged = [r.getMessage() for r in caplog.records]
    assert sum("which member" in message for message in logged) == 2
    migration.phones_e164(apps, None)  # run again: nothing moves, nothing fails
    assert phones(members)["second"] == "0129998888"


def test_the_region_reads_local_forms(program, settings):
    settings.LOYALTY_REGION = "SG"
    members = stored(local="9123 4567", malaysian="+60 12-345 6789")
    migration.phones_e164(apps, None)
    assert phones(members) == {"local": "+6591234567", "malaysian": "+60123456789"}
