"""SCIM filters (RFC 7644 §3.4.2.2) as Django queries: scim2-models parses and type-checks the
filter; this visitor maps its tree onto the directory's columns.

Only the attributes IdPs filter on are mapped (Okta: userName, Entra: externalId, both:
displayName for groups, emails.value, id); any other is `invalidFilter`, as §3.4.2.2 allows
("a service provider MAY ... respond with invalidFilter" for what it cannot filter).
"""

from collections.abc import Callable
from typing import Any

from django.db.models import Q, QuerySet
from scim2_models import InvalidFilterException
from scim2_models.path import (
    AttrPath,
    CompareOperator,
    Comparison,
    FilterNode,
    FilterVisitor,
    LogicalExpr,
    LogicalOperator,
    Not,
    Present,
    ValuePath,
)

from risk.models import EntityIdentifier, UserStatus
from risk.subjects import canonical_email

# RFC 7644 §3.4.2.2 operators as lookups; caseExact=false attributes use the i-variants.
LOOKUPS = {
    CompareOperator.eq: "exact", CompareOperator.co: "contains",
    CompareOperator.sw: "startswith", CompareOperator.ew: "endswith",
    CompareOperator.gt: "gt", CompareOperator.ge: "gte",
    CompareOperator.lt: "lt", CompareOperator.le: "lte",
}  # fmt: skip

Mapper = Callable[[CompareOperator | None, Any], Q]


def _column(name: str, *, case_exact: bool = False) -> Mapper:
    """A text column; `None` as the operator means `pr`."""

    def condition(op: CompareOperator | None, value: Any) -> Q:
        if op is None:
            return ~Q(**{name: ""}) & Q(**{f"{name}__isnull": False})
        if op == CompareOperator.ne:
            return ~condition(CompareOperator.eq, value)
        lookup = LOOKUPS[op]
        if not case_exact and lookup in ("exact", "contains", "startswith", "endswith"):
            lookup = "i" + lookup
        return Q(**{f"{name}__{lookup}": str(value)})

    return condition


def _email(op: CompareOperator | None, value: Any) -> Q:
    """emails.value: an exact match is the user's email identifier (every address an IdP sent
    is one), so a secondary address finds its user too."""
    if op == CompareOperator.eq:
        keys = EntityIdentifier.objects.filter(key=f"email:{canonical_email(str(value))}")
        return Q(pk__in=keys.values("entity_id"))
    return _column("email")(op, value)


def _active(op: CompareOperator | None, value: Any) -> Q:
    if op is None:
        return Q()
    if op not in (CompareOperator.eq, CompareOperator.ne):
        raise InvalidFilterException(detail="active can only be compared with eq or ne")
    active = Q(status=UserStatus.ACTIVE)
    return active if (value is True) == (op == CompareOperator.eq) else ~active


def _group_id(op: CompareOperator | None, value: Any) -> Q:
    if op is None:
        return Q()
    text = str(value)
    if op not in (CompareOperator.eq, CompareOperator.ne) or not text.isdigit():
        return Q(pk__in=[]) if op == CompareOperator.eq else Q()
    return Q(pk=int(text)) if op == CompareOperator.eq else ~Q(pk=int(text))


USER_ATTRIBUTES: dict[str, Mapper] = {
    "id": _column("id", case_exact=True),
    "username": _column("login"),
    "externalid": _column("scim__external_id", case_exact=True),
    "displayname": _column("display_name"),
    "name.givenname": _column("first_name"),
    "name.familyname": _column("last_name"),
    "emails": _email,
    "emails.value": _email,
    "active": _active,
}
GROUP_ATTRIBUTES: dict[str, Mapper] = {
    "id": _group_id,
    "displayname": _column("name"),
    "externalid": _column("scim__external_id", case_exact=True),
    "members": _column("members__id", case_exact=True),
    "members.value": _column("members__id", case_exact=True),
}


class _QueryVisitor(FilterVisitor[Q]):
    def __init__(self, attributes: dict[str, Mapper], prefix: str = ""):
        self.attributes = attributes
        self.prefix = prefix

    def mapper(self, path: AttrPath) -> Mapper:
        name = f"{path.attr}.{path.sub_attr}" if path.sub_attr else path.attr
        key = f"{self.prefix}.{name}" if self.prefix else name
        found = self.attributes.get(key.lower())
        if found is None:
            raise InvalidFilterException(detail=f"{key} cannot be filtered on")
        return found

    def visit_comparison(self, node: Comparison) -> Q:
        return self.mapper(node.attr_path)(node.op, node.value)

    def visit_present(self, node: Present) -> Q:
        return self.mapper(node.attr_path)(None, None)

    def visit_not(self, node: Not) -> Q:
        return ~self.visit(node.expr)

    def visit_logical_expr(self, node: LogicalExpr) -> Q:
        terms = [self.visit(term) for term in node.terms]
        query = terms[0]
        for term in terms[1:]:
            query = query & term if node.op == LogicalOperator.and_ else query | term
        return query

    def visit_value_path(self, node: ValuePath) -> Q:
        # emails[value eq "x"]: the bracketed filter reads the sub-attributes of `emails`.
        return _QueryVisitor(self.attributes, prefix=node.attr_path.attr).visit(node.val_filter)


def filter_queryset(
    queryset: QuerySet, tree: FilterNode, attributes: dict[str, Mapper]
) -> QuerySet:
    """`queryset` narrowed to what the parsed filter `tree` selects."""
    return queryset.filter(_QueryVisitor(attributes).visit(tree)).distinct()
