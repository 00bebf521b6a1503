"""evlog's pytest plugin, run by pytester on a small project: a baseline recording of the demo
market's events, the demo trader wired to evlog_bus. A run whose outputs match passes; a
change of the bot fails with evlog diff's report; --evlog-update re-records the baseline,
after which the same run passes; an acknowledging asynchronous consumer; evlog_recorder."""
from __future__ import annotations

import textwrap

import pytest

from evlog import Log
from evlog.demo import trading_session
from evlog.replayer import EventReplayer

pytest_plugins = ["pytester"]

INPUTS = "MarketPriceFetched or IndicatorsCalculated"

TEST_FILE = f'''
import pytest

@pytest.mark.evlog_baseline("recordings/baseline_trader", inputs="{INPUTS}")
def test_trader(evlog_baseline):
    assert evlog_baseline.result.published > 100
'''


def conftest(buy_below: float) -> str:
    return textwrap.dedent(f'''
        import pytest
        from evlog.demo import DemoTrader

        @pytest.fixture
        def evlog_bus(evlog_bus):
            DemoTrader(evlog_bus, buy_below={buy_below})
            return evlog_bus
        ''')


@pytest.fixture
def project(pytester):
    """A project whose baseline holds only the inputs (a slice of a demo recording)."""
    path = pytester.path / "recordings" / "baseline_trader"
    path.parent.mkdir()
    with Log.create(path, "demo", fsync="never") as log:
        for name, event, source, offset in trading_session(400):
            if name in ("MarketPriceFetched", "IndicatorsCalculated"):
                log.append(name, event, source, monotonic=offset)
    pytester.makeconftest(conftest(30))
    pytester.makepyfile(test_bot=TEST_FILE)
    return pytester


def outputs(path) -> list[tuple[str, str]]:
    with EventReplayer(path) as r:
        return [(e["event_name"], e["event_data"]["pair"]) for e in r.events
                if e["event_name"].startswith("Position")]


def test_fail_with_the_diff_then_update_then_pass(project):
    baseline = project.path / "recordings" / "baseline_trader"
    first = project.runpytest()
    first.assert_outcomes(failed=1)                       # the baseline has no outputs yet
    first.stdout.fnmatch_lines(["*evlog_baseline *baseline_trader: this run's outputs differ*",
                                "+ #* PositionPurchased (OrderExecutor)  only in new",
                                "*recordings differ: 0 only in baseline, * only in new*",
                                "*run pytest --evlog-update to accept*"])
    assert outputs(baseline) == []
    project.runpytest("--evlog-update").assert_outcomes(passed=1)
    recorded = outputs(baseline)
    assert len(recorded) > 10 and recorded[0] == ("PositionPurchased", recorded[0][1])
    project.runpytest().assert_outcomes(passed=1)         # the same code: the same outputs

    project.makeconftest(conftest(35))                    # change the bot
    changed = project.runpytest()
    changed.assert_outcomes(failed=1)
    changed.stdout.fnmatch_lines(["*this run's outputs differ*", "*recordings differ:*"])
    assert "Traceback" not in changed.stdout.str()
    assert outputs(baseline) == recorded                  # a failing check never touches the baseline
    project.runpytest("--evlog-update").assert_outcomes(passed=1)
    assert outputs(baseline) != recorded
    project.runpytest().assert_outcomes(passed=1)


def test_update_keeps_the_inputs_and_is_reproducible(project):
    baseline = project.path / "recordings" / "baseline_trader"
    with EventReplayer(baseline) as r:
        inputs = list(r.events)
    project.runpytest("--evlog-update").assert_outcomes(passed=1)
    with EventReplayer(baseline) as r:
        after = list(r.events)
    def without_offset(events):
        return [{k: v for k, v in e.items() if k != "offset"} for e in events]
    assert without_offset(e for e in after if e["event_name"] in ("MarketPriceFetched", "IndicatorsCalculated")) == \
        without_offset(inputs)                            # outputs come between them: offsets move
    last_input: dict = {}
    for e in after:   # an output is stamped with the recorded time of the input it answers
        if e["event_name"].startswith("Position"):
            assert e["timestamp_offset_ms"] == last_input["timestamp_offset_ms"]
        else:
            last_input = e
    project.runpytest("--evlog-update").assert_outcomes(passed=1)
    with EventReplayer(baseline) as r:
        assert list(r.events) == after


