"""The `filter` and `search` query parameters: the SCIM filter language (RFC 7644 §3.4.2.2) that
Okta's APIs read.

    filter     := or_expr
    or_expr    := and_expr ("or" and_expr)*
    and_expr   := factor ("and" factor)*
    factor     := "not" factor | "(" or_expr ")" | comparison
    comparison := ATTRIBUTE "pr" | ATTRIBUTE OPERATOR "string"

`and` binds tighter than `or`, `not` tighter than both; keywords and operators are
case-insensitive, attribute names are not. Values are JSON-style double-quoted strings. Each
resource says which attributes can be filtered, on which columns or JSON paths, with which
operators; anything else is a FilterError that says where and what is wrong. A small tokenizer
and a strict recursive-descent parser, bounded in length, nesting and comparisons so that no
input can make it slow.
"""

import json
import re
from collections.abc import Mapping
from dataclasses import dataclass, replace
from datetime import UTC, datetime
from typing import Any

from django.db.models import F, Q
from django.db.models.expressions import Expression
from django.db.models.fields.json import KeyTextTransform, KeyTransform
from django.db.models.lookups import (
    Contains,
    Exact,
    GreaterThan,
    GreaterThanOrEqual,
    IContains,
    IExact,
    IsNull,
    IStartsWith,
    LessThan,
    LessThanOrEqual,
    StartsWith,
)
from django.utils.dateparse import parse_datetime

from common.api.errors import OktaApiError

MAX_LENGTH = 2000
MAX_COMPARISONS = 20
MAX_DEPTH = 8
# The lookup for each operator (case-sensitive, case-insensitive); `ne` is a negated `eq`.
LOOKUPS = {
    "eq": (Exact, IExact),
    "ne": (Exact, IExact),
    "sw": (StartsWith, IStartsWith),
    "co": (Contains, IContains),
    "gt": (GreaterThan, GreaterThan),
    "ge": (GreaterThanOrEqual, GreaterThanOrEqual),
    "lt": (LessThan, LessThan),
    "le": (LessThanOrEqual, LessThanOrEqual),
}
OPERATORS = (*LOOKUPS, "pr")
EQUALITY = frozenset({"eq", "ne", "pr"})
TEXT = frozenset({"eq", "ne", "sw", "co", "pr"})
ORDERED = frozenset({"eq", "ne", "gt", "ge", "lt", "le", "pr"})
ALL = frozenset(OPERATORS)
# What a value is compared as: text ("" is absent), a timestamp, or a JSON member (null absent).
TEXT_VALUE, DATETIME_VALUE, JSON_VALUE = "text", "datetime", "json"
WILDCARD = ".*"
_TOKEN = re.compile(
    r"""\s*(?:
        (?P<paren>[()])
      | (?P<string>"(?:[^"\\]|\\.)*")
      | (?P<unterminated>")
      | (?P<word>[A-Za-z][A-Za-z0-9_.]*)
      | (?P<other>\S)
    )""",
    re.VERBOSE | re.DOTALL,
)


class FilterError(ValueError):
    """A filter we cannot run; the message says where (0-based character position) and why."""


@dataclass(frozen=True)
class FilterField:
    """A filterable attribute: where its value is (any source may match) and its operators.

    A source is a column name, then JSON keys or array indexes inside it: `("event_type",)`,
    `("actor", "alternateId")`, `("target", "0", "type")`. An attribute named `prefix.*`
    matches every name under the prefix, its rest becoming more JSON keys.
    """

    sources: tuple[tuple[str, ...], ...]
    operators: frozenset[str] = EQUALITY
    value: str = TEXT_VALUE
    case_insensitive: bool = False

    def under(self, keys: list[str]) -> "FilterField":
        return replace(self, sources=tuple((*source, *keys) for source in self.sources))


@dataclass(frozen=True)
class _Token:
    kind: str  # paren, string, word, end
    text: str
    position: int


def _tokenize(text: str) -> list[_Token]:
    tokens, position = [], 0
    while position < len(text):
        match = _TOKEN.match(text, position)
        if match is None:  # only trailing whitespace is left
            break
        kind = match.lastgroup or "other"
        start = match.start(kind)
        if kind == "unterminated":
            raise FilterError(f"Invalid filter at position {start}: the string is not closed.")
        if kind == "other":
            raise FilterError(
                f"Invalid filter at position {start}: unexpected character {match[kind]!r}."
            )
        tokens.append(_Token(kind, match[kind], start))
        position = match.end()
    tokens.append(_Token("end", "", len(text)))
    return tokens


def _unquote(token: _Token) -> str:
    """A value is a JSON string (RFC 7644 §3.4.2.2), so JSON decodes it, escapes and all."""
    try:
        value = json.loads(token.text)
    except json.JSONDecodeError as exc:
        raise FilterError(
            f"Invalid filter at position {token.position + exc.pos}: {exc.msg} in a string."
        ) from exc
    # The database refuses NUL and lone surrogates; they are never in a real value.
    if any(char == "\x00" or "\ud800" <= char <= "\udfff" for char in value):
        raise FilterError(
            f"Invalid filter at position {token.position}: the string holds a NUL or a lone "
            "surrogate."
        )
    return value


def _timestamp(text: str, token: _Token) -> datetime:
    """An ISO 8601 time (Okta writes `2024-06-01T00:00:00.000Z`); without an offset, UTC."""
    try:
        when = parse_datetime(text)
        if when is not None:
            when = when.replace(tzinfo=when.tzinfo or UTC)
            when.astimezone(UTC)  # a time the database can hold (no year 0 at UTC)
    except (ValueError, OverflowError):
        when = None
    if when is None:
        raise FilterError(
            f"Invalid filter at position {token.position}: {text!r} is not an ISO 8601 time "
            'such as "2024-06-01T00:00:00.000Z".'
        )
    return when


