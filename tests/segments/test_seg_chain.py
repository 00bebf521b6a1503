"""Tamper evidence (format v2): the blocks' BLAKE2b hash chain proves that no block was altered,
removed or reordered, across segments, rolls, reopenings and retention; with a key, nobody
without it can build a chain that verifies."""
from __future__ import annotations

import hashlib
import json
import os
import shutil
import struct

import pytest
import xxhash
from hypothesis import given, settings
from hypothesis import strategies as st
import zstandard
from click.testing import CliRunner

from evlog.cli import cli
from evlog.segments import ChainError, Log, UnsupportedFormatError, reindex, verify
from evlog.segments import block as blk
from evlog.segments import chain as chn
from evlog.segments import chainverify
from evlog.segments.retention import retain

from segtools import examples

HERE = os.path.dirname(os.path.abspath(__file__))
GOLDEN_V1 = os.path.join(os.path.dirname(HERE), "format", "v1", "typed")
KEY = b"k" * 32
OPTS = dict(fsync="never", block_max_records=4, segment_max_bytes=4096, index_interval=None)


def build(path: str, n: int = 120, key: bytes | None = None, **opts) -> None:
    with Log.create(path, "chain", chain_key=key, **{**OPTS, **opts}) as log:
        for i in range(n):
            log.append(f"N{i % 3}", {"i": i, "text": "abcdefgh" * (i % 5)}, f"s{i % 2}",
                       headers={"seq": str(i)} if i % 4 == 0 else None)


def frames(path: str) -> list[tuple[str, int, int]]:
    with Log.open(path) as log:
        return [(seg, e.position, e.frame_len) for seg, e in log.index_entries()]


def read_frame(path: str, seg: str, pos: int, length: int) -> bytearray:
    with open(os.path.join(path, seg), "rb") as f:
        f.seek(pos)
        return bytearray(f.read(length))


def write_frame(path: str, seg: str, pos: int, frame: bytes | bytearray) -> None:
    with open(os.path.join(path, seg), "r+b") as f:
        f.seek(pos)
        f.write(frame)


def fix_checksum(frame: bytearray) -> bytearray:
    """What any tamperer can do: make the xxh3 checksum match the changed frame."""
    h = xxhash.xxh3_64(bytes(frame[:80]))
    h.update(bytes(frame[88:]))
    frame[80:88] = struct.pack("<Q", h.intdigest())
    return frame


def relink(frame: bytearray, prev: bytes, key: bytes | None) -> tuple[bytearray, bytes]:
    """Rebuild a frame's chain link from `prev` (with `key`), then its checksum."""
    meta_len = struct.unpack_from("<I", frame, 8)[0]
    parts = chainverify.frame_parts(bytes(frame), meta_len)
    digest = chn.block_hash(prev, parts[0], parts[3], parts[4], key)
    frame[88:88 + 64] = prev + digest
    return fix_checksum(frame), digest


def rechain(path: str, key: bytes | None) -> None:
    """A forger's full rebuild: every block relinked in order, the manifest head moved."""
    with open(os.path.join(path, "manifest.json")) as f:
        doc = json.load(f)
    prev = bytes.fromhex(doc["chain"]["anchor"])
    end = 0
    for seg, pos, length in frames(path):
        frame, prev = relink(read_frame(path, seg, pos, length), prev, key)
        write_frame(path, seg, pos, frame)
        end = blk.parse_header(bytes(frame)).end_offset
    doc["chain"].update(head=prev.hex(), head_offset=end)
    if key is not None:
        doc["chain"] = chn.seal_record(doc["chain"], key)
    with open(os.path.join(path, "manifest.json"), "w") as f:
        json.dump(doc, f)


