"""The dashboard under a redaction policy (`evlog serve --redact POLICY`, evlog.redact).

Every recording the app reads is opened through `Catalog.open`/`open_path` (or `open_path`
here, for the diff and slice engines), which wrap it in a `RedactedRecording`: events shown,
paged, counted, exported, sliced, diffed, replayed or searched are redacted, and filters test
the redacted events (a filter cannot probe a removed value). `mask_response` is the last
step of every JSON answer: the echo of a filter (`"filter"` keys, at any depth) has its
literals masked, and an error message has the request's filter literals and the policy's
value patterns masked, so a secret typed into a filter field never comes back.
"""
from __future__ import annotations

import re
from typing import Any

from flask import current_app, request

from ..recording import open_recording

_FILTER_KEYS = ("filter", "filter_text")


def current_redactor() -> Any:
    """The app's Redactor, or None when it serves recordings as they are."""
    return current_app.extensions.get("evlog_redactor")


def open_path(path: str, redactor: Any = None) -> Any:
    """A recording opened for reading, through `redactor` when there is one."""
    rec = open_recording(path)
    return redactor.recording(rec) if redactor is not None else rec


def mask_response(response: Any) -> Any:
    """An after-request hook: a JSON answer's filter echoes and error text masked (only with a
    policy; streamed answers are exports, made of redacted records already)."""
    redactor = current_redactor()
    if redactor is None or response.is_streamed or response.mimetype != "application/json":
        return response
    try:
        body = response.get_json(silent=True)
    except Exception:  # noqa: BLE001 - not JSON after all: left as it is
        return response
    if body is None:
        return response
    filters = _request_filters()
    masked = _mask(body, redactor, (_literals(filters), filters))
    if masked != body:
        response.set_data(current_app.json.dumps(masked))
    return response


def _mask(value: Any, redactor: Any, secrets: tuple[list[str], list[str]]) -> Any:
    if isinstance(value, dict):
        out = {}
        for k, v in value.items():
            if k in _FILTER_KEYS and isinstance(v, str):
                out[k] = redactor.filter_text(v)
            elif k in ("error", "message") and isinstance(v, str):
                out[k] = _mask_text(v, redactor, secrets)
            else:
                out[k] = _mask(v, redactor, secrets)
        return out
    if isinstance(value, list):
        return [_mask(v, redactor, secrets) for v in value]
    return value


def _mask_text(text: str, redactor: Any, secrets: tuple[list[str], list[str]]) -> str:
    """An error message without what the request's filters hold: their literals, and any
    quoted word of the message found in them (`got 'sk-live...'` of a syntax error)."""
    literals, filters = secrets
    for s in literals:
        text = text.replace(s, "***")

    def quoted(m: re.Match) -> str:
        word = m.group(1)
        if word.lower() not in _SYNTAX and sum(c.isalnum() for c in word) >= 3 and any(word in f for f in filters):
            return "'***'"
        return m.group(0)
    return redactor.text(_QUOTED.sub(quoted, text))


_QUOTED = re.compile(r"'([^']*)'")
_SYNTAX = frozenset(("and", "or", "not", "in", "true", "false", "null"))


_LITERALS = re.compile(r'"((?:[^"\\]|\\.)*)"?|\'((?:[^\'\\]|\\.)*)\'?|(?<![\w.])(-?\d[\w.+-]*)')


def _request_filters() -> list[str]:
    """The filter texts the request carries (query string or JSON body)."""
    texts = [v for k, v in request.args.items() if k in _FILTER_KEYS]
    body = request.get_json(silent=True) if request.is_json else None
    if isinstance(body, dict):
        texts += [v for k, v in body.items() if k in _FILTER_KEYS and isinstance(v, str)]
    return texts


def _literals(texts: list[str]) -> list[str]:
    """The literals (strings, numbers) of filter texts: what an error message may quote back."""
    out: list[str] = []
    for t in texts:
        for m in _LITERALS.finditer(t):
            lit = next((g for g in m.groups() if g), "")
            if len(lit) >= 2:
                out.append(lit)
    return sorted(set(out), key=len, reverse=True)