def test_ignore_fields(project):
    project.runpytest("--evlog-update").assert_outcomes(passed=1)
    project.makeconftest(conftest(30.0001))    # the same decisions, another "reason" text
    project.runpytest().assert_outcomes(failed=1)
    project.makepyfile(test_bot=TEST_FILE.replace(f'inputs="{INPUTS}"', f'inputs="{INPUTS}", ignore_fields=["reason"]'))
    project.runpytest().assert_outcomes(passed=1)


def test_a_missing_baseline_and_bad_markers(project):
    project.makepyfile(test_more=f'''
        import pytest

        @pytest.mark.evlog_baseline("recordings/nope", inputs="{INPUTS}")
        def test_missing():
            pass

        @pytest.mark.evlog_baseline("recordings/baseline_trader")
        def test_no_inputs():
            pass

        @pytest.mark.evlog_baseline("recordings/baseline_trader", inputs="X", colour="red")
        def test_unknown_option():
            pass
        ''')
    result = project.runpytest("test_more.py")
    result.assert_outcomes(failed=1, errors=2)
    result.stdout.fnmatch_lines(["*baseline *nope does not exist: make it from a recording of the inputs*"])
    result.stdout.fnmatch_lines(["*evlog_baseline needs inputs=: filter text*"])
    result.stdout.fnmatch_lines(["*evlog_baseline: unknown option 'colour'*"])
    assert "During handling" not in result.stdout.str()


def test_an_acknowledging_asynchronous_consumer(pytester):
    path = pytester.path / "recordings" / "ticks"
    path.parent.mkdir()
    with Log.create(path, "ticks", fsync="never") as log:
        mono = 0
        for i, gap in enumerate([0, 50, 50, 300, 20, 400]):
            mono += gap * 1_000_000
            log.append("Tick", {"i": i}, "feed", monotonic=mono)
    pytester.makeconftest('''
        import queue, threading, time
        import pytest

        class Debouncer:
            """Publishes Burst when a tick comes 100 ms or more after the last; works in its own thread."""
            def __init__(self, bus, now, ack):
                self.bus, self.now, self.ack, self.q, self.last = bus, now, ack, queue.Queue(), None
                bus.subscribe("Tick", lambda n, e, s: self.q.put(e))
                threading.Thread(target=self.run, daemon=True).start()

            def run(self):
                while True:
                    event = self.q.get()
                    time.sleep(0.001)
                    t = self.now()
                    if self.last is not None and t - self.last >= 100_000_000:
                        self.bus.publish("Burst", {"after": event["i"]}, "debouncer")
                    self.last = t
                    self.ack()

        @pytest.fixture
        def evlog_bus(evlog_bus, evlog_clock, evlog_lockstep):
            Debouncer(evlog_bus, evlog_clock.now, evlog_lockstep.ack)
            return evlog_bus
        ''')
    pytester.makepyfile(test_ticks='''
        import pytest

        @pytest.mark.evlog_baseline("recordings/ticks", inputs="Tick", ack=True)
        def test_bursts(evlog_baseline):
            pass
        ''')
    pytester.runpytest("--evlog-update").assert_outcomes(passed=1)
    with EventReplayer(path) as r:
        assert [e["event_data"]["after"] for e in r.events if e["event_name"] == "Burst"] == [3, 5]
    for _ in range(3):
        pytester.runpytest().assert_outcomes(passed=1)


def test_evlog_recorder(pytester):
    pytester.makepyfile(test_rec='''
        from evlog.bus import ServiceBus
        from evlog.demo import DemoTrader

        def test_records(evlog_recorder):
            bus = ServiceBus()
            DemoTrader(bus)
            rec = evlog_recorder(bus)
            bus.publish("MarketPriceFetched", {"pair": "BTC/USDT", "current_price": "50000", "timestamp": "2025-10-12T10:00:00Z"}, "feed")
            bus.publish("IndicatorsCalculated", {"pair": "BTC/USDT", "rsi": 12.5, "cycle_id": 1}, "engine")
            names = [e["event_name"] for e in evlog_recorder.events(rec)]
            assert names == ["MarketPriceFetched", "IndicatorsCalculated", "PositionPurchased"]
        ''')
    pytester.runpytest().assert_outcomes(passed=1)
