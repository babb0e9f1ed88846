# Written by hand (the import's preview step): a job waits for the person's check of
# its columns, keeps how its file is read, the list it fills and how many of its
# addresses were suppressed.

import django.db.models.deletion
from django.db import migrations, models


class Migration(migrations.Migration):
    dependencies = [
        ("audiences", "0001_initial"),
        ("mailings", "0008_audiences"),
    ]

    operations = [
        migrations.AddField(
            model_name="clientimport",
            name="suppressed_count",
            field=models.PositiveIntegerField(default=0, verbose_name="suppressed"),
        ),
        migrations.AddField(
            model_name="clientimport",
            name="options",
            field=models.JSONField(
                blank=True, default=dict, verbose_name="reading options"
            ),
        ),
        migrations.AddField(
            model_name="clientimport",
            name="client_list",
            field=models.ForeignKey(
                blank=True,
                null=True,
                on_delete=django.db.models.deletion.SET_NULL,
                related_name="+",
                to="audiences.clientlist",
                verbose_name="list",
            ),
        ),
        migrations.AlterField(
            model_name="clientimport",
            name="status",
            field=models.CharField(
                choices=[
                    ("preview", "Waiting for your check"),
                    ("queued", "Waiting to start"),
                    ("checking", "Checking the file"),
                    ("importing", "Importing"),
                    ("done", "Done"),
                    ("failed", "Not imported"),
                ],
                default="queued",
                max_length=10,
                verbose_name="status",
            ),
        ),
    ]
