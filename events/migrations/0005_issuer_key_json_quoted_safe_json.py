import common.json_depth
from django.db import migrations, models


def fill_issuer_key(apps, schema_editor):
    """streams.discovery.normalize_issuer of each stored issuer (one UPDATE per issuer: few)."""
    SecurityEvent = apps.get_model("events", "SecurityEvent")
    issuers = SecurityEvent.objects.values_list("issuer", flat=True).distinct()
    for issuer in list(issuers):
        SecurityEvent.objects.filter(issuer=issuer).update(issuer_key=issuer.strip().rstrip("/"))


class Migration(migrations.Migration):

    dependencies = [
        ("events", "0004_security_event_issuer_jti"),
        ("streams", "0003_push_secret_grace"),
    ]

    operations = [
        migrations.AddField(
            model_name="securityevent",
            name="issuer_key",
            field=models.CharField(default="", max_length=700),
            preserve_default=False,
        ),
        migrations.RemoveIndex(
            model_name="securityevent",
            name="security_event_issuer_jti",
        ),
        migrations.AddIndex(
            model_name="securityevent",
            index=models.Index(fields=["issuer_key", "jti"], name="security_event_issuer_key_jti"),
        ),
        migrations.AddField(
            model_name="securityevent",
            name="body_json_quoted",
            field=models.BooleanField(default=False),
        ),
        migrations.AlterField(
            model_name="securityevent",
            name="claims",
            field=models.JSONField(decoder=common.json_depth.StoredJSONDecoder),
        ),
        migrations.AlterField(
            model_name="securityevent",
            name="header",
            field=models.JSONField(decoder=common.json_depth.StoredJSONDecoder),
        ),
        # Last: no schema change follows the rows' update in this transaction.
        migrations.RunPython(fill_issuer_key, migrations.RunPython.noop),
    ]
