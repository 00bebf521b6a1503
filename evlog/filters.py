"""The filter language shared by the replayer, the CLI (`--filter`) and the dashboard.

    PositionPurchased or Position*            bare names and globs match the event name
    "Name With Spaces"                         quoted name (globs allowed)
    name == "X"   name != X   name in [A, B]   the event name, exactly
    source == "Orchestrator"   source=Orchestrator
    data.pair == "BTC/USDT"   data.profit < 0   data.items[0].qty >= 1   data["a b"] == 1
    data.tags contains "x"   exists(data.error)   offset >= 100   time >= 1m30s
    headers.correlation_id == "c-1"   exists(headers.traceparent)   headers["x-id"] in [a, b]
    ... combined with and, or, not and parentheses.

`parse_filter(text)` returns a `Filter`: `matches(record)`, `read_kwargs()` (pushdown for
`Log.read`), `str(filter)` (the text). The grammar and the semantics are in docs/filters.md.
"""
from __future__ import annotations

import fnmatch
import re
from dataclasses import dataclass
from decimal import Decimal, InvalidOperation
from typing import Any, Callable

from .segments.errors import EvlogError
from .segments.keyindex import key_text as _text   # what a value compares as against a string
from .timespec import TimeSpecError, parse_duration_ns, parse_time

__all__ = ["Filter", "FilterSyntaxError", "parse_filter"]


class FilterSyntaxError(EvlogError, ValueError):
    """A filter expression that does not parse; the message names the column."""

    def __init__(self, message: str, text: str = "", column: int = 0) -> None:
        self.text = text
        self.column = column
        super().__init__(f"filter syntax error at column {column}: {message}" if column else message)


_MISSING = object()
_KEYWORDS = {"and", "or", "not", "in", "contains", "exists", "true", "false", "null"}
_FIELDS = {"name", "source", "offset", "timestamp", "time"}
_OPS = ("==", "!=", "<=", ">=", "<", ">", "=")
_WORD_CHARS = re.compile(r"[A-Za-z0-9_*?.\-/:$@#+]+")
_IDENT = re.compile(r"[A-Za-z_][A-Za-z0-9_]*")
_NUMBER = re.compile(r"[+-]?(\d+(\.\d*)?|\.\d+)([eE][+-]?\d+)?")
_GLOB_CHARS = set("*?[")


# --- tokens -------------------------------------------------------------------------------------
@dataclass
class _Tok:
    kind: str   # word, str, num, op, path, punct, end
    value: Any
    col: int    # 1-based
    text: str = ""


def _tokenize(text: str) -> list[_Tok]:
    toks: list[_Tok] = []
    i, n = 0, len(text)
    while i < n:
        c = text[i]
        col = i + 1
        if c.isspace():
            i += 1
            continue
        if c in "()[],":
            toks.append(_Tok("punct", c, col, c))
            i += 1
            continue
        two = text[i:i + 2]
        if two in ("==", "!=", "<=", ">=", "&&", "||"):
            toks.append(_Tok("op", {"&&": "and", "||": "or"}.get(two, two), col, two))
            i += 2
            continue
        if c in "<>=":
            toks.append(_Tok("op", "==" if c == "=" else c, col, c))
            i += 1
            continue
        if c == "!":
            toks.append(_Tok("op", "not", col, c))
            i += 1
            continue
        if c in "'\"":
            value, i = _read_string(text, i)
            toks.append(_Tok("str", value, col, text[col - 1:i]))
            continue
        root = _path_root(text, i)
        if root is not None:
            path, i = _read_path(text, i + len(root))
            toks.append(_Tok("path", (root, tuple(path)), col, text[col - 1:i]))
            continue
        m = _WORD_CHARS.match(text, i)
        if not m:
            raise FilterSyntaxError(f"unexpected character {c!r}", text, col)
        word = m.group()
        i = m.end()
        if _NUMBER.fullmatch(word):
            toks.append(_Tok("num", Decimal(word), col, word))
        else:
            toks.append(_Tok("word", word, col, word))
    toks.append(_Tok("end", None, n + 1, "end of filter"))
    return toks


_ROOTS = ("data", "headers")   # the roots of a path: the event's data, its headers (format v2)


