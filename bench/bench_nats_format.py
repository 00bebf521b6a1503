"""What storing a NATS message costs, message -> record (no server): the capture's own
`NatsCapture._append` (payload as the data, metadata as per-event headers) against the layout
before headers (`{"nats": META, "data": PAYLOAD}` built as bytes, appended with
`append_encoded`), measured in the same run on the same messages.

    .venv/bin/python bench/bench_nats_format.py [--events 200000] [--repeat 3]

Messages: ~110 bytes of JSON, headers `Evlog-Source` and `Nats-Msg-Id`, JetStream metadata
(stream, sequence, consumer sequence, timestamp). Prints CPU per message (best of --repeat,
log appends with fsync "never": the writer's I/O thread compresses in the background and is
included by closing the log inside the timing) and the recording's size on disk, and the
ratios new / old.
"""
from __future__ import annotations

import argparse
import json
import os
import shutil
import sys
import tempfile
import time

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
sys.path.insert(0, ROOT)

from evlog.integrations.nats import CaptureConfig, NatsCapture  # noqa: E402
from evlog.integrations.natsformat import MSG_ID_HEADER, parse_ack_reply  # noqa: E402
from evlog.segments import Log  # noqa: E402
from evlog.segments.codec import decode_json, encode_json  # noqa: E402

STREAM = "TRADING"
T0 = 1_760_263_200_000_000_000


def messages(n: int) -> list[tuple[str, bytes, dict, int, str]]:
    out = []
    for i in range(n):
        payload = json.dumps({"n": i, "pair": "BTC/USDT", "price": 50000.5 + i % 100, "qty": 0.25 + i % 7,
                              "side": "buy" if i % 2 else "sell"}).encode()
        headers = {"Evlog-Source": "pricer", MSG_ID_HEADER: f"p-{i}"}
        reply = f"$JS.ACK.{STREAM}.evlog.1.{i + 1}.{i + 1}.{T0 + i * 50_000}.{n - i - 1}"
        out.append((f"trading.s{i % 4}.price", payload, headers, T0 + i * 50_000, reply))
    return out


class EnvelopeCapture(NatsCapture):
    """The capture's `_append` before per-event headers: the envelope built as bytes around the
    checked payload, appended with `append_encoded` (the rest of the capture as it is now)."""

    def _append(self, subject, payload, headers, stream, seq, redelivered, ts, mono=None, *, reply=None,
                consumer_seq=None):
        cfg = self.config
        name = cfg.mapper.name(subject, headers)
        source = (headers.get(cfg.source_header) if headers else None) or cfg.default_source
        decode_json(payload)
        meta = {"subject": subject, "stream": stream, "seq": seq}
        if headers:
            if headers.get(MSG_ID_HEADER):
                meta["msg_id"] = headers[MSG_ID_HEADER]
            meta["headers"] = dict(headers)
        if redelivered:
            meta["redelivered"] = True
        data = b'{"nats":' + encode_json(meta) + b',"data":' + bytes(payload).strip() + b"}"
        offset = self.log.append_encoded(name, source, 0, data, b"", timestamp=ts, monotonic=mono, validate=False)
        self.stats.recorded += 1
        return offset


def record(capture_class: type, log: Log, msgs: list) -> None:
    """What the capture does with each JetStream message it receives (past the client)."""
    capture = capture_class(log, CaptureConfig(url="nats://127.0.0.1:1", subject="trading.>", stream=STREAM),
                            status_stream=None)
    append = capture._append
    for i, (subject, payload, headers, ts, reply) in enumerate(msgs):
        ack = parse_ack_reply(reply)
        append(subject, payload, headers, STREAM, i + 1, False, ts, ts - T0, consumer_seq=ack.consumer_seq)


def old_layout(log: Log, msgs: list) -> None:
    record(EnvelopeCapture, log, msgs)


def new_layout(log: Log, msgs: list) -> None:
    record(NatsCapture, log, msgs)


def run(fn, msgs: list, where: str) -> tuple[float, int]:
    """(CPU seconds, bytes on disk) of recording `msgs` with `fn`."""
    if os.path.exists(where):
        shutil.rmtree(where)
    t = time.process_time()
    with Log.create(where, "bench", start_time_ns=T0, fsync="never") as log:
        fn(log, msgs)
    cpu = time.process_time() - t
    size = sum(os.path.getsize(os.path.join(where, f)) for f in os.listdir(where))
    return cpu, size


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--events", type=int, default=200_000)
    ap.add_argument("--repeat", type=int, default=3)
    args = ap.parse_args()
    msgs = messages(args.events)
    tmp = tempfile.mkdtemp(prefix="evlog-natsfmt-")
    try:
        best: dict[str, tuple[float, int]] = {}
        for _ in range(args.repeat):
            for label, fn in (("envelope (before)", old_layout), ("payload + headers", new_layout)):
                cpu, size = run(fn, msgs, os.path.join(tmp, "rec"))
                if label not in best or cpu < best[label][0]:
                    best[label] = (cpu, size)
        n = args.events
        for label, (cpu, size) in best.items():
            print(f"{label:18s}  {cpu / n * 1e6:6.2f} us CPU/message  {size / n:6.1f} bytes/message on disk")
        (old_cpu, old_size), (new_cpu, new_size) = best["envelope (before)"], best["payload + headers"]
        print(f"ratio new/old: CPU {new_cpu / old_cpu:.2f}x, size {new_size / old_size:.2f}x "
              f"({n} messages, best of {args.repeat})")
    finally:
        shutil.rmtree(tmp, ignore_errors=True)


if __name__ == "__main__":
    main()
