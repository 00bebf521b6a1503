"""Coverage-guided fuzzing of the storage engine's parsers with atheris.

    .venv/bin/python bench/fuzz_storage.py -runs=200000          # bounded session
    .venv/bin/python bench/fuzz_storage.py -max_total_time=60    # or bounded by time

Each input is fed to the block frame decoder (header, checksum, meta, payload, records),
the index parser and the segment header parser, raw and with its checksums made valid
so the deeper checks are reached. Anything but the engine's own format errors is a bug
(atheris reports it with the input that caused it). Without arguments it runs 20,000 inputs.
"""
from __future__ import annotations

import struct
import sys

import atheris

with atheris.instrument_imports():
    import xxhash

    from evlog.segments import CorruptRecordingError, NotARecordingError, UnsupportedFormatError
    from evlog.segments.block import HEADER_SIZE, decode_frame
    from evlog.segments.index import parse_index
    from evlog.segments.segment import parse_segment_header

EXPECTED = (CorruptRecordingError, UnsupportedFormatError, NotARecordingError)


def _fix_frame(buf: bytes) -> bytes:
    if len(buf) < HEADER_SIZE:
        return buf
    h = xxhash.xxh3_64(buf[:HEADER_SIZE - 8])
    h.update(buf[HEADER_SIZE:])
    return buf[:HEADER_SIZE - 8] + struct.pack("<Q", h.intdigest()) + buf[HEADER_SIZE:]


def _fix_index(buf: bytes) -> bytes:
    if len(buf) < 8:
        return buf
    return buf[:-8] + struct.pack("<Q", xxhash.xxh3_64_intdigest(buf[:-8]))


def test_one_input(data: bytes) -> None:
    for buf in (data, _fix_frame(b"EVBK\x01" + data)):
        try:
            block = decode_frame(buf, "fuzz", 0)
            block.records()
            block.raw_records()
        except EXPECTED:
            pass
    for buf in (data, _fix_index(b"EVLOGIDX\x01" + data)):
        try:
            parse_index(buf, "fuzz")
        except EXPECTED:
            pass
    try:
        parse_segment_header(data, "fuzz")
    except EXPECTED:
        pass


def main() -> None:
    argv = list(sys.argv)
    if not any(a.startswith(("-runs=", "-max_total_time=")) for a in argv[1:]):
        argv.append("-runs=20000")
    atheris.Setup(argv, test_one_input)
    atheris.Fuzz()


if __name__ == "__main__":
    main()
