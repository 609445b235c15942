"""Stored phones rewritten in E.164 as phonenumbers reads them (issue 11).

Before, a hand-written rule put '+60' before anything without a '+', and kept
a trunk zero after '+60' ('+60 012-345 6789' was stored '+600123456789').
Each stored phone is parsed in LOYALTY_REGION and, when phonenumbers finds it
valid, stored as its E.164. The migration never fails on data:

- a phone phonenumbers cannot parse or finds not valid is kept as it was
  (logged): staff see it on the member and correct it;
- when two members' phones become one number, the first keeps it: a phone
  already stored as that E.164, else the member enrolled first (lowest id);
  the other's phone is kept as it was (logged), so the unique constraint
  holds and staff can tell the two apart.

Reversing it changes nothing: the E.164 spellings are what the old rule read.
"""

from __future__ import annotations

import logging
from typing import Any

import phonenumbers
from django.conf import settings
from django.db import migrations

logger = logging.getLogger(__name__)


def phone_e164(phone: str, region: str) -> str | None:
    """The E.164 of a stored phone, or None when phonenumbers cannot read it
    as a valid number."""
    try:
        number = phonenumbers.parse(phone, region)
    except phonenumbers.NumberParseException:
        return None
    if not phonenumbers.is_valid_number(number):
        return None
    return phonenumbers.format_number(number, phonenumbers.PhoneNumberFormat.E164)


def phones_e164(apps: Any, schema_editor: Any) -> None:
    """Rewrites every stored phone that is not already its own E.164 (see the
    module's docstring for the ones kept as they were)."""
    Member = apps.get_model("members", "Member")
    region = settings.LOYALTY_REGION
    stored = list(Member.objects.exclude(phone=None).order_by("pk").values_list("pk", "phone"))
    # Every phone stored, and each one given: a new phone is none of them, so
    # no update (in whatever order the database makes it) meets the unique
    # constraint.
    holder = {phone: pk for pk, phone in stored}
    changed = []
    for pk, phone in stored:
        e164 = phone_e164(phone, region)
        if e164 is None:
            logger.warning("member %s: phone %r is not a valid number, kept as it was", pk, phone)
            continue
        if e164 == phone:
            continue
        if e164 in holder:
            logger.warning(
                "member %s: phone %r is %s, which member %s has; kept as it was",
                pk,
                phone,
                e164,
                holder[e164],
            )
            continue
        holder[e164] = pk
        changed.append(Member(pk=pk, phone=e164))
    Member.objects.bulk_update(changed, ["phone"], batch_size=500)
    if changed:
        logger.info("%s stored phones rewritten in E.164", len(changed))


class Migration(migrations.Migration):
    dependencies = [("members", "0009_notification_flag_and_consent_changes")]

    operations = [migrations.RunPython(phones_e164, migrations.RunPython.noop, elidable=True)]