def _path_root(text: str, i: int) -> str | None:
    """"data" or "headers" when a path starts at `i` (the word alone, or followed by . or [)."""
    for root in _ROOTS:
        end = i + len(root)
        if text.startswith(root, i) and (end == len(text) or text[end] in ".[ \t)=!<>,") and \
                (i == 0 or not _WORD_CHARS.match(text[i - 1])):
            return root
    return None


def _read_string(text: str, i: int) -> tuple[str, int]:
    quote = text[i]
    out = []
    j = i + 1
    while j < len(text):
        c = text[j]
        if c == "\\" and j + 1 < len(text):
            nxt = text[j + 1]
            out.append({"n": "\n", "t": "\t"}.get(nxt, nxt))
            j += 2
            continue
        if c == quote:
            return "".join(out), j + 1
        out.append(c)
        j += 1
    raise FilterSyntaxError("unterminated string", text, i + 1)


def _read_path(text: str, i: int) -> tuple[list, int]:
    path: list = []
    n = len(text)
    while i < n and text[i] in ".[":
        if text[i] == ".":
            m = _IDENT.match(text, i + 1)
            if not m:
                raise FilterSyntaxError("expected a field name after '.'", text, i + 2)
            path.append(m.group())
            i = m.end()
        else:
            j = i + 1
            while j < n and text[j] == " ":
                j += 1
            if j < n and text[j] in "'\"":
                key, j = _read_string(text, j)
                path.append(key)
            else:
                m = re.compile(r"-?\d+").match(text, j)
                if not m:
                    raise FilterSyntaxError("expected an index or a quoted key inside [ ]", text, j + 1)
                path.append(int(m.group()))
                j = m.end()
            while j < n and text[j] == " ":
                j += 1
            if j >= n or text[j] != "]":
                raise FilterSyntaxError("expected ']'", text, j + 1)
            i = j + 1
    return path, i


# --- values and comparisons ---------------------------------------------------------------------
def _num(value: Any) -> Decimal | None:
    """The number a field value stands for (ints, floats, Decimals, numeric strings), or None."""
    t = type(value)
    if t is bool:
        return None
    if t is int:
        return Decimal(value)
    if t is float or t is Decimal or isinstance(value, (int, float, Decimal)):
        d = Decimal(repr(value)) if isinstance(value, float) else Decimal(value)
        return d if d.is_finite() else None
    if t is str and 0 < len(value) < 64:
        try:
            d = Decimal(value.strip())
        except (InvalidOperation, ValueError):
            return None
        return d if d.is_finite() else None
    return None


def _equal(value: Any, lit: Any) -> bool:
    if lit is None:
        return value is None
    if isinstance(lit, bool):
        return isinstance(value, bool) and value is lit
    if isinstance(lit, Decimal):
        v = _num(value)
        return v is not None and v == lit
    if isinstance(lit, str):
        v = _text(value)
        return v is not None and v == lit
    return False


def _order(value: Any, lit: Any) -> int | None:
    """-1/0/1 comparing a field value with a literal, or None when they do not compare."""
    if isinstance(lit, Decimal):
        v = _num(value)
        if v is None:
            return None
    elif isinstance(lit, str):
        v = _text(value)
        if v is None:
            return None
    else:
        return None
    return (v > lit) - (v < lit)


_CMP: dict[str, Callable[[int], bool]] = {
    "<": lambda c: c < 0, "<=": lambda c: c <= 0, ">": lambda c: c > 0, ">=": lambda c: c >= 0,
}


def _contains(value: Any, lit: Any) -> bool:
    if isinstance(value, str):
        return isinstance(lit, str) and lit in value
    if isinstance(value, (list, tuple, set, frozenset)):
        return any(_equal(v, lit) for v in value)
    if isinstance(value, dict):
        return isinstance(lit, str) and lit in value
    return False


def _resolve(data: Any, path: tuple) -> Any:
    value = data
    for key in path:
        if isinstance(value, dict):
            value = value.get(key, _MISSING) if isinstance(key, str) else _MISSING
        elif isinstance(value, (list, tuple)):
            if not isinstance(key, int) or not -len(value) <= key < len(value):
                return _MISSING
            value = value[key]
        elif isinstance(key, str) and hasattr(value, "__pydantic_fields__"):  # a live model
            value = getattr(value, key, _MISSING)
        else:
            return _MISSING
        if value is _MISSING:
            return _MISSING
    return value