def flip_in_payload(path: str, index: int) -> None:
    """Change one digit of an "i" value in a block's data (the JSON stays valid), the payload
    stored raw and the frame's lengths and checksum fixed: only the chain can tell. The frame
    may change length: the segment is rewritten and its index removed."""
    seg, pos, length = frames(path)[index]
    frame = read_frame(path, seg, pos, length)
    header = blk.parse_header(bytes(frame))
    body = blk.HEADER_SIZE + header.meta_len
    payload = bytearray(zstandard.ZstdDecompressor().decompress(bytes(frame[body:]))
                        if header.codec == blk.CODEC_ZSTD else frame[body:])
    i = payload.index(b'"i":')
    payload[i + 4] = ord("7") if payload[i + 4] != ord("7") else ord("8")
    frame = frame[:body] + payload
    frame[5] = blk.CODEC_NONE
    struct.pack_into("<I", frame, 12, len(payload))
    with open(os.path.join(path, seg), "rb") as f:
        whole = f.read()
    with open(os.path.join(path, seg), "wb") as f:
        f.write(whole[:pos] + fix_checksum(frame) + whole[pos + length:])
    reindex(path)   # a careful tamperer leaves consistent indexes too


def problems(path: str, key: bytes | None = None) -> list[str]:
    report = verify(path, chain=True, key=key)
    return [p.message for p in report.problems]


def test_an_untouched_chain_verifies_across_segments(tmp_path):
    path = str(tmp_path / "rec")
    build(path)
    report = verify(path, chain=True)
    assert report.ok, [str(p) for p in report.problems]
    assert report.chain.blocks == len(frames(path)) and report.chain.head_offset == 120
    assert report.chain.first_offset == 0 and report.chain.end_offset == 120 and not report.chain.notes
    with Log.open(path) as log:
        assert len(log.segments()) >= 3


def test_an_altered_block_is_detected_when_its_checksum_was_fixed(tmp_path):
    path = str(tmp_path / "rec")
    build(path)
    flip_in_payload(path, 5)
    assert verify(path).ok                       # checksums and JSON are fine...
    found = problems(path)                       # ...but the chain is not
    assert len(found) == 1 and "altered" in found[0]


def test_removed_and_reordered_blocks_are_detected(tmp_path):
    path = str(tmp_path / "rec")
    build(path)
    pristine = str(tmp_path / "pristine")
    shutil.copytree(path, pristine)
    # two blocks of one segment swapped, their offsets rewritten so the log still reads
    (seg_a, pos_a, len_a), (seg_b, pos_b, len_b) = frames(path)[1:3]
    assert seg_a == seg_b
    a, b = read_frame(path, seg_a, pos_a, len_a), read_frame(path, seg_b, pos_b, len_b)
    first_a = struct.unpack_from("<Q", a, 24)[0]
    struct.pack_into("<Q", a, 24, first_a + blk.parse_header(bytes(b)).count)
    struct.pack_into("<Q", b, 24, first_a)
    write_frame(path, seg_a, pos_a, fix_checksum(b) + fix_checksum(a))
    reindex(path)
    assert verify(path).ok
    found = problems(path)
    assert any("does not chain" in p for p in found), found
    # a whole middle segment deleted (and the offsets left with a gap: the reader says so too)
    path2 = str(tmp_path / "rec2")
    shutil.copytree(pristine, path2)
    segs = sorted(n for n in os.listdir(path2) if n.endswith(".seg"))
    os.remove(os.path.join(path2, segs[1]))
    os.remove(os.path.join(path2, segs[1].replace(".seg", ".idx")))
    assert any("does not chain" in p for p in problems(path2))


def test_blocks_cut_from_the_end_are_detected_by_the_head(tmp_path):
    path = str(tmp_path / "rec")
    build(path)
    segs = sorted(n for n in os.listdir(path) if n.endswith(".seg"))
    for name in segs[-2:]:                          # the last two segments gone
        os.remove(os.path.join(path, name))
        os.remove(os.path.join(path, name.replace(".seg", ".idx")))
    assert verify(path).ok                          # what is left is consistent...
    found = problems(path)
    assert any("missing" in p and "head" in p for p in found), found   # ...but shorter than the head says


def test_retention_keeps_the_chain_verifiable_from_the_first_kept_block(tmp_path):
    path = str(tmp_path / "rec")
    build(path, 200)
    result = retain(path, max_bytes=6000)
    assert result.removed and result.first_offset > 0
    report = verify(path, chain=True)
    assert report.ok, [str(p) for p in report.problems]
    assert report.chain.first_offset == result.first_offset
    assert any("retention" in n for n in report.chain.notes)
    with Log.open(path, "a", **OPTS) as log:         # and appending after it continues the chain
        log.append("after", 1, "s")
    assert verify(path, chain=True).ok


