"""The dashboard's filters test per-event headers too (the shared filter language): a page of
events, a count, and a slice of all matching events (the raw path, which decodes headers)."""
from __future__ import annotations

import os

from evlog.segments import Log


def _with_headers(rec_dir: str) -> None:
    with Log.create(os.path.join(rec_dir, "hdrs"), "hdrs", fsync="never", block_max_records=4) as log:
        for i in range(20):
            log.append("Order", {"i": i}, "Api", headers={"correlation_id": f"c-{i % 3}"} if i % 2 else None)


def test_a_page_filtered_on_a_header(client, rec_dir):
    _with_headers(rec_dir)
    d = client.get('/api/v1/recording/hdrs?limit=100&filter=headers.correlation_id == "c-1"').json
    assert [e["offset"] for e in d["events"]] == [i for i in range(20) if i % 2 and i % 3 == 1]
    d = client.get("/api/v1/recording/hdrs?limit=100&filter=not exists(headers)").json
    assert [e["offset"] for e in d["events"]] == list(range(0, 20, 2))


def test_a_slice_of_all_events_matching_a_header_filter(client, rec_dir):
    _with_headers(rec_dir)
    r = client.post("/api/v1/recording/hdrs/slice",
                    json={"name": "c2", "all_matching": True, "filter": 'headers.correlation_id == "c-2"'})
    assert r.status_code == 201
    with Log.open(os.path.join(rec_dir, "c2")) as log:
        got = [(x.data["i"], dict(x.headers)) for x in log.read()]
    assert got == [(i, {"correlation_id": "c-2"}) for i in range(20) if i % 2 and i % 3 == 2]
