"""Benchmark of evlog's eventsourcing recorders next to the package's own, same machine, same run.

Recorders: evlog (fsync=interval, and fsync=always), the package's SQLite recorder on a file
database (it commits, and so syncs, each insert), and its in-memory POPO recorder.

Measured (best of --reps, the recorders interleaved):
  insert, batches of 1      events/s (a new aggregate per insert, as the package's own perf test)
  insert, batches of 100    events/s
  select_notifications      events/s (pages of 500)
  one aggregate's events    ms per select_events of a 10-event aggregate, in logs of 10k
                            events and of the largest size built within --budget seconds
                            (evlog only: its originator index makes this independent of the
                            log's size; also reports the index's memory, the open time with
                            the persisted side index, and the rebuild time without it).
                            "warm": best of interleaved passes; "first pass": after the
                            log's files were evicted from the page cache (fadvise DONTNEED).

    python bench/bench_eventsourcing.py            # default (~2-3 min)
    python bench/bench_eventsourcing.py --quick    # smoke run (seconds)
    python bench/bench_eventsourcing.py --only inserts   # the insert/notification table only
    python bench/bench_eventsourcing.py --always-pairs 8 # batch-of-1 at always, paired rounds
    python bench/bench_eventsourcing.py --interleaved 105000 1000000   # interleaved aggregate reads only
    python bench/bench_eventsourcing.py --interleaved 105000 1000000 10000000 --bulk   # the same, SQLite's
                                                   # table filled by executemany (10M: ~3 GB of disk)
    python bench/bench_eventsourcing.py --big      # aggregate reads only, the large log built to
                                                   # exactly --big-events (10,000,000; several
                                                   # minutes and ~2 GB of disk), then deleted
"""
from __future__ import annotations

import argparse
import os
import random
import shutil
import sys
import tempfile
import time
from typing import Any, Callable, Iterator
from uuid import uuid4

HERE = os.path.dirname(os.path.abspath(__file__))
ROOT = os.path.dirname(HERE)
sys.path[:0] = [ROOT]

from eventsourcing.persistence import InfrastructureFactory, StoredEvent  # noqa: E402

from evlog.eventsourcing.recorders import EvlogApplicationRecorder  # noqa: E402
from evlog.eventsourcing.store import BLOCK_BYTES, acquire  # noqa: E402

STATE = (b'{"timestamp":{"_type_":"datetime_iso","_data_":"2026-11-27T03:50:31.123456+00:00"},'
         b'"originator_topic":"shop.domain:Order","amount":{"_type_":"decimal_str","_data_":"19.99"},'
         b'"sku":"SKU-000123","quantity":2}')


def sqlite_synchronous() -> int:
    import sqlite3
    with tempfile.TemporaryDirectory() as d:
        c = sqlite3.connect(os.path.join(d, "x.db"))
        try:
            c.execute("PRAGMA journal_mode=WAL")
            return int(c.execute("PRAGMA synchronous").fetchone()[0])
        finally:
            c.close()


EVLOG_BLOCK_BYTES: int | None = None   # --block-bytes: the evlog stores' block size (None: the store's)


def make_recorder(kind: str, tmp: str) -> tuple[Any, Callable[[], None]]:
    if kind.startswith("evlog"):
        fsync = kind.split("-", 1)[1]
        d = os.path.join(tmp, kind)
        opts = {} if EVLOG_BLOCK_BYTES is None else {"block_bytes": EVLOG_BLOCK_BYTES}
        store = acquire(os.path.join(d, "events"), tracking_path=os.path.join(d, "tracking"), fsync=fsync, **opts)
        rec = EvlogApplicationRecorder(store)
        return rec, rec.close
    if kind == "sqlite":
        env = {"PERSISTENCE_MODULE": "eventsourcing.sqlite", "SQLITE_DBNAME": os.path.join(tmp, "es.db")}
    else:
        env = {"PERSISTENCE_MODULE": "eventsourcing.popo"}
    factory = InfrastructureFactory.construct(env)
    return factory.application_recorder(), factory.close


def events(n: int, oid: Any = None) -> list[StoredEvent]:
    oid = oid or uuid4()
    return [StoredEvent(oid, v, "shop.domain:Order.Added", STATE) for v in range(1, n + 1)]


