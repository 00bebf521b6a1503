"""Helpers of the redaction tests: planted secrets and every byte of a recording, decompressed."""
from __future__ import annotations

import os
import string
from collections.abc import Iterator

import zstandard
from hypothesis import strategies as st

from evlog.redact import RedactionPolicy, RedactionRule

KEY = b"k" * 16 + b"-test-key"
SECRET_KEYS = ("api_key", "password", "client_secret")
# filler text never holds an upper-case letter, so no planted secret appears in it by chance
FILLER = st.text(alphabet=string.ascii_lowercase + string.digits + " _-.:/", max_size=12)
KEYS = st.text(alphabet=string.ascii_lowercase + "_", min_size=1, max_size=8).filter(
    lambda k: k not in SECRET_KEYS)
SECRET = st.text(alphabet=string.ascii_uppercase + string.digits, min_size=12, max_size=20).map(
    lambda s: "PLANTED" + s)
TOKEN_SECRET = st.text(alphabet=string.ascii_letters + string.digits, min_size=22, max_size=30).map(
    lambda s: "sk-" + s)


def policy(mode: str = "mask") -> RedactionPolicy:
    """Secrets under the keys of SECRET_KEYS at any depth, in headers.authorization, and any
    sk-... token in any string."""
    return RedactionPolicy(id="test", version=1, rules=(
        RedactionRule(mode, paths=tuple(f"data.**.{k}" for k in SECRET_KEYS) + ("headers.authorization",)),
        RedactionRule(mode, patterns=(r"sk-[A-Za-z0-9]{20,}",)),
    ))


@st.composite
def planted_event(draw: st.DrawFn) -> tuple[dict, dict, list[str]]:
    """(data, headers, secrets): random nested data with secrets planted at random places,
    under a secret key or inside a string, and maybe in the Authorization header."""
    secrets: list[str] = []

    def node(depth: int) -> object:
        kind = draw(st.sampled_from(["dict", "list", "str", "int", "secret_str"] if depth < 4 else
                                    ["str", "int", "secret_str"]))
        if kind == "dict":
            out = {}
            for _ in range(draw(st.integers(0, 4))):
                # the key first: a key drawn twice is skipped, so no planted secret is overwritten
                # (a secret listed but absent from the data would make the tests' checks vacuous)
                if draw(st.booleans()) and draw(st.booleans()):
                    key = draw(st.sampled_from(SECRET_KEYS))
                    if key in out:
                        continue
                    s = draw(SECRET)
                    secrets.append(s)
                    out[key] = s if draw(st.booleans()) else {"v": s, "n": [s]}
                else:
                    key = draw(KEYS)
                    if key in out:
                        continue
                    out[key] = node(depth + 1)
            return out
        if kind == "list":
            return [node(depth + 1) for _ in range(draw(st.integers(0, 3)))]
        if kind == "int":
            return draw(st.integers(-10**6, 10**6))
        if kind == "secret_str":
            s = draw(TOKEN_SECRET)
            secrets.append(s)
            return draw(FILLER) + " " + s + " " + draw(FILLER)
        return draw(FILLER)
    data: dict = {}
    for _ in range(draw(st.integers(1, 3))):
        key = draw(KEYS)
        if key not in data:
            data[key] = node(1)
    headers = {"trace": draw(FILLER) or "t"}
    if draw(st.booleans()):
        s = draw(SECRET)
        secrets.append(s)
        headers[draw(st.sampled_from(["authorization", "Authorization", "AUTHORIZATION"]))] = "Bearer " + s
    return data, headers, secrets


def all_bytes(root: str) -> Iterator[tuple[str, bytes]]:
    """(file, bytes) of every file under `root`, and of every zstd frame found in it
    decompressed (the blocks of a segment)."""
    for dirpath, _dirs, files in os.walk(root):
        for f in files:
            p = os.path.join(dirpath, f)
            with open(p, "rb") as fh:
                raw = fh.read()
            yield p, raw
            yield from ((f"{p} (zstd frame at {i})", b) for i, b in _frames(raw))


def _frames(raw: bytes) -> Iterator[tuple[int, bytes]]:
    magic = b"\x28\xb5\x2f\xfd"
    i = raw.find(magic)
    while i >= 0:
        try:
            out = zstandard.ZstdDecompressor().decompressobj().decompress(raw[i:])
        except zstandard.ZstdError:
            out = b""
        if out:
            yield i, out
        i = raw.find(magic, i + 1)


def leaks(blobs: Iterator[tuple[str, bytes]], secrets: list[str]) -> list[str]:
    """Where any secret appears (its UTF-8 bytes)."""
    found = []
    for where, b in blobs:
        for s in secrets:
            if s.encode() in b:
                found.append(f"{s} in {where}")
    return found
