"""The database cache table, made by `migrate` itself.

With the default cache (`CACHE_URL` empty: Django's database cache) allauth's
rate limits and the API throttles read and write the `setia_cache` table on
every request; `migrate` alone used to leave it missing, and every API call
answered 500 until someone ran `createcachetable`. Nothing happens when the
cache is Redis, or when the table already exists (a database set up before this
migration), so the step is safe to run anywhere and again.
"""

from django.conf import settings
from django.core.management import call_command
from django.db import migrations

DATABASE_CACHE = "django.core.cache.backends.db.DatabaseCache"


def create_cache_table(apps, schema_editor):
    if any(cache["BACKEND"] == DATABASE_CACHE for cache in settings.CACHES.values()):
        # createcachetable makes only the missing tables, of database caches only.
        call_command("createcachetable", database=schema_editor.connection.alias, verbosity=0)


class Migration(migrations.Migration):
    dependencies = [("loyalty", "0002_staff_roles")]

    operations = [migrations.RunPython(create_cache_table, migrations.RunPython.noop)]
