# The analytics app's first migration: no tables yet. Roll-ups, surveys and
# predictions each add theirs after it.
from django.db import migrations


class Migration(migrations.Migration):
    initial = True

    dependencies = []

    operations = []
