"""SCIM filters (RFC 7644 §3.4.2.2) parsed into the roster's typed filter.

A small tokenizer and a recursive-descent parser for
    filter  = term *("or" term)
    term    = factor *("and" factor)
    factor  = "not" "(" filter ")" / "(" filter ")" / attrPath "pr" / attrPath compareOp compValue
            / valuePath ["." subAttr ("pr" / compareOp compValue)]
    valuePath = attrPath "[" filter "]"      (on one element's sub-attributes; no nesting)
Attribute names are case-insensitive; an unknown attribute, operator or a malformed expression is
an `invalidFilter` error. `emails[type eq "work"]` holds when some one element of the
multi-valued attribute matches the whole bracketed filter (RFC 7644 §3.4.2.2);
`emails[type eq "work"].value eq "x"` is `emails[type eq "work" and value eq "x"]`, and
`emails.type eq "work"` is `emails[type eq "work"]`. `emails.value` and `emails` compare the
primary work email. Brackets count as a level of nesting.
"""

from __future__ import annotations

import json
import re
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Literal, cast, get_args

from advocacy_gateway.scim.errors import ScimError
from advocacy_gateway.scim.users import FILTER_PATHS, VALUE_PATHS
from advocacy_shared.contracts.roster import (
    Comparison,
    FilterAttribute,
    Logical,
    Negation,
    RosterFilter,
    ValuePath,
)

ComparisonOperator = Literal["eq", "ne", "co", "sw", "ew", "pr", "gt", "ge", "lt", "le"]
OPERATORS = frozenset(get_args(ComparisonOperator))
BOOLEAN_ATTRIBUTES = frozenset({"active", "hard_to_recruit", "leadership", "email_primary"})
MAX_FILTER_LENGTH = 1000
MAX_NESTING = 16
"""Parentheses and `not`s deeper than this are refused: the parser recurses once per level."""

_TOKEN = re.compile(
    r"""\s*(?:
        (?P<string>"(?:[^"\\]|\\.)*")
      | (?P<paren>[()])
      | (?P<bracket>[\[\]])
      | (?P<word>[A-Za-z0-9_.:$\-]+)
    )""",
    re.VERBOSE,
)


@dataclass(frozen=True)
class Token:
    kind: str  # string, paren, bracket, word
    text: str


def invalid_filter(detail: str) -> ScimError:
    return ScimError(400, detail, "invalidFilter")


def tokenize(text: str) -> list[Token]:
    tokens: list[Token] = []
    position = 0
    text = text.strip()
    while position < len(text):
        match = _TOKEN.match(text, position)
        if match is None or match.end() == position:
            raise invalid_filter(f"unexpected character at position {position} of the filter")
        kind = match.lastgroup or "word"
        tokens.append(Token(kind, match.group(kind)))
        position = match.end()
    return tokens


ValuePaths = Mapping[str, Mapping[str, str]]
"""Multi-valued attributes (lowercased) that take `[...]`, each with its sub-attributes
(lowercased) mapped to the roster's names."""


