"""Each list's member counts, stored and kept exact by database triggers.

On SQLite the AddFields re-create audiences_clientlist; the triggers are installed
after them (and must be again by any later migration that re-creates either table:
see apps.audiences.counters)."""

from django.db import migrations, models


def install(apps, schema_editor):
    from apps.audiences import counters

    counters.install(schema_editor)  # also counts the existing members


def uninstall(apps, schema_editor):
    from apps.audiences import counters

    counters.uninstall(schema_editor)


class Migration(migrations.Migration):

    dependencies = [
        ('audiences', '0002_suppression_email_idx'),
    ]

    operations = [
        migrations.AddField(
            model_name='clientlist',
            name='subscriber_count',
            field=models.PositiveIntegerField(default=0, editable=False, verbose_name='subscribers'),
        ),
        migrations.AddField(
            model_name='clientlist',
            name='unconfirmed_count',
            field=models.PositiveIntegerField(default=0, editable=False, verbose_name='unconfirmed'),
        ),
        migrations.RunPython(install, uninstall),
    ]
