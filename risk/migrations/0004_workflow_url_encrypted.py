"""Workflow URLs are kept encrypted (their path often is the secret); only the origin stays
readable. Existing URLs are encrypted in place; going back decrypts them."""

from django.db import migrations, models

from common.crypto import decrypt, encrypt
from streams.fetch import url_origin


def encrypt_urls(apps, schema_editor):
    Workflow = apps.get_model("risk", "Workflow")
    for workflow in Workflow.objects.all():
        workflow.encrypted_url = encrypt(workflow.url)
        workflow.url_origin = url_origin(workflow.url)
        workflow.save(update_fields=["encrypted_url", "url_origin"])


def decrypt_urls(apps, schema_editor):
    Workflow = apps.get_model("risk", "Workflow")
    for workflow in Workflow.objects.all():
        workflow.url = decrypt(workflow.encrypted_url)
        workflow.save(update_fields=["url"])


class Migration(migrations.Migration):
    dependencies = [("risk", "0003_policy_action_claimed_until")]

    operations = [
        migrations.AddField(
            model_name="workflow", name="encrypted_url", field=models.TextField(default="")
        ),
        migrations.AddField(
            model_name="workflow",
            name="url_origin",
            field=models.CharField(default="", max_length=300),
        ),
        migrations.AlterField(
            model_name="workflow", name="url", field=models.CharField(max_length=1000, default="")
        ),
        migrations.RunPython(encrypt_urls, decrypt_urls),
        migrations.RemoveField(model_name="workflow", name="url"),
        migrations.AlterField(
            model_name="workflow", name="encrypted_url", field=models.TextField()
        ),
        migrations.AlterField(
            model_name="workflow", name="url_origin", field=models.CharField(max_length=300)
        ),
    ]
