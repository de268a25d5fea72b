"""Okta's user lifecycle on entities: status, activated, statusChanged, lastUpdated."""

import django.utils.timezone
from django.db import migrations, models


def existing_entities_are_active_since_created(apps, schema_editor):
    Entity = apps.get_model("risk", "Entity")
    Entity.objects.update(
        activated_at=models.F("created_at"), updated_at=models.F("created_at")
    )


class Migration(migrations.Migration):
    dependencies = [("risk", "0004_workflow_url_encrypted")]

    operations = [
        migrations.AddField(
            model_name="entity",
            name="status",
            field=models.CharField(
                choices=[("STAGED", "Staged"), ("ACTIVE", "Active"),
                         ("DEPROVISIONED", "Deactivated")],
                default="ACTIVE",
                max_length=16,
            ),
        ),
        migrations.AddField(
            model_name="entity",
            name="activated_at",
            field=models.DateTimeField(blank=True, null=True),
        ),
        migrations.AddField(
            model_name="entity",
            name="status_changed_at",
            field=models.DateTimeField(blank=True, null=True),
        ),
        migrations.AddField(
            model_name="entity",
            name="updated_at",
            field=models.DateTimeField(default=django.utils.timezone.now),
        ),
        migrations.RunPython(
            existing_entities_are_active_since_created, migrations.RunPython.noop
        ),
    ]