def _glob_pred(pattern: str) -> Callable[[str], bool]:
    if any(c in _GLOB_CHARS for c in pattern):
        regex = re.compile(fnmatch.translate(pattern))
        return lambda s: regex.match(s) is not None
    return lambda s: s == pattern


# --- the tree -----------------------------------------------------------------------------------
# Each node is (test(record) -> bool, name_pred or None, source_pred or None, pure)
# name_pred: a condition on the name that every matching record satisfies (for pushdown);
# pure: the node tests only what its name_pred/source_pred say (no per-record test needed).
@dataclass
class _Node:
    test: Callable[[Any], bool]
    names: Callable[[str], bool] | None = None
    sources: Callable[[str], bool] | None = None
    pure: bool = False


def _headers_of(record: Any) -> Any:
    """A record's headers, or _MISSING when it has none (v1 events, records without the field)."""
    return getattr(record, "headers", None) or _MISSING


def _field_getter(field: Any) -> Callable[[Any], Any]:
    if isinstance(field, tuple):
        root, path = field
        if root == "headers":
            if not path:
                return _headers_of
            return lambda r: _resolve(getattr(r, "headers", None) or {}, path)
        if not path:
            return lambda r: r.data
        return lambda r: _resolve(r.data, path)
    if field == "time":
        return lambda r: r.monotonic
    return lambda r, f=field: getattr(r, f, _MISSING)


