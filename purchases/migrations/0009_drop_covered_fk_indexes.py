"""The purchase's store and member keys lose their single-column indexes: the
unique (store, reference) and the (member, occurred_at) indexes lead with
them. Only the indexes are dropped (an AlterField would drop and add the
foreign keys again, checking every row of the table)."""

import django.db.models.deletion
from django.conf import settings
from django.db import migrations, models

# Django's names for them (BaseDatabaseSchemaEditor._create_index_name), the
# same on PostgreSQL and SQLite.
INDEXES = {
    "purchases_purchase_member_id_bdee8a70": "member_id",
    "purchases_purchase_store_id_422955b5": "store_id",
    # Of every row, most of them NULL (a till's sale, an imported one): replaced
    # by purchase_recorded_by_idx, of the rows that have one.
    "purchases_purchase_recorded_by_id_40f84382": "recorded_by_id",
}


class Migration(migrations.Migration):
    dependencies = [
        ("loyalty", "0008_staff_store"),
        ("members", "0010_phones_e164"),
        ("purchases", "0008_rollups"),
    ]

    operations = [
        migrations.SeparateDatabaseAndState(
            database_operations=[
                migrations.RunSQL(
                    f"DROP INDEX IF EXISTS {name}",
                    reverse_sql=f"CREATE INDEX IF NOT EXISTS {name} ON purchases_purchase ({column})",
                )
                for name, column in INDEXES.items()
            ],
            state_operations=[
                migrations.AlterField(
                    model_name="purchase",
                    name="member",
                    field=models.ForeignKey(
                        blank=True,
                        db_index=False,
                        null=True,
                        on_delete=django.db.models.deletion.PROTECT,
                        related_name="purchases",
                        to="members.member",
                    ),
                ),
                migrations.AlterField(
                    model_name="purchase",
                    name="recorded_by",
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
                    model_name="purchase",
                    name="store",
                    field=models.ForeignKey(
                        db_index=False,
                        on_delete=django.db.models.deletion.PROTECT,
                        related_name="purchases",
                        to="loyalty.store",
                    ),
                ),
            ],
        ),
        migrations.AddIndex(
            model_name="purchase",
            index=models.Index(
                condition=models.Q(("recorded_by__isnull", False)),
                fields=["recorded_by"],
                name="purchase_recorded_by_idx",
            ),
        ),
    ]
