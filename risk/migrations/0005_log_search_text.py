"""The System Log's search words (risk.log_search), backfilled in batches, and their index.

Not atomic, so that each backfill batch commits on its own (no transaction holds a million
rows' locks) and the trigram index is built CONCURRENTLY, without blocking inserts. A rerun
fills only the rows still empty. PostgreSQL only for the extension and the index: SQLite
(make run) searches the column without an index.
"""

from django.contrib.postgres.operations import TrigramExtension
from django.db import migrations, models, transaction

from risk.log_search import log_search_text

BATCH = 5000
INDEX = "log_search_trgm"


def backfill(apps, schema_editor):
    LogEvent = apps.get_model("risk", "LogEvent")
    connection = schema_editor.connection
    last = 0
    while True:
        with transaction.atomic(using=connection.alias):
            rows = list(
                LogEvent.objects.using(connection.alias)
                .filter(pk__gt=last, search_text="")
                .order_by("pk")
                .values_list("pk", "event_type", "display_message", "outcome_reason", "actor",
                             "target")[:BATCH]
            )  # fmt: skip
            if not rows:
                return
            updates = [
                (log_search_text(event_type=event_type, display_message=message,
                                 outcome_reason=reason, actor=actor, target=target), pk)
                for pk, event_type, message, reason, actor, target in rows
            ]  # fmt: skip
            with connection.cursor() as cursor:
                cursor.executemany(
                    "UPDATE risk_logevent SET search_text = %s WHERE id = %s", updates
                )
        last = rows[-1][0]


def index_create(apps, schema_editor):
    if schema_editor.connection.vendor == "postgresql":
        schema_editor.execute(
            f"CREATE INDEX CONCURRENTLY IF NOT EXISTS {INDEX} ON risk_logevent "
            "USING gin (search_text gin_trgm_ops)"
        )


def index_drop(apps, schema_editor):
    if schema_editor.connection.vendor == "postgresql":
        schema_editor.execute(f"DROP INDEX CONCURRENTLY IF EXISTS {INDEX}")


class Migration(migrations.Migration):
    atomic = False

    dependencies = [("risk", "0004_detections")]

    operations = [
        migrations.AddField(
            model_name="logevent",
            name="search_text",
            field=models.TextField(blank=True, default="", editable=False),
        ),
        migrations.RunPython(backfill, migrations.RunPython.noop, elidable=True),
        TrigramExtension(),
        migrations.RunPython(index_create, index_drop),
    ]
