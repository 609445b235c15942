"""Indexes that others cover, dropped: every one is a write for each points
entry and activity row, and for each lot a debit or the expiry job empties.

- the entry's and the activity's member key alone: `entry_member_time_idx`
  and `activity_member_time_idx` lead with it;
- the entry's `created_by` index of every row, most of them NULL (a till's
  or a job's entry): replaced by `entry_created_by_idx`, of the rows that
  have one (what a staff user's deletion looks up);
- the pattern index PostgreSQL gets for the unique `idempotency_key`
  (`…_like`, for LIKE 'prefix%'): the only such lookups ask for "purchase:",
  the prefix of most keys, which no index narrows.

Only the indexes go (an AlterField would drop and re-add the foreign keys,
checking every row). The names are Django's (the same on SQLite, which has
no `_like` index: IF EXISTS)."""

import django.db.models.deletion
from django.conf import settings
from django.db import migrations, models

INDEXES = {
    "members_pointsentry_member_id_008ad3ec": ("members_pointsentry", "member_id"),
    "members_memberactivity_member_id_56c2be14": ("members_memberactivity", "member_id"),
    "members_pointsentry_created_by_id_c8d997ba": ("members_pointsentry", "created_by_id"),
    "members_pointsentry_idempotency_key_1ea8d3fc_like": (
        "members_pointsentry",
        "idempotency_key varchar_pattern_ops",
    ),
}


def _drop(apps, schema_editor):
    for name in INDEXES:
        schema_editor.execute(f"DROP INDEX IF EXISTS {name}")


def _create(apps, schema_editor):
    for name, (table, column) in INDEXES.items():
        if name.endswith("_like") and schema_editor.connection.vendor != "postgresql":
            continue
        schema_editor.execute(f"CREATE INDEX IF NOT EXISTS {name} ON {table} ({column})")


class Migration(migrations.Migration):
    dependencies = [
        ("members", "0010_phones_e164"),
        migrations.swappable_dependency(settings.AUTH_USER_MODEL),
    ]

    operations = [
        migrations.SeparateDatabaseAndState(
            database_operations=[migrations.RunPython(_drop, _create)],
            state_operations=[
                migrations.AlterField(
                    model_name="pointsentry",
                    name="member",
                    field=models.ForeignKey(
                        db_index=False,
                        on_delete=django.db.models.deletion.PROTECT,
                        related_name="entries",
                        to="members.member",
                    ),
                ),
                migrations.AlterField(
                    model_name="pointsentry",
                    name="created_by",
                    field=models.ForeignKey(
                        blank=True,
                        db_index=False,
                        null=True,
                        on_delete=django.db.models.deletion.SET_NULL,
                        related_name="+",
                        to=settings.AUTH_USER_MODEL,
                    ),
                ),
                migrations.AlterField(
                    model_name="memberactivity",
                    name="member",
                    field=models.ForeignKey(
                        db_index=False,
                        on_delete=django.db.models.deletion.CASCADE,
                        related_name="activity",
                        to="members.member",
                    ),
                ),
            ],
        ),
        migrations.AddIndex(
            model_name="pointsentry",
            index=models.Index(
                condition=models.Q(("created_by__isnull", False)),
                fields=["created_by"],
                name="entry_created_by_idx",
            ),
        ),
    ]
