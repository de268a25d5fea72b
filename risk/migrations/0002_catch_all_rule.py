from django.db import migrations


def create_catch_all_rule(apps, schema_editor):
    PolicyRule = apps.get_model("risk", "PolicyRule")
    PolicyRule.objects.get_or_create(
        is_catch_all=True,
        defaults={"name": "Catch-all rule", "priority": 2**31 - 1, "active": True},
    )


def delete_catch_all_rule(apps, schema_editor):
    apps.get_model("risk", "PolicyRule").objects.filter(is_catch_all=True).delete()


class Migration(migrations.Migration):
    dependencies = [("risk", "0001_initial")]

    operations = [migrations.RunPython(create_catch_all_rule, delete_catch_all_rule)]