def aggregates(count: int, ids: list) -> list[StoredEvent]:
    """The events of `count` new aggregates of 10 events each; their ids are added to `ids`."""
    batch: list[StoredEvent] = []
    for _ in range(count):
        oid = uuid4()
        ids.append(oid)
        batch.extend(events(10, oid))
    return batch


def bench_insert(rec: Any, batch: int, total: int) -> float:
    batches = [events(batch) for _ in range(max(1, total // batch))]
    t = time.perf_counter()
    for b in batches:
        rec.insert_events(b)
    return len(batches) * batch / (time.perf_counter() - t)


def bench_read(rec: Any) -> float:
    store = getattr(rec, "store", None)
    if store is not None:
        store.log.flush(sync=False)  # measure reading, not the writes still queued
    t = time.perf_counter()
    n, start = 0, 0
    while True:
        page = rec.select_notifications(start, 500, inclusive_of_start=False)
        if not page:
            break
        n += len(page)
        start = page[-1].id
    return n / (time.perf_counter() - t)


def run_throughput(kinds: list[str], reps: int, n1: int, n100: int) -> dict:
    best: dict = {k: {"insert1": 0.0, "insert100": 0.0, "read": 0.0} for k in kinds}
    for _ in range(reps):
        for kind in kinds:
            tmp = tempfile.mkdtemp(prefix="evlog-es-bench-")
            try:
                rec, close = make_recorder(kind, tmp)
                try:
                    r = best[kind]
                    r["insert1"] = max(r["insert1"], bench_insert(rec, 1, n1))
                    r["insert100"] = max(r["insert100"], bench_insert(rec, 100, n100))
                    r["read"] = max(r["read"], bench_read(rec))
                finally:
                    close()
            finally:
                shutil.rmtree(tmp, ignore_errors=True)
    return best


def build_log(path: str, target: int, budget: float | None) -> tuple[int, list]:
    """Fill an evlog store with aggregates of 10 events, 10 aggregates (100 events) per insert,
    fsync=never (every log of the comparison is written the same way, so its blocks are alike)."""
    store = acquire(os.path.join(path, "events"), tracking_path=os.path.join(path, "tracking"), fsync="never")
    rec = EvlogApplicationRecorder(store)
    ids, n, t0 = [], 0, time.perf_counter()
    try:
        while n < target and (budget is None or time.perf_counter() - t0 < budget):
            batch = aggregates(10, ids)
            rec.insert_events(batch)
            n += len(batch)
            if budget is None and n % 1_000_000 == 0:
                print(f"  ... {n:,} events in {time.perf_counter() - t0:.0f} s", flush=True)
    finally:
        rec.close()
    return n, ids


def evict(path: str) -> None:
    """Drop the log's own files from the page cache (fsync, then POSIX_FADV_DONTNEED), so the
    next reads come from the disk; other files on the machine are left alone."""
    for root, _, files in os.walk(path):
        for name in files:
            fd = os.open(os.path.join(root, name), os.O_RDONLY)
            try:
                os.fsync(fd)
                if hasattr(os, "posix_fadvise"):
                    os.posix_fadvise(fd, 0, 0, os.POSIX_FADV_DONTNEED)
            finally:
                os.close(fd)


def open_index(path: str) -> tuple[Any, float]:
    t = time.perf_counter()
    store = acquire(os.path.join(path, "events"), tracking_path=os.path.join(path, "tracking"), fsync="never")
    return EvlogApplicationRecorder(store), time.perf_counter() - t


def open_times(path: str, rebuild: bool = True) -> tuple[float, float, int]:
    """(open with the side index, open rebuilding the index from the log, side file bytes)."""
    side = os.path.join(path, "events.index")
    rec, loaded = open_index(path)
    assert rec.store.open_stats["index"] == "side file", rec.store.open_stats
    rec.close()
    size = os.path.getsize(side)
    if not rebuild:
        return loaded, float("nan"), size
    os.remove(side)
    rec, rebuilt = open_index(path)
    assert rec.store.open_stats["index"].startswith("rebuilt"), rec.store.open_stats
    rec.close()   # saves the side file again
    return loaded, rebuilt, size


def read_cost(rec: Any, pick: list) -> float:
    t = time.perf_counter()
    for oid in pick:
        assert len(rec.select_events(oid)) == 10
    return (time.perf_counter() - t) / len(pick) * 1e3


def sqlite_aggregate_read(tmp: str, n: int, samples: int) -> float:
    rec, close = make_recorder("sqlite", tmp)
    try:
        ids = []
        for _ in range(n // 1000):
            rec.insert_events(aggregates(100, ids))
        pick = random.Random(7).sample(ids, min(samples, len(ids)))
        t = time.perf_counter()
        for oid in pick:
            rec.select_events(oid)
        return (time.perf_counter() - t) / len(pick) * 1e3
    finally:
        close()


def aggregate_reads(big: int, budget: float | None, reps: int, samples: int, rebuild: bool) -> None:
    """select_events of random 10-event aggregates in a log of 10,000 events and in one of
    `big` events (built within `budget` seconds, or exactly with budget None)."""
    tmp = tempfile.mkdtemp(prefix="evlog-es-bench-")
    try:
        built = []
        for size, b in ((10_000, 60.0), (big, budget)):
            path = os.path.join(tmp, f"log{size}")
            t = time.perf_counter()
            _, ids = build_log(path, size, b)
            built.append((path, ids, time.perf_counter() - t))
            if budget is None:
                print(f"  built {size:,} events in {built[-1][2]:.1f} s", flush=True)
        rows = []
        for path, ids, build_s in built:
            open_s, rebuild_s, side_bytes = open_times(path, rebuild)
            evict(path)
            rec, _ = open_index(path)
            pick = random.Random(7).sample(ids, min(samples, len(ids)))
            rows.append({"rec": rec, "pick": pick, "open_s": open_s, "build_s": build_s,
                         "rebuild_s": rebuild_s, "side": side_bytes, "disk": _du(path),
                         "events": rec.store.end, "index": rec.store.index_memory(),
                         "cold": read_cost(rec, pick), "warm": float("inf")})
        for _ in range(reps + 2):   # interleaved, best of: both sizes see the same machine load
            for r in rows:
                r["warm"] = min(r["warm"], read_cost(r["rec"], r["pick"]))
        for r in rows:
            r["rec"].close()
        sq = sqlite_aggregate_read(tmp, 10_000, samples)
        print("one aggregate's events (select_events of a 10-event aggregate; logs written 100 events per insert, "
              f"fsync=never; {samples} random aggregates):")
        for r in rows:
            print(f"  log of {r['events']:>11,} events: warm {r['warm']:.3f} ms/read, first pass "
                  f"{r['cold']:.3f} ms; index {r['index'] / 1e6:.1f} MB ({r['index'] / r['events']:.0f} B/event); "
                  f"open with side index {r['open_s']:.2f} s ({r['side'] / 1e6:.1f} MB file), "
                  f"open + index rebuild {r['rebuild_s']:.2f} s; built in {r['build_s']:.1f} s "
                  f"({r['events'] / r['build_s']:,.0f} events/s, {r['disk'] / 1e6:,.0f} MB on disk)")
        small, large = rows
        print(f"  read cost ratio large/small: warm {large['warm'] / small['warm']:.2f}, first pass "
              f"{large['cold'] / small['cold']:.2f} (flat = ~1); sqlite at 10k: {sq:.3f} ms/read")
        if large["events"] < big:
            scale = big / large["events"]
            print(f"  scaled to {big:,} events (not measured; --big measures it): index "
                  f"~{large['index'] * scale / 1e9:.1f} GB in memory; open with side index "
                  f"~{large['open_s'] * scale:.0f} s, rebuild ~{large['rebuild_s'] * scale:.0f} s")
    finally:
        shutil.rmtree(tmp, ignore_errors=True)


def interleaved_rounds(total: int, aggregates: int = 1000, per: int = 105,
                       per_insert: int = 1000) -> tuple[list, Iterator[list]]:
    """`aggregates` aggregates written round-robin, `per` events each (one insert per round
    holding one event of each), with filler aggregates interleaved the same way up to `total`
    events: (the ids of the round-robin aggregates, the inserts as lists of StoredEvents).
    `per_insert` < 1000: each round's events in inserts of that many (1: one event per insert,
    as one command per aggregate would; the writer then fills blocks of its block size)."""
    ids = [uuid4() for _ in range(aggregates)]
    filler = [uuid4() for _ in range(max(0, total - aggregates * per) // per)]

    def inserts() -> Iterator[list]:
        for v in range(1, per + 1):
            for group in [ids] + [filler[a:a + 1000] for a in range(0, len(filler), 1000)]:
                events = [StoredEvent(o, v, "shop.domain:Order.Added", STATE) for o in group]
                for a in range(0, len(events), per_insert):
                    yield events[a:a + per_insert]
    return ids, inserts()


def build_interleaved(rec: Any, total: int, aggregates: int = 1000, per: int = 105, per_insert: int = 1000) -> list:
    """The interleaved log through the recorder's `insert_events` (`interleaved_rounds`)."""
    ids, inserts = interleaved_rounds(total, aggregates, per, per_insert)
    for batch in inserts:
        rec.insert_events(batch)
    return ids


def bulk_sqlite(db: str, total: int, aggregates: int, transaction: int = 500_000) -> list:
    """The same rows as `build_interleaved` into the SQLite recorder's own table (created by the
    recorder), in their insert order, by `executemany` in large transactions on a connection of
    its own (a 1 GB page cache, no sync: the file it leaves is the same database). What
    `insert_events` would have written, minus ~20 minutes at 10M events."""
    import sqlite3
    ids, inserts = interleaved_rounds(total, aggregates)
    c = sqlite3.connect(db, isolation_level=None)
    try:
        c.execute("PRAGMA journal_mode=WAL")
        c.execute("PRAGMA synchronous=OFF")
        c.execute("PRAGMA cache_size=-1000000")
        rows: list = []
        for batch in inserts:
            rows += [(s.originator_id.hex, s.originator_version, s.topic, s.state) for s in batch]
            if len(rows) >= transaction:
                _sqlite_rows(c, rows)
                rows = []
        _sqlite_rows(c, rows)
        c.execute("PRAGMA wal_checkpoint(TRUNCATE)")
    finally:
        c.close()
    return ids


def _sqlite_rows(c: Any, rows: list) -> None:
    c.execute("BEGIN")
    c.executemany("INSERT INTO stored_events VALUES (?,?,?,?)", rows)
    c.execute("COMMIT")


def _open_evlog(tmp: str, block_bytes: int | None = None) -> tuple[Any, Callable[[], None]]:
    opts = {} if block_bytes is None else {"block_bytes": block_bytes}
    store = acquire(os.path.join(tmp, "events"), tracking_path=os.path.join(tmp, "tracking"), fsync="never", **opts)
    rec = EvlogApplicationRecorder(store)
    return rec, rec.close


def interleaved_reads(total: int, samples: int, reps: int, bulk: bool = False, per_insert: int = 1000,
                      block_bytes: int | None = None, cold: int = 9) -> dict:
    """ms per select_events of one interleaved aggregate (105 events in as many blocks):
    evlog (fsync=never while building: the read does not depend on it) and SQLite, same run,
    each recorder closed after the build and opened again for the reads.
    "very first": the median of `cold` reads, each the first after a reopen (none of the log's
    blocks decoded, SQLite's page cache empty; the OS's page cache is warm for both); "first": the first read of each sampled aggregate (evlog: the blocks it
    shares with the aggregates read before it decoded, its own records not built yet);
    "warm": the best of `reps` passes over the same aggregates.
    `bulk`: SQLite's table filled by `bulk_sqlite` (evlog is built by its recorder either way);
    `per_insert`: events per insert (`interleaved_rounds`); `block_bytes`: evlog's block size."""
    out: dict = {}
    for kind in ("evlog", "sqlite"):
        tmp = tempfile.mkdtemp(prefix="evlog-es-bench-")
        try:
            opener = (lambda d: _open_evlog(d, block_bytes)) if kind == "evlog" else \
                (lambda d: make_recorder("sqlite", d))
            rec, close = opener(tmp)
            try:
                t = time.perf_counter()
                if kind == "sqlite" and bulk:
                    close()
                    ids = bulk_sqlite(os.path.join(tmp, "es.db"), total, min(1000, total // 105))
                else:
                    ids = build_interleaved(rec, total, min(1000, total // 105), per_insert=per_insert)
                    close()
                build_s = time.perf_counter() - t
                disk = _du(tmp)
                pick = random.Random(11).sample(ids, min(samples + cold, len(ids)))
                pick, cold_pick = pick[:samples], pick[samples:]
                very: list[float] = []
                for oid in cold_pick:   # each reopened: none of its blocks decoded, no page cached
                    rec, close = opener(tmp)
                    t = time.perf_counter()
                    assert len(rec.select_events(oid)) == 105
                    very.append((time.perf_counter() - t) * 1e3)
                    close()
                rec, close = opener(tmp)   # reopened: nothing of the build cached
                t = time.perf_counter()
                for oid in pick:
                    assert len(rec.select_events(oid)) == 105
                first = (time.perf_counter() - t) / len(pick) * 1e3
                warm = float("inf")
                for _ in range(reps):
                    t = time.perf_counter()
                    for oid in pick:
                        rec.select_events(oid)
                    warm = min(warm, (time.perf_counter() - t) / len(pick) * 1e3)
                if kind == "evlog":
                    out["blocks"] = len(rec.store.log.index_entries())
                out[kind] = {"first": first, "warm": warm, "very_first": sorted(very)[len(very) // 2], "build_s": build_s,
                             "disk": disk}
            finally:
                close()
        finally:
            shutil.rmtree(tmp, ignore_errors=True)
    return out


def print_interleaved(sizes: list[int], samples: int, reps: int, bulk: bool = False, per_insert: int = 1000,
                      block_bytes: int | None = None) -> None:
    print("one interleaved aggregate (1,000 aggregates round-robin x 105 events, filler aggregates interleaved "
          f"to the log size, {per_insert} events per insert, evlog blocks of "
          f"{(block_bytes or BLOCK_BYTES) >> 10} KiB; select_events of {samples} random ones, ms per read"
          f"{'; sqlite bulk-built' if bulk else ''}):")
    for total in sizes:
        r = interleaved_reads(total, samples, reps, bulk, per_insert, block_bytes)
        e, q = r["evlog"], r["sqlite"]
        print(f"  {total:>11,} events: evlog very first {e['very_first']:.2f} first {e['first']:.3f} warm "
              f"{e['warm']:.3f}; sqlite very first {q['very_first']:.2f} first {q['first']:.3f} warm {q['warm']:.3f}; "
              f"ratio sqlite/evlog very first {q['very_first'] / e['very_first']:.2f}x, first "
              f"{q['first'] / e['first']:.2f}x, warm {q['warm'] / e['warm']:.2f}x (target >= 1x); built in "
              f"{e['build_s']:.0f} s / {q['build_s']:.0f} s, {e['disk'] / 1e6:,.0f} MB / {q['disk'] / 1e6:,.0f} MB; "
              f"{r['blocks']:,} evlog blocks",
              flush=True)


def always_pairs(rounds: int, inserts: int) -> None:
    """Batch-of-1 inserts at fsync=always, evlog (with the space reserved ahead, and without:
    `preallocate_bytes=0`) and SQLite FULL, in rounds of `inserts` alternating in one process
    (the order reversed every other round): the median of the paired ratios, which a noisy
    machine moves less than separate best-of runs."""
    import statistics
    tmp = tempfile.mkdtemp(prefix="evlog-es-bench-")
    recs: dict[str, tuple[Any, Callable[[], None]]] = {}
    try:
        for kind, reserve in (("evlog-always", True), ("evlog-always no-reserve", False)):
            d = os.path.join(tmp, "reserve" if reserve else "plain")
            store = acquire(os.path.join(d, "events"), tracking_path=os.path.join(d, "tracking"), fsync="always")
            if not reserve:
                store.log._writer._preallocate = 0   # noqa: SLF001 - before its first write
            rec = EvlogApplicationRecorder(store)
            recs[kind] = (rec, rec.close)
        recs["sqlite"] = make_recorder("sqlite", tmp)
        us: dict[str, list[float]] = {k: [] for k in recs}
        for r in range(rounds):
            for kind in (list(recs) if r % 2 == 0 else list(recs)[::-1]):
                batches = [events(1) for _ in range(inserts)]
                insert = recs[kind][0].insert_events
                t = time.perf_counter()
                for b in batches:
                    insert(b)
                us[kind].append((time.perf_counter() - t) / inserts * 1e6)
    finally:
        for _, close in recs.values():
            close()
        shutil.rmtree(tmp, ignore_errors=True)
    print(f"batch-of-1 inserts at fsync=always, {rounds} rounds of {inserts:,} alternating (load "
          f"{os.getloadavg()[0]:.2f}), µs per insert:")
    for kind, v in us.items():
        print(f"  {kind:<24} median {statistics.median(v):6.0f}   rounds {' '.join(f'{x:.0f}' for x in v)}")
    for kind in ("evlog-always", "evlog-always no-reserve"):
        ratio = statistics.median([q / e for q, e in zip(us["sqlite"], us[kind])])
        print(f"  ratio {kind} / sqlite (speed, median of pairs): {ratio:.2f}x (target >= 1x)")


def _du(path: str) -> int:
    return sum(os.path.getsize(os.path.join(root, f)) for root, _, files in os.walk(path) for f in files)


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--quick", action="store_true", help="smoke run")
    ap.add_argument("--reps", type=int, default=3)
    ap.add_argument("--budget", type=float, default=30.0, help="seconds to build the large log (without --big)")
    ap.add_argument("--big", action="store_true",
                    help="aggregate reads only, the large log built to exactly --big-events (no time budget)")
    ap.add_argument("--big-events", type=int, default=10_000_000, help="size of the large log")
    ap.add_argument("--no-rebuild", action="store_true", help="skip timing the index rebuild at open")
    ap.add_argument("--interleaved", type=int, nargs="*", default=None, metavar="EVENTS",
                    help="only the interleaved aggregate reads, at these log sizes (default 105000)")
    ap.add_argument("--bulk", action="store_true",
                    help="interleaved reads: fill SQLite's table by executemany in large transactions "
                         "(the same rows; what makes 10M events take minutes, not an hour)")
    ap.add_argument("--per-insert", type=int, default=1000,
                    help="interleaved reads: events per insert (default 1000: one insert per round; 1: one per command)")
    ap.add_argument("--block-bytes", type=int, default=None, help="evlog's block size (default: the store's)")
    ap.add_argument("--always-pairs", type=int, default=None, metavar="ROUNDS",
                    help="only batch-of-1 inserts at fsync=always: evlog with and without reserved space "
                         "and SQLite FULL, ROUNDS rounds of 1,000 alternating in one process")
    ap.add_argument("--only", choices=["inserts"], default=None,
                    help="inserts: only the throughput table (inserts x1, x100, select_notifications)")
    args = ap.parse_args()
    global EVLOG_BLOCK_BYTES
    EVLOG_BLOCK_BYTES = args.block_bytes
    reps = 1 if args.quick else args.reps
    n1, n100 = (200, 2_000) if args.quick else (2_000, 50_000)
    samples = 50 if args.quick else 500
    print(f"# eventsourcing persistence benchmark (python {sys.version.split()[0]}, "
          f"{os.cpu_count()} cpus, best of {reps}, evlog blocks of {(args.block_bytes or BLOCK_BYTES) >> 10} KiB)")
    if args.big:
        aggregate_reads(args.big_events, None, reps, samples, not args.no_rebuild)
        return
    if args.always_pairs is not None:
        always_pairs(args.always_pairs, 100 if args.quick else 1000)
        return
    if args.interleaved is not None:
        print_interleaved(args.interleaved or [105_000], 20 if args.quick else 200, reps, args.bulk,
                          args.per_insert, args.block_bytes)
        return

    kinds = ["evlog-interval", "evlog-always", "sqlite", "popo"]
    res = run_throughput(kinds, reps, n1, n100)
    print(f"{'recorder':<16}{'insert x1 ev/s':>16}{'insert x100 ev/s':>18}{'select_notif ev/s':>19}")
    for k in kinds:
        r = res[k]
        print(f"{k:<16}{r['insert1']:>16,.0f}{r['insert100']:>18,.0f}{r['read']:>19,.0f}")
    s, e = res["sqlite"], res["evlog-interval"]
    print(f"ratio evlog-interval / sqlite: insert x1 {e['insert1'] / s['insert1']:.1f}x "
          f"(target >= 20x), insert x100 {e['insert100'] / s['insert100']:.1f}x (target >= 2x), "
          f"select_notifications {e['read'] / s['read']:.2f}x (target >= 1x)")
    a = res["evlog-always"]
    print(f"ratio evlog-always / sqlite: insert x1 {a['insert1'] / s['insert1']:.1f}x (target >= 1x), "
          f"insert x100 {a['insert100'] / s['insert100']:.1f}x, select_notifications {a['read'] / s['read']:.2f}x")
    print(f"  (sqlite here: the package's recorder, WAL, PRAGMA synchronous={sqlite_synchronous()} "
          f"(2 = FULL, the default): the same setting beside both evlog policies)")
    if args.only == "inserts":
        return
    print_interleaved([21_000 if args.quick else 105_000], 20 if args.quick else 200, reps,
                      block_bytes=args.block_bytes)
    aggregate_reads(50_000 if args.quick else args.big_events, 2.0 if args.quick else args.budget,
                    reps, samples, not args.no_rebuild)


if __name__ == "__main__":
    main()
