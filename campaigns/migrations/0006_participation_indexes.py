# The participations lose their single-column foreign-key indexes: the unique
# (challenge, member) and (member, status) cover both look-ups, and a sale that
# inserts a participation writes two indexes fewer (issue 12, speed).

import django.db.models.deletion
from django.db import migrations, models


class Migration(migrations.Migration):

    dependencies = [
        ('campaigns', '0005_challenges'),
        ('members', '0010_phones_e164'),
    ]

    operations = [
        migrations.AlterField(
            model_name='challengeparticipation',
            name='challenge',
            field=models.ForeignKey(db_index=False, on_delete=django.db.models.deletion.CASCADE, related_name='participations', to='campaigns.challenge'),
        ),
        migrations.AlterField(
            model_name='challengeparticipation',
            name='member',
            field=models.ForeignKey(db_index=False, on_delete=django.db.models.deletion.CASCADE, related_name='challenge_participations', to='members.member'),
        ),
    ]
