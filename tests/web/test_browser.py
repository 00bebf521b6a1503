"""End-to-end tests in a real browser: Debian's chromium, headless, against the app on a loopback port.

Screenshots of the main pages are saved under test-artifacts/web/.
"""
from __future__ import annotations

import os
import shutil
import tempfile

import pytest

from evlog.segments import Log

pytestmark = pytest.mark.browser

CHROMIUM = os.environ.get("EVLOG_CHROMIUM", "/usr/bin/chromium")
ARTIFACTS = os.path.join(os.path.dirname(__file__), "..", "..", "test-artifacts", "web")
ARGS = ["--headless", "--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run",
        "--disable-background-networking", "--disable-component-update", "--disable-sync"]


def _why_no_browser() -> str | None:
    try:
        import playwright.sync_api  # noqa: F401
    except ImportError:
        return "the playwright package is not installed (pip install -e '.[test]')"
    if not os.path.exists(CHROMIUM):
        return f"{CHROMIUM} is missing and could not be installed (run scripts/install-test-deps.sh)"
    return None


@pytest.fixture(scope="module")
def browser_context():
    reason = _why_no_browser()
    if reason:
        pytest.skip(reason)
    from playwright.sync_api import sync_playwright
    profile = tempfile.mkdtemp(prefix="evlog-chromium-")
    with sync_playwright() as p:
        ctx = p.chromium.launch_persistent_context(profile, executable_path=CHROMIUM, headless=True, args=ARGS,
                                                   viewport={"width": 1400, "height": 1000})
        yield ctx
        ctx.close()
    shutil.rmtree(profile, ignore_errors=True)


@pytest.fixture
def page(browser_context):
    pg = browser_context.new_page()
    errors: list[str] = []
    pg.on("pageerror", lambda e: errors.append(str(e)))
    pg.errors = errors
    yield pg
    pg.close()


def shot(page, name: str) -> None:
    os.makedirs(ARTIFACTS, exist_ok=True)
    page.screenshot(path=os.path.join(ARTIFACTS, name + ".png"), full_page=True)


def open_detail(page, live_server, name: str = "demo") -> None:
    page.goto(f"{live_server.url}/recording/{name}")
    page.wait_for_selector("body[data-ready=yes]", timeout=20000)


def test_list_shows_demo_recording(page, live_server):
    page.goto(live_server.url + "/")
    page.wait_for_selector("#recordings tbody tr[data-name=demo]")
    assert page.text_content("#st-count") == "3"
    row = page.locator("#recordings tbody tr[data-name=demo]")
    assert "300" in row.inner_text()
    page.fill("#search", "old")
    assert page.locator("#recordings tbody tr").count() == 1
    page.fill("#search", "")
    page.click("th[data-sort=total_events]")
    assert page.locator("#recordings tbody tr").first.get_attribute("data-name") == "hostile"
    shot(page, "list")
    assert not page.errors


def test_detail_pages_filters_and_shows_an_event(page, live_server):
    open_detail(page, live_server)
    assert page.locator("#timeline tbody tr").count() == 100
    assert page.locator("#chart-types svg rect").count() == 8
    assert page.locator("#chart-time svg rect.hbar").count() == 120
    page.click("#pg-next")
    page.wait_for_selector("#timeline tbody tr[data-offset='100']")
    page.fill("#filter", "PositionSold")
    page.wait_for_function("() => [...document.querySelectorAll('#timeline tbody td.name')].every(td => td.textContent === 'PositionSold')"
                           " && document.querySelectorAll('#timeline tbody tr').length > 0")
    page.locator("#timeline tbody tr").first.click()
    text = page.text_content("#ev-json")
    assert '"profit"' in text and page.text_content("#ev-title") == "PositionSold"
    page.fill("#filter", "data.x ==")
    page.wait_for_function("() => document.getElementById('filter').classList.contains('bad')")
    assert "column" in page.text_content("#filter-msg")
    shot(page, "detail")
    assert not page.errors


def test_histogram_click_jumps(page, live_server):
    open_detail(page, live_server)
    box = page.locator("#chart-time svg rect.hit").bounding_box()
    page.mouse.click(box["x"] + box["width"] * 0.9, box["y"] + box["height"] / 2)
    page.wait_for_function("() => +document.querySelector('#timeline tbody tr').dataset.offset > 200")


def test_select_and_create(page, live_server):
    open_detail(page, live_server)
    rows = page.locator("#timeline tbody tr")
    rows.nth(2).locator("input[type=checkbox]").click()
    rows.nth(5).locator("input[type=checkbox]").click()
    rows.nth(8).locator("input[type=checkbox]").click(modifiers=["Shift"])   # range 5..8
    assert "5 events selected" in page.text_content("#sel-info")
    page.fill("#sel-name", "picked")
    page.click("#sel-create")
    page.wait_for_selector("#created-link")
    with Log.open(os.path.join(live_server.app.extensions["evlog_catalog"].root, "picked")) as log, \
            Log.open(os.path.join(live_server.app.extensions["evlog_catalog"].root, "demo")) as src:
        assert [r.data for r in log.read()] == [r.data for r in src.read() if r.offset in (2, 5, 6, 7, 8)]
    shot(page, "created")


