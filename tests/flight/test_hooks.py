"""Opt-in triggers: SIGUSR1 (in a subprocess), uncaught exceptions (hooks chained), exit."""
from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import textwrap
import threading
import time

from flighttools import publish_for, read_recording

from evlog.bus import ServiceBus
from evlog.flight import FlightRecorder

ROOT = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))


def run_script(code: str, tmp_path, *, signal_after: float | None = None) -> subprocess.CompletedProcess:
    script = tmp_path / "script.py"
    script.write_text(textwrap.dedent(code))
    env = dict(os.environ, PYTHONPATH=ROOT)
    proc = subprocess.Popen([sys.executable, str(script), str(tmp_path / "out")], stdout=subprocess.PIPE,
                            stderr=subprocess.PIPE, text=True, env=env)
    if signal_after is not None:
        line = proc.stdout.readline()      # the script says when it is ready
        assert line.strip() == "ready", line + proc.stderr.read()
        time.sleep(signal_after)
        proc.send_signal(signal.SIGUSR1)
    out, err = proc.communicate(timeout=60)
    return subprocess.CompletedProcess(proc.args, proc.returncode, out, err)


def test_no_hook_is_installed_by_default(tmp_path):
    before = (signal.getsignal(signal.SIGUSR1), sys.excepthook, threading.excepthook)
    f = FlightRecorder("t", output_dir=tmp_path)
    f.start_recording(ServiceBus())
    assert (signal.getsignal(signal.SIGUSR1), sys.excepthook, threading.excepthook) == before
    f.close()


def test_sigusr1_triggers_in_a_subprocess(tmp_path):
    proc = run_script("""
        import sys, time
        from evlog.bus import ServiceBus
        from evlog.flight import FlightRecorder
        bus = ServiceBus()
        f = FlightRecorder("sig", keep="5s", after="0.2s", output_dir=sys.argv[1], handle_signals=True)
        f.start_recording(bus)
        print("ready", flush=True)
        deadline = time.monotonic() + 1.5
        i = 0
        while time.monotonic() < deadline:
            bus.publish("Tick", {"i": i}, "s"); i += 1; time.sleep(0.001)
        f.wait(10)
        print([str(p) for p in f.recordings])
        f.close()
    """, tmp_path, signal_after=0.5)
    assert proc.returncode == 0, proc.stderr
    paths = eval(proc.stdout.strip().splitlines()[-1])   # noqa: S307 - our own script's list of str
    assert len(paths) == 1
    records, meta = read_recording(paths[0])
    assert meta["trigger_reason"] == "SIGUSR1" and records[0].data["i"] == 0
    assert records[-1].monotonic <= 5.2e9


def test_signal_handler_chains_and_is_removed(tmp_path):
    calls = []
    previous = signal.signal(signal.SIGUSR1, lambda s, f: calls.append(s))
    try:
        f = FlightRecorder("t", keep="1s", after="0s", output_dir=tmp_path)
        bus = ServiceBus()
        f.start_recording(bus)
        f.install_signal_handler()
        publish_for(bus, 0.05)
        os.kill(os.getpid(), signal.SIGUSR1)
        publish_for(bus, 0.1)
        assert f.wait(10) and calls == [signal.SIGUSR1]
        assert read_recording(f.recordings[0])[1]["trigger_reason"] == "SIGUSR1"
        f.close()
        os.kill(os.getpid(), signal.SIGUSR1)
        assert calls == [signal.SIGUSR1] * 2 and len(f.recordings) == 1
    finally:
        signal.signal(signal.SIGUSR1, previous)


def test_excepthooks_trigger_and_chain_the_previous_ones(tmp_path):
    seen = []
    old_sys, old_thread = sys.excepthook, threading.excepthook
    sys.excepthook = lambda t, e, tb: seen.append(("sys", t))
    threading.excepthook = lambda args: seen.append(("thread", args.exc_type))
    try:
        f = FlightRecorder("t", keep="1s", after="0.1s", output_dir=tmp_path, handle_exceptions=True)
        bus = ServiceBus()
        f.start_recording(bus)
        publish_for(bus, 0.05)
        try:
            raise ValueError("boom")
        except ValueError as exc:
            sys.excepthook(ValueError, exc, exc.__traceback__)   # what the interpreter does
        assert seen == [("sys", ValueError)]
        assert len(f.recordings) == 1 and f.windows[0].written.is_set()   # written before the hook returned
        meta = read_recording(f.recordings[0])[1]
        assert meta["trigger_reason"] == "uncaught ValueError: boom"
        publish_for(bus, 2.0)   # beyond the first window's reach

        def fail() -> None:
            raise KeyError("k")

        t = threading.Thread(target=fail, name="worker")
        t.start()
        t.join()
        assert seen[-1] == ("thread", KeyError)
        publish_for(bus, 0.2)
        assert f.wait(10) and len(f.recordings) == 2
        assert read_recording(f.recordings[1])[1]["trigger_reason"] == "uncaught KeyError in worker: 'k'"
        sys.excepthook(KeyboardInterrupt, KeyboardInterrupt(), None)   # not a bug: no trigger
        assert len(f.recordings) == 2
        f.close()
        assert sys.excepthook is not old_sys and sys.excepthook.__name__ == "<lambda>"   # put back
    finally:
        sys.excepthook, threading.excepthook = old_sys, old_thread


def test_uncaught_exception_and_exit_in_a_subprocess(tmp_path):
    proc = run_script("""
        import sys
        from evlog.bus import ServiceBus
        from evlog.flight import FlightRecorder
        bus = ServiceBus()
        f = FlightRecorder("crash", keep="5s", after="10s", output_dir=sys.argv[1], handle_exceptions=True)
        f.start_recording(bus)
        for i in range(500):
            bus.publish("Tick", {"i": i}, "s")
        raise RuntimeError("bad state")
    """, tmp_path)
    assert proc.returncode == 1 and "RuntimeError: bad state" in proc.stderr   # the previous hook printed it
    (path,) = (tmp_path / "out").iterdir()
    records, meta = read_recording(path)
    assert [r.data["i"] for r in records] == list(range(500))
    assert meta["trigger_reason"] == "uncaught RuntimeError: bad state"
    proc = run_script("""
        import sys
        from evlog.bus import ServiceBus
        from evlog.flight import FlightRecorder
        bus = ServiceBus()
        f = FlightRecorder("bye", keep="5s", after="10s", output_dir=sys.argv[1], trigger_at_exit=True)
        f.start_recording(bus)
        for i in range(300):
            bus.publish("Tick", {"i": i}, "s")
    """, tmp_path)
    assert proc.returncode == 0, proc.stderr
    paths = sorted(p for p in (tmp_path / "out").iterdir() if p.name.startswith("bye"))
    records, meta = read_recording(paths[0])
    assert meta["trigger_reason"] == "process exit" and len(records) == 300
    assert json.dumps(meta)   # plain JSON metadata