class _Parser:
    def __init__(self, text: str) -> None:
        self.text = text
        self.toks = _tokenize(text)
        self.i = 0

    def peek(self, k: int = 0) -> _Tok:
        return self.toks[min(self.i + k, len(self.toks) - 1)]

    def next(self) -> _Tok:
        tok = self.toks[self.i]
        self.i += 1
        return tok

    def error(self, message: str, tok: _Tok | None = None) -> FilterSyntaxError:
        tok = tok or self.peek()
        return FilterSyntaxError(f"{message}, got {tok.text!r}" if tok.kind != "end" else f"{message}, got the end",
                                 self.text, tok.col)

    def is_kw(self, tok: _Tok, *words: str) -> bool:
        return (tok.kind == "word" and tok.value.lower() in words) or (tok.kind == "op" and tok.value in words)

    def parse(self) -> _Node:
        if self.peek().kind == "end":
            raise FilterSyntaxError("empty filter", self.text, 1)
        node = self.or_expr()
        if self.peek().kind != "end":
            raise self.error("expected 'and', 'or' or the end of the filter")
        return node

    def joined(self, word: str, operand: Callable[[], _Node]) -> list[_Node]:
        """Operands separated by the keyword `word` (`a or b or c`): one or more."""
        nodes = [operand()]
        while self.is_kw(self.peek(), word):
            self.next()
            nodes.append(operand())
        return nodes

    def or_expr(self) -> _Node:
        nodes = self.joined("or", self.and_expr)
        if len(nodes) == 1:
            return nodes[0]
        tests = [n.test for n in nodes]
        names = None if any(n.names is None for n in nodes) else _any_of([n.names for n in nodes])
        sources = None if any(n.sources is None for n in nodes) else _any_of([n.sources for n in nodes])
        # an `or` of pure name tests (or of pure source tests) is itself pure
        pure = all(n.pure for n in nodes) and (
            all(n.sources is None for n in nodes) or all(n.names is None for n in nodes))
        return _Node(lambda r: any(t(r) for t in tests), names, sources, pure)

    def and_expr(self) -> _Node:
        nodes = self.joined("and", self.not_expr)
        if len(nodes) == 1:
            return nodes[0]
        tests = [n.test for n in nodes]
        name_preds = [n.names for n in nodes if n.names is not None]
        source_preds = [n.sources for n in nodes if n.sources is not None]
        return _Node(lambda r: all(t(r) for t in tests), _all_of(name_preds), _all_of(source_preds),
                     all(n.pure for n in nodes))

    def not_expr(self) -> _Node:
        if self.is_kw(self.peek(), "not"):
            self.next()
            inner = self.not_expr()
            test = inner.test
            names = sources = None
            if inner.pure and inner.sources is None and inner.names is not None:
                pred = inner.names
                names = lambda s: not pred(s)  # noqa: E731
            elif inner.pure and inner.names is None and inner.sources is not None:
                pred = inner.sources
                sources = lambda s: not pred(s)  # noqa: E731
            return _Node(lambda r: not test(r), names, sources, inner.pure and (names or sources) is not None)
        return self.atom()

    def atom(self) -> _Node:
        tok = self.peek()
        if tok.kind == "punct" and tok.value == "(":
            self.next()
            node = self.or_expr()
            if not (self.peek().kind == "punct" and self.peek().value == ")"):
                raise self.error("expected ')'")
            self.next()
            return node
        if self.is_kw(tok, "exists"):
            self.next()
            if not (self.peek().kind == "punct" and self.peek().value == "("):
                raise self.error("expected '(' after exists")
            self.next()
            ftok = self.next()
            if ftok.kind != "path":
                raise self.error("exists() takes a data or header field such as data.x or headers.id", ftok)
            if not (self.peek().kind == "punct" and self.peek().value == ")"):
                raise self.error("expected ')'")
            self.next()
            get = _field_getter(ftok.value)
            return _Node(lambda r: get(r) is not _MISSING)
        nxt = self.peek(1)
        is_cmp = nxt.kind == "op" and nxt.value in _OPS or self.is_kw(nxt, "in", "contains")
        if tok.kind == "path" or (tok.kind == "word" and tok.value.lower() in _FIELDS and is_cmp):
            return self.comparison()
        if tok.kind in ("word", "str"):
            if tok.kind == "word" and tok.value.lower() in _KEYWORDS:
                raise self.error("expected an event name, a field or '('")
            self.next()
            pred = _glob_pred(tok.value)
            return _Node(lambda r: pred(r.name), pred, None, True)
        raise self.error("expected an event name, a field or '('")

    def literal(self, field: Any) -> Any:
        tok = self.next()
        if tok.kind == "str":
            return self.wall_time(tok) if field == "timestamp" else tok.value
        if tok.kind == "num":
            return tok.value
        if tok.kind == "word":
            low = tok.value.lower()
            if low in ("true", "false"):
                return low == "true"
            if low == "null":
                return None
            if field == "timestamp":
                return self.wall_time(tok)
            if field in ("time",):
                ns = parse_duration_ns(tok.value)
                if ns is None:
                    raise self.error("expected a duration such as 90s or 1m30s", tok)
                return Decimal(ns)
            if low in _KEYWORDS:
                raise self.error("expected a value", tok)
            return tok.value
        raise self.error("expected a value (a string, a number, true, false or null)", tok)

    def wall_time(self, tok: _Tok) -> Decimal:
        try:
            spec = parse_time(tok.value)
        except TimeSpecError:
            spec = None
        if spec is None or spec.relative:
            raise self.error("expected an ISO timestamp such as 2025-10-12T10:00:00+00:00", tok)
        return Decimal(spec.ns)

    def comparison(self) -> _Node:
        ftok = self.next()
        field = ftok.value if ftok.kind == "path" else ftok.value.lower()
        get = _field_getter(field)
        optok = self.next()
        if optok.kind == "op" and optok.value in _OPS:
            op = optok.value
            if field == "time" and self.peek().kind == "num":
                raise self.error("a time needs a unit (90s, 500ms, 1m30s)")
            lit = self.literal(field)
            if lit is None and op not in ("==", "!="):
                raise self.error("null only compares with == and !=", optok)
            if op == "==":
                test = lambda r: (v := get(r)) is not _MISSING and _equal(v, lit)  # noqa: E731
            elif op == "!=":
                test = lambda r: (v := get(r)) is not _MISSING and not _equal(v, lit)  # noqa: E731
            else:
                if isinstance(lit, bool):
                    raise self.error(f"{op} needs a number or a string", optok)
                cmp = _CMP[op]
                test = lambda r: (v := get(r)) is not _MISSING and (c := _order(v, lit)) is not None \
                    and cmp(c)  # noqa: E731
            pred = None
            if field in ("name", "source") and isinstance(lit, (str, Decimal)):
                s = str(lit)
                pred = (lambda x: x == s) if op == "==" else (lambda x: x != s) if op == "!=" else None
            return self._named(field, test, pred)
        if self.is_kw(optok, "in"):
            if not (self.peek().kind == "punct" and self.peek().value == "["):
                raise self.error("expected '[' after in")
            self.next()
            items: list = []
            while not (self.peek().kind == "punct" and self.peek().value == "]"):
                items.append(self.literal(field))
                if self.peek().kind == "punct" and self.peek().value == ",":
                    self.next()
                elif not (self.peek().kind == "punct" and self.peek().value == "]"):
                    raise self.error("expected ',' or ']'")
            self.next()
            test = lambda r: (v := get(r)) is not _MISSING and any(_equal(v, x) for x in items)  # noqa: E731
            pred = None
            if field in ("name", "source"):
                wanted = frozenset(str(x) for x in items if x is not None)
                pred = wanted.__contains__
            return self._named(field, test, pred)
        if self.is_kw(optok, "contains"):
            lit = self.literal(field)
            return _Node(lambda r: (v := get(r)) is not _MISSING and _contains(v, lit))
        raise self.error("expected ==, !=, <, <=, >, >=, in or contains", optok)

    @staticmethod
    def _named(field: Any, test: Callable[[Any], bool], pred: Callable[[str], bool] | None) -> _Node:
        if field == "name" and pred is not None:
            return _Node(test, pred, None, True)
        if field == "source" and pred is not None:
            return _Node(test, None, pred, True)
        return _Node(test)


