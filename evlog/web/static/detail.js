/* Recording playback view. One playhead (`S.cursor`, an event offset) is shared by the timeline
   (highlighted, followed), the histogram (red line), the position slider and the server-side
   replay (moving the playhead seeks a running replay; a running replay moves the playhead).
   The URL holds the recording, the playhead (offset) and the filter. */
"use strict";
(() => {
  const { V1, api, el, fmtDuration, fmtNum, fmtBytes, fmtDate, pct, toast, needToken, recUrl, busyButton, jsonTree, copyText, inField } = EV;
  const NAME = document.body.dataset.name;
  const $ = id => document.getElementById(id);
  const S = {
    first: 0, end: 0, total: 0, summary: null, limit: 100, filter: "",
    page: null, cursor: null, current: null, history: [],
    selected: new Set(), ranges: [], allMatching: false, lastClicked: null,
    replay: null, status: null, epoch: 0, poll: null, seeking: false, seeks: 0, seeking_n: 0,
    setCursorLine: () => {}, live: null, broken: false,
  };

  // header, charts ------------------------------------------------------------------------
  async function loadSummary() {
    const s = await api(recUrl(NAME, "/summary"));
    const grew = S.summary && s.total_events !== S.summary.total_events;
    S.summary = s; S.total = s.total_events; S.first = s.first_offset; S.end = s.end_offset;
    $("live-badge").hidden = !s.live;
    $("tt").hidden = !s.eventsourcing;
    const item = (k, v) => [el("dt", { text: k }), el("dd", { text: v })];
    $("meta").replaceChildren(...[
      item("Session", s.session_name), item("Start", fmtDate(s.start_time)), item("Duration", fmtDuration(s.duration_ms)),
      item("Events", fmtNum(s.total_events)), item("Types", fmtNum(Object.keys(s.names).length)),
      item("Format", s.format), item("Stored", fmtBytes(s.stored_bytes)),
    ].flat());
    Charts.bars($("chart-types"), Object.entries(s.names), { onclick: name => setFilter(JSON.stringify(name)) });
    $("rp-seek").min = S.first; $("rp-seek").max = Math.max(S.first, S.end - 1);
    return grew;
  }
  let bins = null;
  async function loadHistogram() {
    bins = (await api(recUrl(NAME, "/histogram?bins=160"))).bins;
    drawHistogram();
  }
  function drawHistogram() {
    if (!bins) return;
    S.setCursorLine = Charts.histogram($("chart-time"), bins, { height: 52, onpick: jumpToTime, ondrag: jumpToTime });
    S.setCursorLine(S.current ? S.current.timestamp_offset_ms : null);
  }
  window.addEventListener("resize", () => { clearTimeout(drawHistogram.t); drawHistogram.t = setTimeout(drawHistogram, 150); });
  function updateExports() {
    for (const f of ["json", "jsonl", "csv"]) {
      const q = new URLSearchParams({ format: f });
      if (S.filter) q.set("filter", S.filter);
      $("exp-" + f).href = recUrl(NAME, "/export?" + q);
    }
    $("exp-scope").textContent = S.filter ? " (filtered)" : "";
  }
  function broken(message) {
    S.broken = true;
    clearInterval(S.live);
    $("rec-error").hidden = false;
    $("rec-error").textContent = "This recording cannot be read: " + message;
    document.body.classList.add("broken");   // the controls are greyed out: nothing to play
    document.body.dataset.ready = "error";
  }

  // URL state (deep links) -------------------------------------------------------------------
  let urlTimer = null;
  function saveUrl() {
    clearTimeout(urlTimer);
    urlTimer = setTimeout(() => {
      const q = new URLSearchParams();
      if (S.cursor !== null) q.set("offset", S.cursor);
      if (S.filter) q.set("filter", S.filter);
      if (S.limit !== 100) q.set("limit", S.limit);
      history.replaceState(null, "", location.pathname + (q.toString() ? "?" + q : ""));
    }, 120);
  }

  // pages ------------------------------------------------------------------------------------
  let inflight = null, busyTimer = null;
  function busy(on) {
    clearTimeout(busyTimer);
    if (on) busyTimer = setTimeout(() => { $("filter-msg").textContent = "scanning…"; $("filter-cancel").hidden = false; }, 300);
    else $("filter-cancel").hidden = true;
  }
  /* Load a page: {offset} forward, {before} backwards, {from_ms} from a time; `append` adds
     the events to the current (partial) page. Returns the page, or null if aborted. */
  async function load(where, { append = false } = {}) {
    if (inflight) inflight.abort();
    const ctl = inflight = new AbortController();
    const q = new URLSearchParams({ limit: append ? S.limit - S.page.events.length : S.limit });
    for (const [k, v] of Object.entries(where)) q.set(k, typeof v === "number" ? (k === "from_ms" ? v.toFixed(3) : v) : v);
    if (S.filter) q.set("filter", S.filter);
    busy(true);
    try {
      const p = await api(recUrl(NAME, "?" + q), { signal: ctl.signal });
      if (append) {
        S.page.events.push(...p.events);
        S.page.next_offset = p.next_offset; S.page.complete = p.complete;
      } else S.page = p;
      S.page.scanned_to = p.complete ? null : p.next_offset;
      $("filter").classList.remove("bad");
      renderPage();
      return S.page;
    } catch (e) {
      if (e.name === "AbortError") return null;
      if (e.status === 400 && S.filter) { $("filter-msg").textContent = e.message; $("filter").classList.add("bad"); }
      else if (e.status === 400 || e.status === 404) broken(e.message);
      else toast(e.message, "error");
      return null;
    } finally {
      if (inflight === ctl) { inflight = null; busy(false); }
    }
  }
  function pageStart(offset) {
    return S.first + Math.floor(Math.max(0, offset - S.first) / S.limit) * S.limit;
  }
  function onPage(offset) {
    const evs = S.page ? S.page.events : [];
    return evs.length > 0 && evs[0].offset <= offset && offset <= evs[evs.length - 1].offset && evs.some(e => e.offset === offset);
  }
  /* Move the playhead to `offset` (loading its page), optionally seeking the replay. */
  async function moveTo(offset, { seek = true, follow = true } = {}) {
    offset = Math.max(S.first, Math.min(offset, S.end - 1));
    if (!onPage(offset)) {
      const p = await load(S.filter ? { offset } : { offset: pageStart(offset) });
      if (!p) return;
      if (S.filter) S.history = [];
      if (!onPage(offset)) offset = p.events.length ? p.events[0].offset : offset;
    }
    setCursor(offset, { follow });
    if (seek) seekReplay({ offset });
  }
  function setCursor(offset, { follow = true } = {}) {
    S.cursor = offset;
    const ev = S.page && S.page.events.find(e => e.offset === offset);
    document.querySelectorAll("#timeline tr.current").forEach(tr => tr.classList.remove("current"));
    const tr = document.querySelector(`#timeline tr[data-offset="${offset}"]`);
    if (tr) { tr.classList.add("current"); if (follow) tr.scrollIntoView({ block: "nearest" }); }
    if (!S.seeking) $("rp-seek").value = offset;
    if (ev) showEvent(ev);
    S.setCursorLine(ev ? ev.timestamp_offset_ms : null);
    saveUrl();
  }
  async function step(delta) {
    const evs = S.page ? S.page.events : [];
    const i = evs.findIndex(e => e.offset === S.cursor);
    const j = i < 0 ? (delta > 0 ? 0 : evs.length - 1) : i + delta;
    if (j >= 0 && j < evs.length) { setCursor(evs[j].offset); seekReplay({ offset: evs[j].offset }); return; }
    if (delta > 0 && S.page && S.page.next_offset !== null) {
      const p = await nextPage();
      if (p && p.events.length) { setCursor(p.events[0].offset); seekReplay({ offset: p.events[0].offset }); }
    } else if (delta < 0 && evs.length && evs[0].offset > S.first) {
      const p = await prevPage();
      if (p && p.events.length) { const last = p.events[p.events.length - 1]; setCursor(last.offset); seekReplay({ offset: last.offset }); }
    }
  }
  async function nextPage() {
    const p = S.page;
    if (!p || p.next_offset === null) return null;
    S.history.push(p.offset);
    return load({ offset: p.next_offset });
  }
  async function prevPage() {
    const p = S.page;
    if (!p) return null;
    const firstShown = p.events.length ? p.events[0].offset : p.offset;
    if (firstShown <= S.first) return null;
    if (!S.filter) return load({ offset: Math.max(S.first, pageStart(firstShown) - S.limit) });
    return load({ before: firstShown });   // filtered: read backwards from the page's first event
  }
  function preview(data) {
    const s = JSON.stringify(data);
    return s === undefined ? "" : s.length > 140 ? s.slice(0, 139) + "…" : s;
  }
  function isSelected(off) { return S.selected.has(off) || S.ranges.some(([a, b]) => a <= off && off <= b); }
  function renderPage() {
    const p = S.page;
    const tbody = document.querySelector("#timeline tbody");
    tbody.replaceChildren(...p.events.map(ev => {
      const cb = el("input", { type: "checkbox", "aria-label": "select event " + ev.offset });
      cb.checked = S.allMatching || isSelected(ev.offset);
      cb.disabled = S.allMatching;
      cb.addEventListener("click", e => { e.stopPropagation(); toggle(ev.offset, cb.checked, e.shiftKey); });
      const tr = el("tr", { "data-offset": ev.offset, class: ev.offset === S.cursor ? "current" : "" },
        el("td", { class: "cb" }, cb),
        el("td", { class: "num", text: ev.offset }),
        el("td", { class: "num", text: (ev.timestamp_offset_ms / 1000).toFixed(3) }),
        el("td", { class: "name", text: ev.event_name }),
        el("td", { class: "muted", text: ev.source }),
        el("td", { class: "preview", text: preview(ev.event_data) }));
      tr.addEventListener("click", () => { setCursor(ev.offset, { follow: false }); seekReplay({ offset: ev.offset }); });
      return tr;
    }));
    const first = p.events.length ? p.events[0].offset : p.offset;
    const last = p.events.length ? p.events[p.events.length - 1].offset : p.offset;
    $("pg-info").textContent = p.events.length
      ? `#${fmtNum(first)} – #${fmtNum(last)} of ${fmtNum(S.total)}${S.filter ? " (filtered)" : ""}` : "";
    $("pg-next").disabled = p.next_offset === null;
    $("pg-prev").disabled = first <= S.first;
    $("sel-page").checked = p.events.length > 0 && p.events.every(e => isSelected(e.offset));
    filterState();
  }
  /* What the page says about the filter: honest about a scan stopped by its time budget. */
  function filterState() {
    const p = S.page, msg = $("filter-msg");
    const partial = !p.complete;
    $("filter-continue").hidden = !partial;
    msg.classList.toggle("partial", partial);
    if (!S.filter) { msg.textContent = ""; return; }
    if (partial) {
      const upto = p.scanned_to !== null && p.scanned_to !== undefined ? p.scanned_to : p.next_offset;
      const done = pct(upto - S.first, S.total);
      msg.textContent = p.events.length
        ? `partial page: scanned to #${fmtNum(upto)} (${done.toFixed(0)}%)`
        : `partial scan: no match before #${fmtNum(upto)} (${done.toFixed(0)}% scanned)`;
    } else msg.textContent = p.events.length ? "" : "no matching events from here";
  }
  $("filter-continue").addEventListener("click", () => {
    const p = S.page;
    if (!p || p.complete) return;
    if (p.events.length < S.limit) load({ offset: p.next_offset }, { append: p.events.length > 0 });
    else nextPage();
  });
  $("filter-cancel").addEventListener("click", () => { if (inflight) inflight.abort(); busy(false); $("filter-msg").textContent = "cancelled"; });

  // the inspector ----------------------------------------------------------------------------
  function showEvent(ev) {
    S.current = ev;
    $("ev-title").textContent = ev.event_name;
    $("ev-meta").textContent = `#${ev.offset} · ${ev.source || "no source"} · +${(ev.timestamp_offset_ms / 1000).toFixed(3)} s · ${fmtDate(ev.timestamp)}`;
    $("ev-tree").replaceChildren(...(ev.headers ? [jsonTree(ev.headers, "headers", 1)] : []), jsonTree(ev.event_data, "data", 2));
    $("ev-copy").hidden = false;
    showChain(ev);
    if (S.summary && S.summary.eventsourcing) timeTravel(ev);
  }
  $("ev-copy").addEventListener("click", async () => {
    if (!S.current) return;
    const ok = await copyText(JSON.stringify(S.current, null, 2));
    toast(ok ? `Copied event #${S.current.offset}` : "Copy failed", ok ? "ok" : "error");
  });
  const corrOf = ev => (ev.headers && ev.headers.correlation_id) || (ev.event_data && typeof ev.event_data === "object" && !Array.isArray(ev.event_data) ? ev.event_data.correlation_id : undefined);
  let chainTimer = null, chainFor = null;
  function showChain(ev, start) {
    clearTimeout(chainTimer);
    if (corrOf(ev) === undefined || corrOf(ev) === null) { $("chain").hidden = true; chainFor = null; return; }
    $("chain").hidden = false;
    if (chainFor && chainFor.corr === corrOf(ev) && start === undefined) { markChain(ev.offset); return; }
    $("chain-meta").textContent = "scanning…";
    chainTimer = setTimeout(async () => {
      try {
        const q = new URLSearchParams({ offset: ev.offset });
        if (start !== undefined) q.set("start", start);
        const c = await api(recUrl(NAME, "/chain?" + q));
        if (!S.current || S.current.offset !== ev.offset) return;
        const prev = start !== undefined && chainFor ? chainFor.events : [];
        const seen = new Set(prev.map(x => x.offset));
        chainFor = { corr: c.correlation_id, events: prev.concat(c.events.filter(x => !seen.has(x.offset))), next: c.next_offset };
        renderChain(c);
      } catch (e) { $("chain-meta").textContent = e.message; }
    }, 150);
  }
  function renderChain(c) {
    const list = $("chain-list");
    list.replaceChildren(...chainFor.events.map(x => {
      const li = el("li", { "data-offset": x.offset, class: x.offset === S.cursor ? "current" : "", onclick: () => moveTo(x.offset) },
        el("span", { class: "num", text: "#" + x.offset }), " ", el("span", { class: "name", text: x.event_name }),
        el("span", { class: "muted small", text: " " + (x.source || "") }));
      li.style.setProperty("--depth", String(Math.min(x.depth, 12)));   // CSSOM: allowed by the CSP
      return li;
    }));
    $("chain-meta").textContent = `correlation ${c.correlation_id} · ${chainFor.events.length} events` +
      (c.complete ? "" : " · partial scan");
    $("chain-more").hidden = c.complete;
  }
  function markChain(offset) {
    document.querySelectorAll("#chain-list li").forEach(li => li.classList.toggle("current", +li.dataset.offset === offset));
  }
  $("chain-more").addEventListener("click", () => { if (S.current && chainFor && chainFor.next !== null) showChain(S.current, chainFor.next); });
  async function timeTravel(ev) {
    const q = new URLSearchParams({ offset: ev.offset, originator_id: ev.source || "" });
    $("tt-meta").textContent = `aggregate ${ev.source} as of #${ev.offset}…`;
    try {
      const t = await api(recUrl(NAME, "/timetravel?" + q));
      if (!S.current || S.current.offset !== ev.offset) return;
      const a = t.aggregate;
      $("tt-meta").textContent = a
        ? `aggregate ${t.originator_id} as of #${t.offset}: version ${a.version}, ${fmtNum(a.events)} events`
        : `aggregate ${t.originator_id} did not exist yet at #${t.offset}`;
      $("tt-json").textContent = a ? JSON.stringify(a.state, null, 2) : "";
    } catch (e) { $("tt-meta").textContent = e.message; $("tt-json").textContent = ""; }
  }

  // navigation controls ----------------------------------------------------------------------
  $("pg-first").addEventListener("click", () => { S.history = []; moveTo(S.first); });
  $("pg-next").addEventListener("click", async () => { const p = await nextPage(); if (p && p.events.length) setCursor(p.events[0].offset); });
  $("pg-prev").addEventListener("click", async () => { const p = await prevPage(); if (p && p.events.length) setCursor(p.events[0].offset); });
  $("pg-last").addEventListener("click", async () => {
    if (!S.filter) { moveTo(S.end - 1); return; }
    const p = await load({ before: S.end });
    if (p && p.events.length) setCursor(p.events[p.events.length - 1].offset);
  });
  $("pg-goto").addEventListener("change", () => { const v = parseInt($("pg-goto").value, 10); if (!isNaN(v)) moveTo(v); });
  $("pg-size").addEventListener("change", () => { S.limit = parseInt($("pg-size").value, 10); saveUrl(); moveTo(S.cursor === null ? S.first : S.cursor, { seek: false }); });
  async function jumpToTime(ms) {
    const p = await load({ from_ms: ms });
    if (p && p.events.length) { setCursor(p.events[0].offset); seekReplay({ offset: p.events[0].offset }); }
  }
  $("rp-seek").addEventListener("input", () => { S.seeking = true; $("rp-status").textContent = "playhead to #" + $("rp-seek").value; });
  $("rp-seek").addEventListener("change", () => { S.seeking = false; moveTo(parseInt($("rp-seek").value, 10)); });
  $("rp-prev").addEventListener("click", () => step(-1));
  $("rp-next").addEventListener("click", () => step(1));

  // filter -------------------------------------------------------------------------------------
  let filterTimer = null;
  function setFilter(text) { $("filter").value = text; applyFilter(); }
  async function applyFilter() {
    S.filter = $("filter").value.trim();
    S.history = [];
    if (S.allMatching) { S.allMatching = false; updateSelection(); }
    updateExports(); saveUrl();
    countMatches();
    const from = S.filter ? S.first : pageStart(S.cursor === null ? S.first : S.cursor);
    const p = await load({ offset: from });
    if (p && p.events.length) setCursor(S.filter || !onPage(S.cursor) ? p.events[0].offset : S.cursor, { follow: true });
  }
  $("filter").addEventListener("input", () => { clearTimeout(filterTimer); filterTimer = setTimeout(applyFilter, 300); });
  /* Match counts: exact at once from the index for names or sources, else counted by
     successive bounded scans, shown as they go (cancel stops them). */
  let countRun = 0;
  async function countMatches() {
    const run = ++countRun;
    $("count-cancel").hidden = true;
    if (!S.filter) { $("match-count").textContent = ""; return; }
    let n = 0, start = S.first;
    for (;;) {
      let c;
      try { c = await api(recUrl(NAME, "/count?" + new URLSearchParams({ filter: S.filter, start }))); }
      catch (e) { if (run === countRun) $("match-count").textContent = ""; return; }
      if (run !== countRun) return;
      n += c.count;
      if (c.complete) { $("match-count").textContent = `${fmtNum(n)} match${n === 1 ? "" : "es"}`; $("count-cancel").hidden = true; return; }
      start = c.next_offset;
      $("match-count").textContent = `≥ ${fmtNum(n)} matches · counting ${pct(start - S.first, S.total).toFixed(0)}%`;
      $("count-cancel").hidden = false;
    }
  }
  $("count-cancel").addEventListener("click", () => { countRun++; $("count-cancel").hidden = true;
    $("match-count").textContent = $("match-count").textContent.replace(/ · counting.*/, " · count stopped"); });

  // selection -----------------------------------------------------------------------------------
  function toggle(off, on, shift) {
    if (shift && S.lastClicked !== null) {
      const [a, b] = [Math.min(off, S.lastClicked), Math.max(off, S.lastClicked)];
      if (S.filter) {
        for (const ev of S.page.events) if (ev.offset >= a && ev.offset <= b) on ? S.selected.add(ev.offset) : S.selected.delete(ev.offset);
      } else if (on) S.ranges.push([a, b]);
      else { for (let o = a; o <= b; o++) S.selected.delete(o); S.ranges = splitRanges(S.ranges, a, b); }
    } else if (on) S.selected.add(off);
    else { S.selected.delete(off); S.ranges = splitRanges(S.ranges, off, off); }
    S.lastClicked = off;
    renderPage(); updateSelection();
  }
  function splitRanges(ranges, a, b) {
    const out = [];
    for (const [x, y] of ranges) {
      if (y < a || x > b) { out.push([x, y]); continue; }
      if (x < a) out.push([x, a - 1]);
      if (y > b) out.push([b + 1, y]);
    }
    return out;
  }
  function selectionCount() {
    let n = S.ranges.reduce((s, [a, b]) => s + b - a + 1, 0);
    for (const o of S.selected) if (!S.ranges.some(([a, b]) => a <= o && o <= b)) n++;
    return n;
  }
  function updateSelection() {
    const info = $("sel-info");
    if (S.allMatching) info.textContent = S.filter ? `All events matching “${S.filter}” selected.` : "All events selected.";
    else { const n = selectionCount(); info.textContent = n ? `${fmtNum(n)} event${n > 1 ? "s" : ""} selected.` : "No events selected."; }
  }
  $("sel-page").addEventListener("change", () => {
    for (const ev of S.page.events) $("sel-page").checked ? S.selected.add(ev.offset) : S.selected.delete(ev.offset);
    if (!$("sel-page").checked) for (const ev of S.page.events) S.ranges = splitRanges(S.ranges, ev.offset, ev.offset);
    renderPage(); updateSelection();
  });
  $("sel-all").addEventListener("click", () => { S.allMatching = true; renderPage(); updateSelection(); });
  $("sel-clear").addEventListener("click", () => {
    S.selected.clear(); S.ranges = []; S.allMatching = false; S.lastClicked = null; renderPage(); updateSelection();
  });
  /* Create recording: a slice job (progress, cancel); the button is busy until it ends. */
  let sliceJob = null;
  busyButton($("sel-create"), "Creating…", async () => {
    const name = $("sel-name").value.trim();
    if (!name) { toast("Give the new recording a name.", "error"); $("sel-name").focus(); return; }
    const body = { name };
    if (S.allMatching) { body.all_matching = true; if (S.filter) body.filter = S.filter; }
    else { body.offsets = [...S.selected]; body.ranges = S.ranges; }
    if (!S.allMatching && !selectionCount()) { toast("Select events first.", "error"); return; }
    try {
      let job = await api(recUrl(NAME, "/slice/jobs"), { method: "POST", body });
      sliceJob = job.job_id;
      $("sel-progress").hidden = false; $("sel-cancel").hidden = false;
      while (job.state === "running") {
        $("sel-progress").value = pct(job.done, job.total || 1);
        await new Promise(r => setTimeout(r, 150));
        job = await api(`${V1}/jobs/${job.job_id}`);
      }
      if (job.state === "finished") {
        const link = el("a", { href: "/recording/" + encodeURIComponent(job.result.name), text: job.result.name, id: "created-link" });
        toast(el("span", {}, `Created ${fmtNum(job.result.total_events)} events in `, link), "ok");
      } else if (job.state === "cancelled") toast("Cancelled: nothing was created.");
      else toast(job.error || "the slice failed", "error");
    } catch (e) { if (!needToken(e)) toast(e.message, "error"); }
    finally { sliceJob = null; $("sel-progress").hidden = true; $("sel-cancel").hidden = true; }
  });
  $("sel-cancel").addEventListener("click", async () => {
    if (sliceJob) try { await api(`${V1}/jobs/${sliceJob}`, { method: "DELETE" }); } catch (e) { toast(e.message, "error"); }
  });

  // replay ----------------------------------------------------------------------------------------
  // the log slider gives 10^x; two significant digits make it 20x, not 19.95x
  const speedOf = () => Number(Math.pow(10, parseFloat($("rp-speed").value)).toPrecision(2));
  $("rp-speed").addEventListener("input", () => { $("rp-speed-v").textContent = speedOf() + "x"; });
  $("rp-speed").addEventListener("change", () => { if (live(S.status)) control("speed", { speed: speedOf() }); });
  $("rp-target").addEventListener("change", () => { $("rp-url").hidden = $("rp-target").value !== "url"; });
  const live = st => !!st && (st.state === "playing" || st.state === "paused");
  async function control(action, body) {
    if (!S.replay) return null;
    try {
      const st = await api(`${V1}/replay/${S.replay}/${action}`, { method: "POST", body: body || {} });
      showStatus(st, true);
      return st;
    } catch (e) { if (!needToken(e)) toast(e.message, "error"); return null; }
  }
  async function startReplay(paused) {
    const body = { speed: speedOf(), start_offset: S.cursor === null ? S.first : S.cursor, paused: !!paused };
    if (S.filter) body.filter = S.filter;
    const target = $("rp-target").value;
    if (target === "url") body.url = $("rp-url").value.trim();
    if (target === "all") body.player = "all";
    try {
      const st = await api(`${V1}/replay/start/${encodeURIComponent(NAME)}`, { method: "POST", body });
      S.replay = st.replay_id; S.epoch = st.epoch;
      showStatus(st, true);
      clearInterval(S.poll);
      S.poll = setInterval(pollReplay, 200);
      return st;
    } catch (e) { if (!needToken(e)) toast(e.message, "error"); return null; }
  }
  async function playPause() {
    if (live(S.status) && S.status.state === "playing") return control("pause");
    if (live(S.status)) return control("resume");
    return startReplay(false);
  }
  $("rp-play").addEventListener("click", playPause);
  $("rp-pause").addEventListener("click", () => control("pause"));
  $("rp-step").addEventListener("click", async () => {
    if (!live(S.status)) { if (!await startReplay(true)) return; }
    control("step");
  });
  $("rp-stop").addEventListener("click", () => control("stop"));
  /* Moving the playhead seeks a live replay (paused or playing); the status of the seek
     carries a new epoch, and statuses of older epochs are ignored (no snap back). */
  async function seekReplay(body) {
    if (!S.replay || !live(S.status)) return;
    S.seeks++; S.seeking_n++;
    try {
      const st = await control("seek", body);
      if (st) S.epoch = Math.max(S.epoch, st.epoch);
    } finally { S.seeking_n--; }
  }
  function showStatus(st, fromControl) {
    if (!fromControl && st.epoch < S.epoch) return;   // a poll sent before the last seek
    S.status = st;
    const playing = st.state === "playing";
    $("rp-play").disabled = playing;
    $("rp-pause").disabled = !playing;
    $("rp-stop").disabled = !live(st);
    $("replay").dataset.state = st.state;
    let text = `${st.state} · target ${st.speed}x`;
    const rate = v => v >= 10 ? v.toFixed(0) : Number(v.toPrecision(2)).toString();
    if (playing && st.achieved_speed !== null && st.achieved_speed !== undefined) text += ` · achieved ${rate(st.achieved_speed)}x`;
    text += ` · ${fmtNum(st.delivered)} delivered`;
    if (st.http) text += ` · sent ${st.http.sent}, failed ${st.http.failed}`;
    if (st.http && st.http.failures.length) text += ` (last error: ${st.http.failures[st.http.failures.length - 1].error})`;
    if (st.error) text += ` · error: ${st.error}`;
    $("rp-status").textContent = text;
    $("rp-behind").hidden = !st.behind;
    if (st.behind) $("rp-behind").textContent = `behind schedule: ${rate(st.achieved_speed)}x of ${st.speed}x`;
    if (!live(st) && !fromControl) clearInterval(S.poll);
    // the playhead follows the replay, to its last event when it finished between two polls
    if (st.position !== null && st.position !== S.cursor && !S.seeking && !fromControl &&
        (live(st) || st.state === "finished")) follow(st.position);
  }
  let following = false;
  async function follow(offset) {
    if (following) return;
    following = true;
    try {
      if (onPage(offset)) setCursor(offset);
      else await moveTo(offset, { seek: false });
    } finally { following = false; }
  }
  async function pollReplay() {
    if (!S.replay) return;
    const seeks = S.seeks;
    try {
      const st = await api(`${V1}/replay/${S.replay}/status`);
      if (seeks !== S.seeks || S.seeking_n > 0) return;   // a seek was sent meanwhile: this status is old
      showStatus(st, false);
    } catch (e) { clearInterval(S.poll); toast(e.message, "error"); }
  }

  // keyboard ---------------------------------------------------------------------------------------
  document.addEventListener("keydown", e => {
    if (e.key === "Escape" && inField(e)) { e.target.blur(); return; }
    if (inField(e) || e.ctrlKey || e.metaKey || e.altKey) return;
    const keys = {
      j: () => step(1), ArrowDown: () => step(1), k: () => step(-1), ArrowUp: () => step(-1),
      ArrowRight: () => $("pg-next").click(), ArrowLeft: () => $("pg-prev").click(),
      " ": () => playPause(), Home: () => $("pg-first").click(), End: () => $("pg-last").click(),
      "/": () => $("filter").focus(),
      x: () => { if (S.cursor !== null) toggle(S.cursor, !isSelected(S.cursor), false); },
    };
    const f = keys[e.key];
    if (f) { e.preventDefault(); f(); }
  });

  // live recordings ----------------------------------------------------------------------------------
  async function refreshLive() {
    if (S.broken) return;
    try {
      const grew = await loadSummary();
      if (grew) {
        await loadHistogram();
        if (S.page && S.page.next_offset === null) { await load({ offset: S.page.offset }); if (S.cursor !== null) setCursor(S.cursor, { follow: false }); }
      }
    } catch (e) {
      if (e.status === 400 || e.status === 404) broken(e.message);   // stop polling a damaged recording
    }
  }

  (async () => {
    const q = new URLSearchParams(location.search);
    S.filter = (q.get("filter") || "").trim();
    $("filter").value = S.filter;
    const lim = parseInt(q.get("limit") || "", 10);
    if ([50, 100, 250, 500].includes(lim)) { S.limit = lim; $("pg-size").value = String(lim); }
    try { await loadSummary(); }
    catch (e) { broken(e.message); return; }
    updateExports();
    const at = parseInt(q.get("offset") || "", 10);
    const start = isNaN(at) ? S.first : at;
    await loadHistogram().catch(() => {});
    if (S.filter) { countMatches(); const p = await load({ offset: start }); if (p && p.events.length) setCursor(p.events[0].offset); }
    else if (S.total) await moveTo(start, { seek: false });
    else await load({ offset: S.first });
    document.body.dataset.ready = "yes";
    S.live = setInterval(refreshLive, 1500);
  })();
})();