def test_retention_by_the_writer_at_roll(tmp_path):
    path = str(tmp_path / "rec")
    build(path, 200, key=KEY, retain_max_bytes=6000)
    report = verify(path, chain=True, key=KEY)
    assert report.ok and report.chain.first_offset > 0, [str(p) for p in report.problems]


def test_reopening_continues_the_chain(tmp_path):
    path = str(tmp_path / "rec")
    build(path, 30)
    for round_ in range(3):
        with Log.open(path, "a", **OPTS) as log:
            for i in range(7):
                log.append("more", {"r": round_, "i": i}, "s")
    report = verify(path, chain=True)
    assert report.ok and report.chain.end_offset == 51 == report.chain.head_offset


def test_a_keyed_chain_needs_its_key(tmp_path):
    path = str(tmp_path / "rec")
    build(path, 40, key=KEY)
    assert verify(path, chain=True, key=KEY).ok
    assert any("keyed" in p for p in problems(path))
    assert any("wrong key" in p for p in problems(path, b"other key"))
    with pytest.raises(ChainError, match="keyed"):
        Log.open(path, "a")
    with pytest.raises(ChainError, match="wrong chain key"):
        Log.open(path, "a", chain_key=b"other key")
    with Log.open(path, "a", chain_key=KEY, **OPTS) as log:
        log.append("more", 1, "s")
    assert verify(path, chain=True, key=KEY).ok
    unkeyed = str(tmp_path / "plain")
    build(unkeyed, 5)
    with pytest.raises(ChainError, match="unkeyed"):
        Log.open(unkeyed, "a", chain_key=KEY)
    assert any("not keyed" in p for p in problems(unkeyed, KEY))


def test_without_the_key_nobody_forges_a_consistent_chain(tmp_path):
    path = str(tmp_path / "rec")
    build(path, 60, key=KEY)
    flip_in_payload(path, 3)
    assert any("altered" in p for p in problems(path, KEY))
    rechain(path, None)                   # relinked with an unkeyed hash, head moved
    assert verify(path).ok
    assert problems(path, KEY)            # the manifest's MAC (and every block) says no
    rechain(path, b"a guessed key")       # relinked and MACed with another key
    assert any("wrong key" in p for p in problems(path, KEY))
    honest = str(tmp_path / "honest")     # the same rebuild with the key: it verifies (the test can fail)
    build(honest, 60, key=KEY)
    flip_in_payload(honest, 3)
    rechain(honest, KEY)
    assert verify(honest, chain=True, key=KEY).ok


def test_an_unkeyed_chain_can_be_rebuilt_by_anyone(tmp_path):
    """What the key is for: without one, a rebuilt chain verifies (integrity, not authenticity)."""
    path = str(tmp_path / "rec")
    build(path, 40)
    flip_in_payload(path, 2)
    assert problems(path)
    rechain(path, None)
    assert verify(path, chain=True).ok


def test_an_open_recording_verifies_up_to_its_head(tmp_path):
    path = str(tmp_path / "rec")
    log = Log.create(path, "live", **OPTS)
    try:
        for i in range(50):
            log.append("E", i, "s")
        log.flush()
        report = verify(path, chain=True)
        assert report.ok, [str(p) for p in report.problems]
        assert report.chain.end_offset == 50 and report.chain.head_offset < 50
        assert any("after the recorded head" in n for n in report.chain.notes)
    finally:
        log.close()
    report = verify(path, chain=True)
    assert report.ok and report.chain.head_offset == 50 and not report.chain.notes


