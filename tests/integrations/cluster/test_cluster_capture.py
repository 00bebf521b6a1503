"""Capture from a 3-node JetStream cluster through node failures: the recorder waits (and says
so) while there is no leader, and records every published number exactly once, in stream
order, while the stream leader is killed, the recorder is killed three times, or a follower is
stopped for 10 s. The default suite runs EVLOG_CLUSTER_EVENTS (10,000) events per scenario;
bench/bench_nats_cluster.py runs the same scenarios with 100,000 and prints the figures."""
from __future__ import annotations

import json
import os
import signal
import time
import urllib.request

import pytest

from .harness import (
    SCENARIOS,
    Publisher,
    check_exactly_once,
    count_events,
    free_port,
    healthz,
    read_numbers,
    recorder_cmd,
    run_scenario,
    spawn,
    stop,
)

pytestmark = pytest.mark.nats
EVENTS = int(os.environ.get("EVLOG_CLUSTER_EVENTS", "10000"))


def _status(port: int) -> dict:
    try:
        with urllib.request.urlopen(f"http://127.0.0.1:{port}/status", timeout=2) as r:
            return json.loads(r.read())
    except OSError:
        return {}


def _wait(predicate, timeout: float, what: str) -> None:
    deadline = time.monotonic() + timeout
    while not predicate():
        assert time.monotonic() < deadline, f"timed out waiting for {what}"
        time.sleep(0.1)


def test_script_kills_and_restarts_nodes(cluster):
    assert ":4222" not in cluster.urls and len(cluster.urls.split(",")) == 3
    assert cluster.running() == {1: True, 2: True, 3: True}
    cluster.kill(3)
    assert cluster.running()[3] is False
    cluster.restart(3)
    assert cluster.running()[3] is True
    cluster.wait_ready()


@pytest.mark.timeout(180)
def test_start_up_waits_for_a_leader_then_records(cluster, r3_stream, tmp_path):
    """Two of three nodes down: no stream leader. The recorder does not exit ("JetStream is
    not available: timed out" before): it says what it waits for and records once the nodes
    are back; with --give-up-after a script gets a one-line error instead."""
    stream, prefix = r3_stream
    cluster.stop_node(2)
    cluster.stop_node(3)
    port = free_port()
    rec = str(tmp_path / "rec")
    proc = spawn(recorder_cmd(rec, cluster.urls, stream, f"{prefix}.>", "evrec", "--status-port", str(port)),
                 str(tmp_path / "recorder.log"))
    quitter = spawn(recorder_cmd(str(tmp_path / "rec2"), cluster.urls, stream, f"{prefix}.>", "other",
                                 "--give-up-after", "3s"), str(tmp_path / "quitter.log"))
    try:
        _wait(lambda: "leader of stream" in (_status(port).get("waiting_for") or ""), 60, "waiting_for")
        assert healthz(port) == 503
        assert quitter.wait(60) == 2
        err = (tmp_path / "quitter.log").read_text().strip().splitlines()[-1]
        assert err.startswith(("evlog: error: JetStream is not available: ",
                               "evlog: error: cannot create the JetStream consumer: ")), err
        assert err.endswith("(gave up after 3s)"), err
        assert not (tmp_path / "rec2").exists()
        time.sleep(2)
        assert proc.poll() is None, "the recorder must wait for the cluster"
        cluster.restart(2)
        cluster.restart(3)
        cluster.wait_stream_healthy(stream)
        publisher = Publisher(cluster.urls, prefix, 1000).start()
        publisher.join()
        _wait(lambda: count_events(rec) >= 1000, 90, "the recorder to catch up")
        _wait(lambda: healthz(port) == 200, 30, "healthz ok")
    finally:
        stop(quitter)
        assert stop(proc) == 0
    log = (tmp_path / "recorder.log").read_text()
    assert "WAITING: waiting for JetStream leader of stream " + stream in log
    result = check_exactly_once(read_numbers(rec), 1000)
    assert result == {"recorded": 1000, "lost": 0, "duplicated": 0, "out_of_order": 0}


@pytest.mark.slow
@pytest.mark.timeout(400)
@pytest.mark.parametrize("scenario", SCENARIOS)
def test_failure_scenario_records_each_event_exactly_once(cluster, scenario, tmp_path):
    result = run_scenario(cluster, scenario, EVENTS, str(tmp_path))
    stderr = result.pop("stderr")
    print(json.dumps(result))
    assert result["exit"] == 0, stderr
    assert result["stream_messages"] == EVENTS, result
    assert (result["recorded"], result["lost"], result["duplicated"], result["out_of_order"]) == (EVENTS, 0, 0, 0), \
        (result, stderr)
    if scenario == "recorder-kill":
        assert len(result["faults"]) == 3
    if scenario == "leader-kill":
        assert result["publisher_retries"] > 0, "the publishes to the dead leader were retried"


def test_sigkilled_recorder_leaves_no_gap_for_a_restart_on_another_node(cluster, r3_stream, tmp_path):
    """A recorder given only node 3 is killed; its successor given only node 1 resumes after
    the last recorded sequence (the consumer's state is the cluster's, not a node's)."""
    stream, prefix = r3_stream
    rec = str(tmp_path / "rec")
    proc = spawn(recorder_cmd(rec, cluster.url(3), stream, f"{prefix}.>", "evrec"), str(tmp_path / "a.log"))
    publisher = Publisher(cluster.urls, prefix, 4000, rate=2000).start()
    _wait(lambda: count_events(rec) > 500, 60, "first events")
    proc.send_signal(signal.SIGKILL)
    proc.wait(30)
    killed_at = count_events(rec)
    proc = spawn(recorder_cmd(rec, cluster.url(1), stream, f"{prefix}.>", "evrec"), str(tmp_path / "b.log"))
    try:
        publisher.join()
        _wait(lambda: count_events(rec) >= 4000, 90, "the successor to catch up")
    finally:
        assert stop(proc) == 0
    assert killed_at < 4000
    assert check_exactly_once(read_numbers(rec), 4000) == {"recorded": 4000, "lost": 0, "duplicated": 0,
                                                           "out_of_order": 0}