def test_play_pause_moves_and_stops(page, live_server):
    open_detail(page, live_server)
    page.evaluate("document.getElementById('rp-speed').value = Math.log10(20)")
    page.dispatch_event("#rp-speed", "input")
    page.click("#rp-play")
    page.wait_for_function("() => document.querySelectorAll('#rp-feed li').length >= 3")
    page.wait_for_function("() => +document.getElementById('rp-seek').value > 2")
    page.click("#rp-pause")
    page.wait_for_function("() => document.getElementById('replay').dataset.state === 'paused'")
    page.wait_for_timeout(400)
    a = page.input_value("#rp-seek")
    page.wait_for_timeout(800)
    assert page.input_value("#rp-seek") == a
    page.click("#rp-step")
    page.wait_for_function(f"() => +document.getElementById('rp-seek').value > {a}")
    shot(page, "replay")
    page.click("#rp-stop")
    assert not page.errors


def test_live_recording_shows_new_events(page, live_server):
    client = live_server.app.test_client()
    name = client.post("/api/record/start", json={"session_name": "livetest"}).json["recording"]
    client.post("/api/record/event", json={"event_name": "First"})
    open_detail(page, live_server, name)
    assert page.is_visible("#live-badge")
    client.post("/api/record/event", json={"events": [{"event_name": "Arrived", "event_data": {"n": 2}}]})
    page.wait_for_selector("#timeline td.name:text('Arrived')", timeout=10000)
    client.post("/api/record/stop", json={})


def test_recorded_script_does_not_execute(page, live_server):
    open_detail(page, live_server, "hostile")
    page.locator("#timeline tbody tr").nth(2).click()
    assert "<script>" in page.text_content("#ev-json")
    assert "<script>" in page.text_content("#timeline tbody tr:nth-child(3) td.name")
    page.goto(live_server.url + "/")
    page.wait_for_selector("#recordings tbody tr[data-name=hostile]")
    page.goto(f"{live_server.url}/recording/hostile")
    page.wait_for_selector("body[data-ready=yes]")
    page.wait_for_timeout(300)
    assert page.evaluate("window.__pwned === undefined")
    assert page.locator("#timeline img").count() == 0


def test_diff_page_marks_planted_change(page, live_server):
    from webtools import make_demo
    root = live_server.app.extensions["evlog_catalog"].root
    make_demo(root, "planted", change_at=40)
    page.goto(f"{live_server.url}/diff?a=demo&b=planted")
    page.wait_for_selector("body[data-ready=yes]", timeout=20000)
    cells = page.locator(".diff .cell.change")
    assert cells.count() == 2
    assert "#40" in cells.nth(0).inner_text()
    marked = page.locator(".diff .cell.change .f.changed")
    assert marked.count() == 2 and "planted" in marked.nth(1).inner_text()
    assert "1 changed" in page.text_content("#diff-summary")
    # equal events as context on both sides around the change, the rest of each run folded
    assert page.locator(".diff .cell.equal").count() == 2 * (3 + 3 + 3 + 3)
    folds = page.locator(".diff button.fold")
    assert folds.count() == 2 and "34 equal events" in folds.nth(0).inner_text()
    shot(page, "diff")
    folds.nth(0).click()
    page.locator(".diff button.fold").nth(1).wait_for(state="detached")
    assert page.locator(".diff .cell.equal").count() == 2 * (40 + 3 + 3)
    texts = page.locator(".diff .cell.equal .title").all_inner_texts()
    assert [t.split(" ")[0] for t in texts[:80:2]] == [f"#{i}" for i in range(40)]
    assert texts[1:80:2] == texts[:80:2]   # the same events, side by side
    assert not page.errors


def test_time_travel_panel_shows_the_aggregate_then(page, live_server):
    pytest.importorskip("eventsourcing")
    from webtools import make_store
    ann, _ = make_store(live_server.app.extensions["evlog_catalog"].root)
    page.goto(f"{live_server.url}/recording/bank")
    page.wait_for_selector("body[data-ready=yes]", timeout=20000)
    assert page.locator("#tt").is_visible()
    page.locator("#timeline tbody tr[data-offset='2']").click()
    page.wait_for_selector("#tt-meta:has-text('version 2')")
    assert ann in page.text_content("#tt-meta")
    assert '"amount": 10' in page.text_content("#tt-json") and '"owner": "ann"' in page.text_content("#tt-json")
    page.locator("#timeline tbody tr[data-offset='4']").click()
    page.wait_for_selector("#tt-meta:has-text('version 3')")
    assert '"amount": 7' in page.text_content("#tt-json")
    shot(page, "timetravel")
    page.goto(f"{live_server.url}/recording/demo")
    page.wait_for_selector("body[data-ready=yes]", timeout=20000)
    assert not page.locator("#tt").is_visible()
    assert not page.errors