def _any_of(preds: list) -> Callable[[str], bool]:
    return lambda s: any(p(s) for p in preds)


def _all_of(preds: list) -> Callable[[str], bool] | None:
    if not preds:
        return None
    if len(preds) == 1:
        return preds[0]
    return lambda s: all(p(s) for p in preds)


class Filter:
    """A parsed filter. `matches(record)` tests a record (anything with .offset, .timestamp,
    .monotonic, .name, .source and .data, and .headers for header tests: without it, an event
    has no headers); `read_kwargs()` gives `Log.read` arguments that select the same records,
    skipping blocks without a wanted name or source."""

    def __init__(self, text: str, node: _Node) -> None:
        self.text = text
        self._node = node
        self.matches: Callable[[Any], bool] = node.test

    def matches(self, record: Any) -> bool:  # type: ignore[no-redef]  # replaced per instance
        return self._node.test(record)

    @property
    def name_predicate(self) -> Callable[[str], bool] | None:
        """A condition on the event name that every matching record meets (None: no constraint)."""
        return self._node.names

    @property
    def source_predicate(self) -> Callable[[str], bool] | None:
        return self._node.sources

    @property
    def needs_data(self) -> bool:
        """False when names and sources alone decide (no per-record `where` test)."""
        return not self._node.pure

    def read_kwargs(self) -> dict:
        """`names=`, `sources=`, `where=` and `key=` (`key_constraints`) for `Log.read` /
        `Recording.read`."""
        kwargs: dict = {}
        if self._node.names is not None:
            kwargs["names"] = self._node.names
        if self._node.sources is not None:
            kwargs["sources"] = self._node.sources
        if not self._node.pure:
            kwargs["where"] = self._node.test
        # the key index's pushdown (`Log.read` uses the indexed paths): data and header terms
        # only, which always come with a `where` (name and source terms keep their pushdown)
        keys = {p: v for p, v in key_constraints(self).items() if p not in ("name", "source")}
        if keys:
            kwargs["key"] = keys
        return kwargs

    def __str__(self) -> str:
        return self.text

    def __repr__(self) -> str:
        return f"Filter({self.text!r})"

    def __eq__(self, other: object) -> bool:
        return isinstance(other, Filter) and other.text == self.text

    def __hash__(self) -> int:
        return hash(self.text)


def parse_filter(text: str) -> Filter:
    """Parse a filter expression; raises FilterSyntaxError (one line, with the column)."""
    if isinstance(text, Filter):
        return text
    if not isinstance(text, str):
        raise FilterSyntaxError(f"a filter is a string, not {type(text).__name__}")
    return Filter(text, _Parser(text).parse())


