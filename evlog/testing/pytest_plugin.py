"""evlog's pytest plugin (entry point `pytest11: evlog`): regression tests against recordings.

Fixtures:

- `evlog_bus`: the bus the code under test is wired to; a new `evlog.bus.ServiceBus` by
  default. Override it (conftest.py) to build your bus and subscribe your code to it.
- `evlog_clock`: the virtual clock a baseline replay drives (`now()`, ns): code that reads
  time should read it, to see each input's recorded time.
- `evlog_lockstep`: the replay's `Lockstep` on that clock; with `ack=True` on the marker, an
  asynchronous consumer calls `evlog_lockstep.ack()` once per input it has handled.
- `evlog_recorder`: records buses with `EventRecorder` into the test's tmp_path
  (`rec = evlog_recorder(bus)`, `evlog_recorder.events()`).
- `evlog_baseline`: the test's `BaselineRun` (None without the marker): `.result`, `.summary`...

Marker: `@pytest.mark.evlog_baseline("recordings/baseline_x", inputs="...", outputs=None,
ignore_fields=[...], time_tolerance=None, ack=False, registry=None, upcasters=None)`. The path
is relative to the test file's folder. Before the test function runs, the baseline's inputs
are replayed into `evlog_bus` in lock-step and what the code publishes is recorded; after it
returns, the outputs are compared with the baseline's and the test fails with `evlog diff`'s
report when they differ. `pytest --evlog-update` writes this run's outputs into the baselines
instead. Nothing from evlog is imported before a test needs it (coverage measures evlog's
own import when run with pytest-cov).
"""
from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest

MARKER = "evlog_baseline"
SPEC_OPTIONS = ("inputs", "outputs", "ignore_fields", "time_tolerance", "registry", "upcasters")


def pytest_addoption(parser: pytest.Parser) -> None:
    group = parser.getgroup("evlog", "regression tests against evlog recordings")
    group.addoption("--evlog-update", action="store_true", default=False,
                    help="Re-record the evlog_baseline recordings with this run's outputs (snapshot update).")
    parser.addini("evlog_max_differences", "Differences an evlog_baseline failure shows (all are counted).",
                  default="50")


def pytest_configure(config: pytest.Config) -> None:
    config.addinivalue_line(
        "markers", f"{MARKER}(path, inputs, outputs=None, ignore_fields=(), time_tolerance=None, ack=False): "
                   "replay the inputs of the baseline recording at path into evlog_bus and compare what the "
                   "code publishes with the baseline's outputs (pytest --evlog-update re-records them)")


@pytest.fixture
def evlog_bus() -> Any:
    from evlog.bus import ServiceBus
    return ServiceBus()


@pytest.fixture
def evlog_clock() -> Any:
    from evlog.replay.clock import VirtualClock
    return VirtualClock()


@pytest.fixture
def evlog_lockstep(request: pytest.FixtureRequest, evlog_clock: Any) -> Any:
    from evlog.replay.lockstep import Lockstep
    marker = request.node.get_closest_marker(MARKER)
    ack = bool(marker.kwargs.get("ack", False)) if marker is not None else False
    return Lockstep(ack=ack, clock=evlog_clock)


@pytest.fixture
def evlog_recorder(tmp_path: Path) -> Any:
    from evlog.testing.recording import BusRecorder
    recorder = BusRecorder(tmp_path / "evlog-recordings")
    yield recorder
    recorder.close()


def _spec(marker: pytest.Mark, base: Path, config: pytest.Config) -> Any:
    from evlog.testing.baseline import BaselineSpec
    if len(marker.args) != 1 or not isinstance(marker.args[0], (str, Path)):
        pytest.fail(f"{MARKER} takes one path: @pytest.mark.{MARKER}('recordings/baseline_x', inputs=...)",
                    pytrace=False)
    unknown = set(marker.kwargs) - set(SPEC_OPTIONS) - {"ack"}
    if unknown:
        pytest.fail(f"{MARKER}: unknown option {sorted(unknown)[0]!r}", pytrace=False)
    if not marker.kwargs.get("inputs"):
        pytest.fail(f"{MARKER} needs inputs=: filter text selecting the events replayed into the bus "
                    f"(e.g. inputs='MarketPriceFetched or IndicatorsCalculated')", pytrace=False)
    options = {k: marker.kwargs[k] for k in SPEC_OPTIONS if k in marker.kwargs}
    options["ignore_fields"] = tuple(options.get("ignore_fields", ()))
    return BaselineSpec(path=base / marker.args[0], max_differences=int(config.getini("evlog_max_differences")),
                        **options)


@pytest.fixture(autouse=True)
def evlog_baseline(request: pytest.FixtureRequest) -> Any:
    marker = request.node.get_closest_marker(MARKER)
    if marker is None:
        return None
    from evlog.testing.baseline import BaselineRun
    spec = _spec(marker, Path(request.node.path).parent, request.config)
    return BaselineRun(spec, request.getfixturevalue("evlog_bus"), request.getfixturevalue("evlog_lockstep"),
                       request.getfixturevalue("tmp_path"))


@pytest.hookimpl(wrapper=True)
def pytest_pyfunc_call(pyfuncitem: pytest.Function) -> Any:
    run = pyfuncitem.funcargs.get("evlog_baseline") if hasattr(pyfuncitem, "funcargs") else None
    if run is None:
        return (yield)
    from evlog.segments import EvlogError
    problem = None
    try:
        run.replay()     # every fixture is set up: the code under test is wired to the bus
    except EvlogError as exc:
        problem = str(exc)
    if problem is not None:
        pytest.fail(problem, pytrace=False)
    outcome = yield
    if pyfuncitem.config.getoption("evlog_update"):
        ok = run.update()
    else:
        ok = run.compare()
    if not ok:
        pytest.fail(run.report, pytrace=False)
    return outcome