def test_a_v1_recording_has_no_chain_and_keeps_writing_v1(tmp_path):
    path = str(tmp_path / "v1")
    shutil.copytree(GOLDEN_V1, path)
    assert any("no hash chain" in p for p in problems(path))
    with pytest.raises(UnsupportedFormatError, match="version 1"):
        Log.open(path, "a", chain_key=KEY)
    with Log.open(path, "a") as log:
        assert log.format_version == 1
        offset = log.append("New", {"x": 1}, "s")
        with pytest.raises(UnsupportedFormatError, match="no per-event headers"):
            log.append("New", {"x": 2}, "s", headers={"k": "v"})
        assert log.append("New", {"x": 3}, "s") == offset + 1
    seg, pos, length = frames(path)[-1]
    assert read_frame(path, seg, pos, length)[4] == 1          # the new block is a v1 block
    with open(os.path.join(path, "manifest.json")) as f:
        assert json.load(f)["format_version"] == 1
    with Log.open(path) as log:
        got = list(log.read())
    assert [r.data for r in got[-2:]] == [{"x": 1}, {"x": 3}] and len(got) == 18
    assert verify(path).ok


def test_cli_verify_chain_exit_codes(tmp_path, monkeypatch):
    runner = CliRunner()
    path = str(tmp_path / "rec")
    build(path, 40, key=KEY)
    key_file = tmp_path / "key"
    key_file.write_bytes(KEY)
    ok = runner.invoke(cli, ["verify", path, "--chain", "--key-file", str(key_file)])
    assert ok.exit_code == 0, ok.output
    assert "intact" in ok.output
    monkeypatch.setenv("EVLOG_TEST_KEY", KEY.decode())
    assert runner.invoke(cli, ["verify", path, "--chain", "--key-env", "EVLOG_TEST_KEY"]).exit_code == 0
    no_key = runner.invoke(cli, ["verify", path, "--chain"])
    assert no_key.exit_code == 1 and "keyed" in no_key.output
    flip_in_payload(path, 1)
    bad = runner.invoke(cli, ["verify", path, "--chain", "--key-file", str(key_file)])
    assert bad.exit_code == 1 and "altered" in bad.output
    for args, message in ((["--key-file", str(tmp_path / "missing")], "missing"),
                          (["--key-env", "EVLOG_NO_SUCH_VAR"], "not set"),
                          (["--key-file", str(key_file), "--key-env", "X"], "not both")):
        result = runner.invoke(cli, ["verify", path, "--chain", *args])
        assert result.exit_code == 2 and message in result.output, result.output
        assert "Traceback" not in result.output
    (tmp_path / "long").write_bytes(b"x" * 100)
    result = runner.invoke(cli, ["verify", path, "--key-file", str(tmp_path / "long")])
    assert result.exit_code == 2 and "1 to 64" in result.output


def test_chain_key_is_checked():
    assert chn.check_key(None) is None and chn.check_key("abc") == b"abc"
    for bad in (b"", b"x" * 65):
        with pytest.raises(ValueError):
            chn.check_key(bad)
    with pytest.raises(TypeError):
        chn.check_key(5)


@pytest.fixture(scope="module")
def chained(tmp_path_factory):
    path = str(tmp_path_factory.mktemp("chained") / "rec")
    build(path, 60)
    return path, frames(path)


@settings(max_examples=examples(60), deadline=None)
@given(data=st.data())
def test_any_changed_byte_of_any_block_breaks_the_chain(chained, tmp_path_factory, data):
    """Whatever byte of whatever block changes (its checksum fixed, as a tamperer would), the
    chain does not verify: the change is in the hashed content, the link, or makes the frame
    unreadable (then the head shows blocks missing)."""
    pristine, all_frames = chained
    path = str(tmp_path_factory.mktemp("t") / "rec")
    shutil.copytree(pristine, path)
    seg, pos, length = data.draw(st.sampled_from(all_frames), label="block")
    at = data.draw(st.integers(0, length - 1).filter(lambda i: not 80 <= i < 88), label="byte")
    xor = data.draw(st.integers(1, 255), label="xor")
    frame = read_frame(path, seg, pos, length)
    frame[at] ^= xor
    write_frame(path, seg, pos, fix_checksum(frame))
    report = verify(path, chain=True)
    assert not report.ok, (seg, pos, at, xor)


@settings(max_examples=examples(15), deadline=None)
@given(st.lists(st.sampled_from(["append", "batch", "roll", "reopen", "flush"]), min_size=1, max_size=25),
       st.booleans())
