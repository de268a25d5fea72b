"""A drain's many rows written fast: here the ORM's bulk helpers cost more than the database.

Measured with bench/pipeline.py and py-spy: `Entity.objects.bulk_update` spent 35% of a drain
building CASE expressions and `LogEvent.objects.bulk_create` 39%, mostly adapting a Python array
per column; the database itself took a few percent. Plain parameterised statements (and COPY on
PostgreSQL) do the same writes for a fraction of that.
"""

from collections.abc import Iterable, Sequence

from django.db import connection, models


def _concrete(model: type[models.Model], name: str) -> models.Field:  # type: ignore[type-arg]
    field = model._meta.get_field(name)
    assert isinstance(field, models.Field)  # noqa: S101 - a column of ours, by construction
    return field


def column_size(model: type[models.Model], name: str) -> int:  # type: ignore[type-arg]
    """The most characters `model.name` holds."""
    size = _concrete(model, name).max_length
    assert size is not None  # noqa: S101 - asked only of sized columns, by construction
    return size


def rows_update(
    model: type[models.Model],
    names: Sequence[str],
    rows: Iterable[models.Model],
) -> None:
    """Write the fields `names` of saved rows the caller has locked (one UPDATE each, sent
    together)."""
    fields = [_concrete(model, name) for name in names]
    assignments = ", ".join(f"{connection.ops.quote_name(f.column)} = %s" for f in fields)
    table = connection.ops.quote_name(model._meta.db_table)
    key = connection.ops.quote_name(model._meta.pk.column)  # type: ignore[union-attr]
    # Names from the model's own metadata, values as parameters.
    sql = f"UPDATE {table} SET {assignments} WHERE {key} = %s"  # noqa: S608
    params = [
        [f.get_db_prep_save(getattr(row, f.attname), connection) for f in fields] + [row.pk]
        for row in rows
    ]
    if params:
        with connection.cursor() as cursor:
            cursor.executemany(sql, params)


def rows_insert(model: type[models.Model], rows: Sequence[models.Model]) -> None:
    """Insert new rows whose ids nobody needs back: COPY on PostgreSQL, bulk_create elsewhere
    (make run's SQLite)."""
    if not rows:
        return
    if connection.vendor != "postgresql":
        model._default_manager.bulk_create(rows)
        return
    fields = [f for f in model._meta.concrete_fields if not f.primary_key]
    columns = ", ".join(connection.ops.quote_name(f.column) for f in fields)
    table = connection.ops.quote_name(model._meta.db_table)
    # Django's cursor wraps psycopg's, whose COPY takes rows of adapted values; errors become
    # Django's (IntegrityError...) as for any other query.
    with (
        connection.cursor() as cursor,
        connection.wrap_database_errors,
        cursor.cursor.copy(f"COPY {table} ({columns}) FROM STDIN") as copy,
    ):
        for row in rows:
            copy.write_row(
                [f.get_db_prep_save(getattr(row, f.attname), connection) for f in fields]
            )