def _expression(source: tuple[str, ...]) -> Expression | F:
    """The column, or the text of the JSON member at the source's keys."""
    column, *keys = source
    if not keys:
        return F(column)
    inner: Any = column
    for key in keys[:-1]:
        inner = KeyTransform(key, inner)
    return KeyTextTransform(keys[-1], inner)


def _present(field: FilterField, expression: Expression | F) -> Q:
    """SCIM `pr`: the attribute has a value (a blank text column counts as none)."""
    present = Q(IsNull(expression, False))
    if field.value == TEXT_VALUE:
        present &= ~Q(Exact(expression, ""))
    return present


def _describe(token: _Token) -> str:
    return "the end of the filter" if token.kind == "end" else repr(token.text)


def _resolve(fields: Mapping[str, FilterField], name: str) -> FilterField | None:
    if name in fields and not name.endswith(WILDCARD):
        return fields[name]
    for pattern, field in fields.items():
        prefix = pattern.removesuffix("*")
        if pattern.endswith(WILDCARD) and name.startswith(prefix) and len(name) > len(prefix):
            keys = name[len(prefix) :].split(".")
            return field.under(keys) if all(keys) else None
    return None


class _Parser:
    def __init__(self, text: str, fields: Mapping[str, FilterField]):
        self.tokens = _tokenize(text)
        self.index = 0
        self.fields = fields
        self.comparisons = 0

    def peek(self) -> _Token:
        return self.tokens[self.index]

    def take(self) -> _Token:
        token = self.tokens[self.index]
        self.index += 1
        return token

    def fail(self, token: _Token, expected: str):
        raise FilterError(
            f"Invalid filter at position {token.position}: expected {expected}, found "
            f"{_describe(token)}."
        )

    def is_keyword(self, word: str) -> bool:
        token = self.peek()
        return token.kind == "word" and token.text.lower() == word

    def parse(self) -> Q:
        query = self.or_expr(depth=0)
        if self.peek().kind != "end":
            self.fail(self.peek(), "'and', 'or' or the end of the filter")
        return query

    def or_expr(self, depth: int) -> Q:
        query = self.and_expr(depth)
        while self.is_keyword("or"):
            self.take()
            query |= self.and_expr(depth)
        return query

    def and_expr(self, depth: int) -> Q:
        query = self.factor(depth)
        while self.is_keyword("and"):
            self.take()
            query &= self.factor(depth)
        return query

    def nest(self, token: _Token, depth: int) -> int:
        if depth >= MAX_DEPTH:
            raise FilterError(
                f"Invalid filter at position {token.position}: parentheses and 'not' nest "
                f"deeper than {MAX_DEPTH} levels."
            )
        return depth + 1

    def factor(self, depth: int) -> Q:
        token = self.peek()
        if self.is_keyword("not"):
            self.take()
            return ~self.factor(self.nest(token, depth))
        if token.kind == "paren" and token.text == "(":
            self.take()
            query = self.or_expr(self.nest(token, depth))
            closing = self.take()
            if closing.kind != "paren" or closing.text != ")":
                self.fail(closing, "')'")
            return query
        return self.comparison()

    def comparison(self) -> Q:
        attribute = self.take()
        if attribute.kind != "word" or attribute.text.lower() in ("and", "or", "not"):
            self.fail(attribute, "an attribute name or '('")
        field = _resolve(self.fields, attribute.text)
        if field is None:
            raise FilterError(
                f"Invalid filter at position {attribute.position}: {attribute.text!r} cannot be "
                f"filtered on; use one of {', '.join(sorted(self.fields))}."
            )
        operator = self.take()
        name = operator.text.lower()
        if operator.kind != "word" or name not in OPERATORS:
            self.fail(operator, f"an operator ({', '.join(OPERATORS)}) after {attribute.text!r}")
        if name not in field.operators:
            raise FilterError(
                f"Invalid filter at position {operator.position}: {attribute.text} does not "
                f"support {name!r}; use {', '.join(o for o in OPERATORS if o in field.operators)}."
            )
        self.comparisons += 1
        if self.comparisons > MAX_COMPARISONS:
            raise FilterError(
                f"Invalid filter at position {attribute.position}: more than {MAX_COMPARISONS} "
                "comparisons."
            )
        if name == "pr":
            return self.any_source(field, lambda expression: _present(field, expression))
        token = self.take()
        if token.kind != "string":
            self.fail(token, f'a double-quoted string after {operator.text!r}, e.g. "value"')
        value: Any = _unquote(token)
        if field.value == DATETIME_VALUE:
            value = _timestamp(value, token)
        lookup = LOOKUPS[name][1 if field.case_insensitive else 0]
        query = self.any_source(field, lambda expression: Q(lookup(expression, value)))
        return ~query if name == "ne" else query

    @staticmethod
    def any_source(field: FilterField, condition) -> Q:
        query = Q()
        for source in field.sources:
            query |= condition(_expression(source))
        return query


def parse_filter(text: str, *, fields: Mapping[str, FilterField]) -> Q:
    """The Q object `text` means over `fields`; FilterError (with a position) when it is wrong."""
    if len(text) > MAX_LENGTH:
        raise FilterError(f"Invalid filter: longer than {MAX_LENGTH} characters.")
    if not text.strip():
        raise FilterError("Invalid filter: it is empty.")
    return _Parser(text, fields).parse()


def invalid_search(exc: FilterError) -> OktaApiError:
    """Okta's answer to a filter (or q) it cannot run: 400 E0000031, the reason as the cause."""
    return OktaApiError(
        status=400, code="E0000031", summary="Invalid search criteria.", causes=[str(exc)]
    )