def test_any_sequence_of_writes_verifies(tmp_path_factory, steps, keyed):
    path = str(tmp_path_factory.mktemp("seq") / "rec")
    key = KEY if keyed else None
    log = Log.create(path, "seq", chain_key=key, **OPTS)
    n = 0
    try:
        for step in steps:
            if step == "append":
                log.append("E", n, "s", headers={"n": str(n)} if n % 2 else None)
                n += 1
            elif step == "batch":
                log.append_batch([("B", n + k, "s") for k in range(9)], atomic=n % 2 == 0)
                n += 9
            elif step == "roll":
                log.roll()
            elif step == "flush":
                log.flush()
            else:
                log.close()
                log = Log.open(path, "a", chain_key=key, **OPTS)
    finally:
        log.close()
    report = verify(path, chain=True, key=key)
    assert report.ok, [str(p) for p in report.problems]
    assert report.chain.head_offset == n and not report.chain.notes


def _manifest(path: str) -> dict:
    with open(os.path.join(path, "manifest.json")) as f:
        return json.load(f)


def _set_manifest(path: str, doc: dict) -> None:
    with open(os.path.join(path, "manifest.json"), "w") as f:
        json.dump(doc, f)


def test_a_damaged_manifest_chain_record_is_reported(tmp_path):
    path = str(tmp_path / "rec")
    build(path, 20)
    doc = _manifest(path)
    for change, message in ((lambda c: c.pop("head"), "incomplete"),
                            (lambda c: c.update(anchor="00" * 32), "does not belong"),
                            (lambda c: c.update(head="11" * 32), "head does not match"),
                            (lambda c: c.update(head_offset=7), "matches no block boundary")):
        broken = json.loads(json.dumps(doc))
        change(broken["chain"])
        _set_manifest(path, broken)
        assert any(message in p for p in problems(path)), (message, problems(path))
    broken = json.loads(json.dumps(doc))
    del broken["chain"]
    _set_manifest(path, broken)
    assert any("no hash chain" in p for p in problems(path))
    assert chn.recorded_head(Log.open(path).manifest) is None


def test_a_v1_block_inside_a_v2_recording_is_unchained(tmp_path):
    path = str(tmp_path / "rec")
    build(path, 8, segment_max_bytes=1 << 20)
    seg, pos, length = frames(path)[0]
    rows = [("N0", "s0", 0, 1000 + i, i, b"%d" % i, b"") for i in range(4)]
    v1 = blk.encode_block(0, rows, None, version=1)[0]
    with open(os.path.join(path, seg), "rb") as f:
        whole = f.read()
    with open(os.path.join(path, seg), "wb") as f:
        f.write(whole[:pos] + v1 + whole[pos + length:])
    reindex(path)
    found = problems(path)
    assert any("v1 block has no chain link" in p for p in found), found


def test_last_link_without_blocks_falls_back_to_the_record_then_the_anchor(tmp_path):
    path = str(tmp_path / "rec")
    Log.create(path, "empty", **OPTS).close()
    manifest = Log.open(path).manifest
    start = chn.anchor("empty", manifest.start_time_ns, None)
    assert chainverify.last_link(path, manifest) == (0, start)
    manifest.chain = None
    assert chainverify.last_link(path, manifest) == (0, start)


@given(st.binary(max_size=64), st.binary(max_size=5000), st.binary(max_size=9000), st.binary(max_size=9000),
       st.one_of(st.none(), st.binary(min_size=1, max_size=64)))
def test_block_hash_in_pieces_is_the_one_call_digest(prev, header, tables, payload, key):
    """The block hash feeds its parts in pieces (so hashlib keeps the GIL): the digest is that
    of the parts hashed in one go."""
    whole = hashlib.blake2b(prev + header + tables + payload, digest_size=chn.HASH_SIZE, key=key or b"",
                            person=b"evlog-block").digest()
    assert chn.block_hash(prev, header, tables, payload, key) == whole
    assert chn.block_hash(prev, memoryview(header), memoryview(tables), memoryview(payload), key) == whole