# --- key constraints (the key index's pushdown) ---------------------------------------------------
_KEY_FIELD = re.compile(r"[A-Za-z_][A-Za-z0-9_\-]*\Z")


def key_constraints(flt: "Filter | str", keys: Any = None) -> dict[str, frozenset[str]]:
    """The key-path constraints every record a filter matches meets: its top-level AND-ed
    `P == "v"` and `P in ["v", ...]` terms with string literals, P being `data.<field>...`,
    `headers.<name>`, `source` or `name` (restricted to `keys` when given). Returns
    {path: texts} (several terms on one path intersect); {} when there are none, or when
    the filter's top level is an `or`. A number literal is not a constraint (a numeric
    comparison also matches "17.0" or " 17"), nor is anything under `not`. Pure: a function
    of the text (the key index turns the result into `Log.read(key=...)`)."""
    toks = _tokenize(flt.text if isinstance(flt, Filter) else flt)[:-1]
    out: dict[str, frozenset[str]] = {}
    for path, texts in _conjunct_terms(toks):
        if keys is not None and path not in keys:
            continue
        out[path] = out[path] & texts if path in out else texts
    return out


def _is_word(tok: _Tok, *words: str) -> bool:
    return (tok.kind == "word" and tok.value.lower() in words) or (tok.kind == "op" and tok.value in words)


def _conjuncts(toks: list[_Tok]) -> list[list[_Tok]] | None:
    """The operands of a top-level `and` (None when the top level has an `or`)."""
    parts: list[list[_Tok]] = [[]]
    depth = 0
    for tok in toks:
        if tok.kind == "punct" and tok.value in "([":
            depth += 1
        elif tok.kind == "punct" and tok.value in ")]":
            depth -= 1
        elif depth == 0 and _is_word(tok, "or"):
            return None
        elif depth == 0 and _is_word(tok, "and"):
            parts.append([])
            continue
        parts[-1].append(tok)
    return parts


def _key_path(tok: _Tok) -> str | None:
    if tok.kind == "word" and tok.value.lower() in ("source", "name"):
        return tok.value.lower()
    if tok.kind != "path":
        return None
    root, path = tok.value
    if not path or not all(isinstance(p, str) and _KEY_FIELD.match(p) for p in path) or \
            (root == "headers" and len(path) != 1):
        return None
    return ".".join((root, *path))


def _text_literal(tok: _Tok) -> str | None:
    if tok.kind == "str":
        return tok.value
    if tok.kind == "word" and tok.value.lower() not in _KEYWORDS:
        return tok.value
    return None


def _conjunct_terms(toks: list[_Tok]) -> list[tuple[str, frozenset[str]]]:
    parts = _conjuncts(toks)
    if parts is None:
        return []
    terms: list[tuple[str, frozenset[str]]] = []
    for part in parts:
        if len(part) >= 2 and part[0].kind == "punct" and part[0].value == "(" and \
                part[-1].kind == "punct" and part[-1].value == ")" and _conjuncts(part[1:-1]) is not None \
                and _balanced(part[1:-1]):
            terms += _conjunct_terms(part[1:-1])
            continue
        path = _key_path(part[0]) if part else None
        if path is None or len(part) < 3:
            continue
        if len(part) == 3 and part[1].kind == "op" and part[1].value == "==":
            text = _text_literal(part[2])
            if text is not None:
                terms.append((path, frozenset([text])))
        elif _is_word(part[1], "in") and part[2].kind == "punct" and part[2].value == "[" and \
                part[-1].kind == "punct" and part[-1].value == "]":
            items = part[3:-1]
            values = [_text_literal(t) for t in items[0::2]]
            commas = items[1::2]
            if None not in values and all(t.kind == "punct" and t.value == "," for t in commas) and \
                    len(commas) in (len(values) - 1, len(values)):
                terms.append((path, frozenset(values)))   # type: ignore[arg-type]
    return terms


def _balanced(toks: list[_Tok]) -> bool:
    """The parentheses of `toks` close in order (so `(a) and (b)` is not one wrapped group)."""
    depth = 0
    for tok in toks:
        if tok.kind == "punct" and tok.value == "(":
            depth += 1
        elif tok.kind == "punct" and tok.value == ")":
            depth -= 1
            if depth < 0:
                return False
    return depth == 0