class _Parser:
    def __init__(self, tokens: list[Token], paths: Mapping[str, str], value_paths: ValuePaths):
        self.tokens = tokens
        self.paths = paths
        self.value_paths = value_paths
        self.in_value_path = False
        self.position = 0
        self.depth = 0

    def peek(self) -> Token | None:
        return self.tokens[self.position] if self.position < len(self.tokens) else None

    def take(self) -> Token:
        token = self.peek()
        if token is None:
            raise invalid_filter("the filter ends too early")
        self.position += 1
        return token

    def keyword(self, word: str) -> bool:
        token = self.peek()
        if token is not None and token.kind == "word" and token.text.lower() == word:
            self.position += 1
            return True
        return False

    def expect_paren(self, paren: str) -> None:
        token = self.take()
        if token.kind not in ("paren", "bracket") or token.text != paren:
            raise invalid_filter(f"expected {paren!r} in the filter, found {token.text!r}")

    def deeper(self) -> None:
        self.depth += 1
        if self.depth > MAX_NESTING:
            raise invalid_filter(f"the filter nests deeper than {MAX_NESTING} levels")

    def filter(self) -> RosterFilter:
        operands = [self.term()]
        while self.keyword("or"):
            operands.append(self.term())
        return operands[0] if len(operands) == 1 else Logical(operator="or", operands=operands)

    def term(self) -> RosterFilter:
        operands = [self.factor()]
        while self.keyword("and"):
            operands.append(self.factor())
        return operands[0] if len(operands) == 1 else Logical(operator="and", operands=operands)

    def factor(self) -> RosterFilter:
        if self.keyword("not"):
            self.expect_paren("(")
            return Negation(operand=self.nested())
        token = self.peek()
        if token is not None and token.kind == "paren" and token.text == "(":
            self.take()
            return self.nested()
        return self.comparison()

    def nested(self) -> RosterFilter:
        """The filter inside an opened parenthesis, up to its closing one."""
        self.deeper()
        inner = self.filter()
        self.expect_paren(")")
        self.depth -= 1
        return inner

    def comparison(self) -> RosterFilter:
        path = self.take()
        if path.kind != "word":
            raise invalid_filter(f"expected an attribute, found {path.text!r}")
        name = path.text.lower()
        following = self.peek()
        if following is not None and following.kind == "bracket" and following.text == "[":
            return self.value_path(path.text)
        attribute = cast(FilterAttribute | None, self.paths.get(name))
        if attribute is not None:
            return self.compared(attribute, path.text)
        parent, _, sub = name.rpartition(".")
        subs = None if self.in_value_path else self.value_paths.get(parent)
        if subs is not None and sub in subs:
            element = cast(FilterAttribute, subs[sub])
            return ValuePath(
                attribute=_multi_valued(parent), filter=self.compared(element, path.text)
            )
        raise invalid_filter(f"cannot filter on {path.text!r}")

    def value_path(self, text: str) -> ValuePath:
        """`attr[filter]`, then perhaps `.subAttr op value`: one element matches it all."""
        subs = self.value_paths.get(text.lower())
        if subs is None or self.in_value_path:
            raise invalid_filter(f"{text!r} takes no [...] here (value paths do not nest)")
        self.take()
        self.deeper()
        outer, self.paths, self.in_value_path = self.paths, subs, True
        try:
            inner = self.filter()
            self.expect_paren("]")
            following = self.peek()
            if following is not None and following.kind == "word" and following.text[:1] == ".":
                self.take()
                element = cast(FilterAttribute | None, subs.get(following.text[1:].lower()))
                if element is None:
                    raise invalid_filter(f"cannot filter on {text}{following.text!r}")
                inner = Logical(operator="and", operands=[inner, self.compared(element, text)])
        finally:
            self.paths, self.in_value_path = outer, False
        self.depth -= 1
        return ValuePath(attribute=_multi_valued(text.lower()), filter=inner)

    def compared(self, attribute: FilterAttribute, path: str) -> Comparison:
        """The rest of `attrPath op value` (or `attrPath pr`) once the path is read."""
        operator_token = self.take()
        operator = operator_token.text.lower()
        if operator_token.kind != "word" or operator not in OPERATORS:
            raise invalid_filter(f"unknown operator {operator_token.text!r}")
        if operator == "pr":
            return Comparison(attribute=attribute, operator="pr")
        value = _value(self.take())
        if (attribute in BOOLEAN_ATTRIBUTES) != isinstance(value, bool):
            raise invalid_filter(f"{path} compares with a value of the wrong type")
        if isinstance(value, bool) and operator not in {"eq", "ne"}:
            raise invalid_filter(f"{path} only takes eq and ne")
        return Comparison(
            attribute=attribute,
            operator=cast(ComparisonOperator, operator),
            value=value,
        )


MultiValued = Literal["emails", "groups", "members"]
MULTI_VALUED: dict[str, MultiValued] = {
    "emails": "emails",
    "groups": "groups",
    "members": "members",
}


def _multi_valued(name: str) -> MultiValued:
    if name not in MULTI_VALUED:
        raise invalid_filter(f"{name!r} takes no [...]")
    return MULTI_VALUED[name]


def _value(token: Token) -> str | bool | None:
    if token.kind == "string":
        try:
            decoded: str = json.loads(token.text)
            decoded.encode("utf-8")  # a lone surrogate ("\\ud800") is no text
        except (json.JSONDecodeError, UnicodeEncodeError) as exc:
            raise invalid_filter("a string in the filter is malformed") from exc
        return decoded
    if token.kind == "word":
        word = token.text.lower()
        if word in {"true", "false"}:
            return word == "true"
        if word == "null":
            return None
        if re.fullmatch(r"-?\d+(\.\d+)?", word):
            return token.text
    raise invalid_filter(f"expected a value, found {token.text!r}")


def parse_filter(
    text: str, paths: Mapping[str, str] = FILTER_PATHS, value_paths: ValuePaths = VALUE_PATHS
) -> RosterFilter:
    """The filter as the roster's typed filter; `paths` maps the attribute paths it may name
    (lowercased) to the roster's names, `value_paths` the multi-valued attributes that take
    `[...]`: a User's by default, a Group's for groups."""
    if len(text) > MAX_FILTER_LENGTH:
        raise invalid_filter(f"the filter is longer than {MAX_FILTER_LENGTH} characters")
    tokens = tokenize(text)
    if not tokens:
        raise invalid_filter("the filter is empty")
    parser = _Parser(tokens, paths, value_paths)
    result = parser.filter()
    left = parser.peek()
    if left is not None:
        raise invalid_filter(f"unexpected {left.text!r} in the filter")
    return result
