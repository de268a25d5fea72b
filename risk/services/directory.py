"""The directory of users and devices: added in the console, imported from CSV, or automatic."""

import csv
import io
from dataclasses import dataclass, field
from typing import Any

from django.core.exceptions import ValidationError
from django.db import transaction

from risk.models import DirectoryGroup, Entity, EntityIdentifier, EntityKind
from risk.subjects import canonical_email, identifier_keys

CSV_COLUMNS = ("login", "email", "first_name", "last_name", "groups", "iss", "sub")


def _keys(email: str, identifiers: list[dict[str, Any]]) -> list[str]:
    keys = [f"email:{canonical_email(email)}"] if email else []
    for identifier in identifiers:
        found = identifier_keys(identifier)
        if not found:
            raise ValidationError(f"{identifier!r} is not a subject identifier we can match.")
        keys += found
    return list(dict.fromkeys(keys))


@transaction.atomic
def entity_create(
    *,
    kind: str = EntityKind.USER,
    login: str = "",
    email: str = "",
    first_name: str = "",
    last_name: str = "",
    display_name: str = "",
    groups: list[str] | None = None,
    identifiers: list[dict[str, Any]] | None = None,
) -> Entity:
    """Add a user or device and the identifiers SETs may name it by (its email, iss/sub pairs...).

    A login or identifier that another entity has already is a ValidationError; nothing is saved.
    """
    email = email.strip()
    login = login.strip() or (email if kind == EntityKind.USER else "")
    if login and Entity.objects.filter(login=login).exists():
        raise ValidationError({"login": f"A user with login {login!r} exists already."})
    keys = _keys(email, identifiers or [])
    taken = EntityIdentifier.objects.filter(key__in=keys).values_list("key", flat=True)
    if taken:
        raise ValidationError(f"Another entity is already named by {', '.join(taken)}.")
    entity = Entity(
        kind=kind,
        login=login,
        email=email,
        first_name=first_name.strip(),
        last_name=last_name.strip(),
        display_name=display_name.strip(),
    )
    entity.save()
    EntityIdentifier.objects.bulk_create([EntityIdentifier(entity=entity, key=k) for k in keys])
    for name in groups or []:
        if name.strip():
            entity.groups.add(DirectoryGroup.objects.get_or_create(name=name.strip())[0])
    return entity


@dataclass
class ImportResult:
    created: int = 0
    errors: list[str] = field(default_factory=list)


def entities_import_csv(*, text: str) -> ImportResult:
    """Import users from CSV with a header row of CSV_COLUMNS (all but login/email optional).

    `groups` is a `;`-separated list; `iss` + `sub` add an iss_sub identifier. Each row is saved
    or refused on its own; a refused row is reported with its line number and changes nothing.
    """
    result = ImportResult()
    reader = csv.DictReader(io.StringIO(text))
    if not reader.fieldnames or not {"login", "email"} & set(reader.fieldnames):
        result.errors.append(f"The header row must name some of: {', '.join(CSV_COLUMNS)}.")
        return result
    for line, row in enumerate(reader, start=2):
        row = {k: (v or "").strip() for k, v in row.items() if k}
        identifiers = []
        if row.get("iss") and row.get("sub"):
            identifiers.append({"format": "iss_sub", "iss": row["iss"], "sub": row["sub"]})
        try:
            entity_create(
                login=row.get("login", ""),
                email=row.get("email", ""),
                first_name=row.get("first_name", ""),
                last_name=row.get("last_name", ""),
                groups=row.get("groups", "").split(";"),
                identifiers=identifiers,
            )
            result.created += 1
        except ValidationError as exc:
            result.errors.append(f"Line {line}: {' '.join(exc.messages)}")
    return result
