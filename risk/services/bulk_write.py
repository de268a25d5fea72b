"""A drain's many rows written fast: here the ORM's bulk helpers cost more than the database.

Measured with bench/pipeline.py and py-spy: `Entity.objects.bulk_update` spent 35% of a drain
building CASE expressions and `LogEvent.objects.bulk_create` 39%, mostly adapting a Python array
per column; the database itself took a few percent. Plain parameterised statements (and COPY on
PostgreSQL) do the same writes for a fraction of that.
"""

from collections.abc import Iterable

from django.db import connection, models

from risk.models import Entity, LogEvent

ENTITY_RISK_FIELDS = ("risk_level", "risk_reason", "risk_updated_at", "risk_observed_at",
                      "risk_stream_ref")  # fmt: skip


def _concrete(model: type[models.Model], name: str) -> models.Field:  # type: ignore[type-arg]
    field = model._meta.get_field(name)
    assert isinstance(field, models.Field)  # noqa: S101 - a column of ours, by construction
    return field


def column_size(model: type[models.Model], name: str) -> int:  # type: ignore[type-arg]
    """The most characters `model.name` holds."""
    size = _concrete(model, name).max_length
    assert size is not None  # noqa: S101 - asked only of sized columns, by construction
    return size


def entities_risk_save(entities: Iterable[Entity]) -> None:
    """Write the risk fields of entities already locked by the caller (one statement each,
    sent together)."""
    fields = [_concrete(Entity, name) for name in ENTITY_RISK_FIELDS]
    assignments = ", ".join(f"{connection.ops.quote_name(f.column)} = %s" for f in fields)
    table = connection.ops.quote_name(Entity._meta.db_table)
    # Names from the model's own metadata, values as parameters.
    sql = f"UPDATE {table} SET {assignments} WHERE id = %s"  # noqa: S608
    rows = [
        [f.get_db_prep_save(getattr(entity, f.attname), connection) for f in fields] + [entity.pk]
        for entity in entities
    ]
    if rows:
        with connection.cursor() as cursor:
            cursor.executemany(sql, rows)


def log_events_insert(events: list[LogEvent]) -> None:
    """Insert System Log records: COPY on PostgreSQL, bulk_create elsewhere (make run's SQLite)."""
    if not events:
        return
    if connection.vendor != "postgresql":
        LogEvent.objects.bulk_create(events)
        return
    fields = [f for f in LogEvent._meta.concrete_fields if not f.primary_key]
    columns = ", ".join(connection.ops.quote_name(f.column) for f in fields)
    table = connection.ops.quote_name(LogEvent._meta.db_table)
    # Django's cursor wraps psycopg's, whose COPY takes rows of adapted values; errors become
    # Django's (IntegrityError...) as for any other query.
    with (
        connection.cursor() as cursor,
        connection.wrap_database_errors,
        cursor.cursor.copy(f"COPY {table} ({columns}) FROM STDIN") as copy,
    ):
        for event in events:
            copy.write_row(
                [f.get_db_prep_save(getattr(event, f.attname), connection) for f in fields]
            )
