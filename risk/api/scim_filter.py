"""The `filter` query parameter: the SCIM subset (RFC 7644 §3.4.2.2) that Okta API users write.

    filter     := or_expr
    or_expr    := and_expr ("or" and_expr)*
    and_expr   := factor ("and" factor)*
    factor     := "(" or_expr ")" | comparison
    comparison := ATTRIBUTE OPERATOR "string"

`and` binds tighter than `or`; keywords and operators are case-insensitive, attribute names are
not. Values are JSON-style double-quoted strings. Each resource says which attributes can be
filtered, on which model fields, with which operators; anything else is a FilterError that says
where and what is wrong. A small tokenizer and a strict recursive-descent parser, bounded in
length, nesting and comparisons so that no input can make it slow.
"""

import json
import re
from dataclasses import dataclass

from django.db.models import Q

from common.api.errors import OktaApiError

MAX_LENGTH = 2000
MAX_COMPARISONS = 20
MAX_DEPTH = 8
# Django lookup for each operator; `ne` is a negated `eq`.
OPERATORS = {"eq": "exact", "ne": "exact", "sw": "startswith", "co": "contains"}
EQUALITY = frozenset({"eq", "ne"})
TEXT = frozenset(OPERATORS)
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
    """A filterable attribute: the model fields it matches (any of them) and its operators."""

    lookups: tuple[str, ...]
    operators: frozenset[str] = EQUALITY


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


def _describe(token: _Token) -> str:
    return "the end of the filter" if token.kind == "end" else repr(token.text)


class _Parser:
    def __init__(self, text: str, fields: dict[str, FilterField]):
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

    def factor(self, depth: int) -> Q:
        token = self.peek()
        if token.kind == "paren" and token.text == "(":
            if depth >= MAX_DEPTH:
                raise FilterError(
                    f"Invalid filter at position {token.position}: parentheses nest deeper than "
                    f"{MAX_DEPTH} levels."
                )
            self.take()
            query = self.or_expr(depth + 1)
            closing = self.take()
            if closing.kind != "paren" or closing.text != ")":
                self.fail(closing, "')'")
            return query
        return self.comparison()

    def comparison(self) -> Q:
        attribute = self.take()
        if attribute.kind != "word" or attribute.text.lower() in ("and", "or"):
            self.fail(attribute, "an attribute name or '('")
        field = self.fields.get(attribute.text)
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
                f"support {name!r}; use {', '.join(sorted(field.operators))}."
            )
        value = self.take()
        if value.kind != "string":
            self.fail(value, f'a double-quoted string after {operator.text!r}, e.g. "value"')
        self.comparisons += 1
        if self.comparisons > MAX_COMPARISONS:
            raise FilterError(
                f"Invalid filter at position {attribute.position}: more than {MAX_COMPARISONS} "
                "comparisons."
            )
        text = _unquote(value)
        query = Q()
        for lookup in field.lookups:
            query |= Q(**{f"{lookup}__{OPERATORS[name]}": text})
        return ~query if name == "ne" else query


def parse_filter(text: str, *, fields: dict[str, FilterField]) -> Q:
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
