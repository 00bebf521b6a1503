/* Recording detail: charts, paged timeline with server-side filter, event data, selection → new
   recording, replay driven by the server's scheduler, and live updates. */
"use strict";
(() => {
  const { api, el, fmtDuration, fmtNum, fmtBytes, fmtDate, toast, needToken, recUrl } = EV;
  const NAME = document.body.dataset.name;
  const $ = id => document.getElementById(id);
  const state = {
    offset: 0, limit: 100, filter: "", page: null, history: [], total: 0, firstOffset: 0,
    selected: new Set(), ranges: [], allMatching: false, lastClicked: null, current: null,
    replay: null, seq: 0, poll: null, setCursor: () => {}, summary: null, seeking: false,
  };

  // header, charts ------------------------------------------------------------------
  async function loadSummary() {
    const s = await api(recUrl(NAME, "/summary"));
    const grew = state.summary && s.total_events !== state.summary.total_events;
    state.summary = s;
    state.total = s.total_events;
    state.firstOffset = s.first_offset;
    $("live-badge").hidden = !s.live;
    $("tt").hidden = !s.eventsourcing;
    const meta = $("meta");
    const item = (k, v) => [el("dt", { text: k }), el("dd", { text: v })];
    meta.replaceChildren(...[
      item("Session", s.session_name), item("Start", fmtDate(s.start_time)), item("Duration", fmtDuration(s.duration_ms)),
      item("Events", fmtNum(s.total_events)), item("Types", fmtNum(Object.keys(s.names).length)),
      item("Format", s.format), item("Stored", fmtBytes(s.stored_bytes)),
    ].flat());
    Charts.bars($("chart-types"), Object.entries(s.names), { onclick: name => setFilter(JSON.stringify(name)) });
    $("rp-seek").max = Math.max(0, s.end_offset - 1);
    return grew;
  }
  async function loadHistogram() {
    const h = await api(recUrl(NAME, "/histogram?bins=120"));
    state.setCursor = Charts.histogram($("chart-time"), h.bins, {
      onpick: ms => jumpToTime(ms),
      ondrag: ms => seekReplay({ position_ms: ms }),
    });
  }
  for (const f of ["json", "jsonl", "csv"]) $("exp-" + f).href = recUrl(NAME, "/export?format=" + f);

  // timeline -----------------------------------------------------------------------------
  let inflight = null;
  async function loadPage(offset, extra = "") {
    if (inflight) inflight.abort();
    inflight = new AbortController();
    const q = new URLSearchParams({ offset: Math.max(0, offset), limit: state.limit });
    if (state.filter) q.set("filter", state.filter);
    try {
      const p = await api(recUrl(NAME, "?" + q + extra), { signal: inflight.signal });
      state.page = p;
      state.offset = p.offset;
      $("filter-msg").textContent = state.filter ? (p.events.length ? "" : "no matching events from here") : "";
      $("filter").classList.remove("bad");
      renderPage();
    } catch (e) {
      if (e.name === "AbortError") return;
      if (e.status === 400 && state.filter) { $("filter-msg").textContent = e.message; $("filter").classList.add("bad"); }
      else toast(e.message, "error");
    }
  }
  function preview(data) {
    const s = JSON.stringify(data);
    return s === undefined ? "" : s.length > 120 ? s.slice(0, 119) + "…" : s;
  }
  function isSelected(off) {
    return state.selected.has(off) || state.ranges.some(([a, b]) => a <= off && off <= b);
  }
  function renderPage() {
    const p = state.page;
    const tbody = document.querySelector("#timeline tbody");
    tbody.replaceChildren(...p.events.map(ev => {
      const cb = el("input", { type: "checkbox", "aria-label": "select event " + ev.offset });
      cb.checked = state.allMatching || isSelected(ev.offset);
      cb.disabled = state.allMatching;
      cb.addEventListener("click", e => { e.stopPropagation(); toggle(ev.offset, cb.checked, e.shiftKey); });
      const tr = el("tr", { "data-offset": ev.offset, class: ev.offset === state.current ? "current" : "" },
        el("td", { class: "cb" }, cb),
        el("td", { class: "num", text: ev.offset }),
        el("td", { class: "num", text: (ev.timestamp_offset_ms / 1000).toFixed(3) + " s" }),
        el("td", { class: "name", text: ev.event_name }),
        el("td", { class: "muted", text: ev.source }),
        el("td", { class: "preview", text: preview(ev.event_data) }));
      tr.addEventListener("click", () => showEvent(ev));
      return tr;
    }));
    const first = p.events.length ? p.events[0].offset : p.offset;
    const last = p.events.length ? p.events[p.events.length - 1].offset : p.offset;
    $("pg-info").textContent = p.events.length
      ? `#${fmtNum(first)} – #${fmtNum(last)} of ${fmtNum(state.total)}${state.filter ? " (filtered)" : ""}${p.complete ? "" : " · still searching"}`
      : "no events";
    $("pg-next").disabled = p.next_offset === null;
    $("pg-prev").disabled = state.filter ? state.history.length === 0 : first <= state.firstOffset;
    $("sel-page").checked = p.events.length > 0 && p.events.every(e => isSelected(e.offset));
  }
  function showEvent(ev) {
    state.current = ev.offset;
    document.querySelectorAll("#timeline tr.current").forEach(tr => tr.classList.remove("current"));
    const tr = document.querySelector(`#timeline tr[data-offset="${ev.offset}"]`);
    if (tr) tr.classList.add("current");
    $("ev-title").textContent = ev.event_name;
    $("ev-meta").textContent = `#${ev.offset} · ${ev.source || "no source"} · +${(ev.timestamp_offset_ms / 1000).toFixed(3)} s · ${fmtDate(ev.timestamp)}`;
    $("ev-json").textContent = JSON.stringify(ev.event_data, null, 2);
    if (state.summary && state.summary.eventsourcing) timeTravel(ev);
  }
  /* An eventsourcing store: the selected event's aggregate (its source) as of that event. */
  async function timeTravel(ev) {
    const q = new URLSearchParams({ offset: ev.offset, originator_id: ev.source || "" });
    $("tt-meta").textContent = `aggregate ${ev.source} as of #${ev.offset}…`;
    try {
      const t = await api(recUrl(NAME, "/timetravel?" + q));
      if (state.current !== ev.offset) return;   // another event was clicked meanwhile
      const a = t.aggregate;
      $("tt-meta").textContent = a
        ? `aggregate ${t.originator_id} as of #${t.offset}: version ${a.version}, ${fmtNum(a.events)} events`
        : `aggregate ${t.originator_id} did not exist yet at #${t.offset}`;
      $("tt-json").textContent = a ? JSON.stringify(a.state, null, 2) : "";
    } catch (e) { $("tt-meta").textContent = e.message; $("tt-json").textContent = ""; }
  }
  function go(offset) { state.history = []; loadPage(offset); }
  $("pg-first").addEventListener("click", () => go(state.firstOffset));
  $("pg-next").addEventListener("click", () => {
    const p = state.page;
    if (p.next_offset === null) return;
    state.history.push(state.offset);
    loadPage(p.next_offset);
  });
  $("pg-prev").addEventListener("click", () => {
    if (state.filter) { if (state.history.length) loadPage(state.history.pop()); }
    else loadPage(Math.max(state.firstOffset, state.offset - state.limit));
  });
  $("pg-last").addEventListener("click", () => {
    if (state.filter) { toast("Last page: clear the filter or use the chart to jump near the end."); return; }
    go(Math.max(state.firstOffset, state.firstOffset + state.total - state.limit));
  });
  $("pg-goto").addEventListener("change", () => { const v = parseInt($("pg-goto").value, 10); if (!isNaN(v)) go(v); });
  $("pg-size").addEventListener("change", () => { state.limit = parseInt($("pg-size").value, 10); loadPage(state.offset); });
  function jumpToTime(ms) { state.history = []; loadPage(0, "&from_ms=" + ms.toFixed(3)); }

  let filterTimer = null;
  function setFilter(text) { $("filter").value = text; applyFilter(); }
  function applyFilter() {
    state.filter = $("filter").value.trim();
    state.history = [];
    if (state.allMatching) { state.allMatching = false; updateSelection(); }
    loadPage(state.firstOffset);
  }
  $("filter").addEventListener("input", () => { clearTimeout(filterTimer); filterTimer = setTimeout(applyFilter, 250); });

  // selection ---------------------------------------------------------------------------
  function toggle(off, on, shift) {
    if (shift && state.lastClicked !== null) {
      const [a, b] = [Math.min(off, state.lastClicked), Math.max(off, state.lastClicked)];
      if (state.filter) {
        for (const ev of state.page.events) if (ev.offset >= a && ev.offset <= b) on ? state.selected.add(ev.offset) : state.selected.delete(ev.offset);
      } else if (on) state.ranges.push([a, b]);
      else {
        for (let o = a; o <= b; o++) state.selected.delete(o);
        state.ranges = splitRanges(state.ranges, a, b);
      }
    } else if (on) state.selected.add(off);
    else { state.selected.delete(off); state.ranges = splitRanges(state.ranges, off, off); }
    state.lastClicked = off;
    renderPage();
    updateSelection();
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
    let n = state.ranges.reduce((s, [a, b]) => s + b - a + 1, 0);
    for (const o of state.selected) if (!state.ranges.some(([a, b]) => a <= o && o <= b)) n++;
    return n;
  }
  function updateSelection() {
    const info = $("sel-info");
    if (state.allMatching) info.textContent = state.filter ? `All events matching “${state.filter}” selected.` : "All events selected.";
    else {
      const n = selectionCount();
      info.textContent = n ? `${fmtNum(n)} event${n > 1 ? "s" : ""} selected.` : "No events selected.";
    }
  }
  $("sel-page").addEventListener("change", () => {
    for (const ev of state.page.events) $("sel-page").checked ? state.selected.add(ev.offset) : state.selected.delete(ev.offset);
    if (!$("sel-page").checked) for (const ev of state.page.events) state.ranges = splitRanges(state.ranges, ev.offset, ev.offset);
    renderPage(); updateSelection();
  });
  $("sel-all").addEventListener("click", () => { state.allMatching = true; renderPage(); updateSelection(); });
  $("sel-clear").addEventListener("click", () => {
    state.selected.clear(); state.ranges = []; state.allMatching = false; state.lastClicked = null;
    renderPage(); updateSelection();
  });
  $("sel-create").addEventListener("click", async () => {
    const name = $("sel-name").value.trim();
    if (!name) { toast("Give the new recording a name.", "error"); $("sel-name").focus(); return; }
    const body = { name };
    if (state.allMatching) { body.all_matching = true; if (state.filter) body.filter = state.filter; }
    else { body.offsets = [...state.selected]; body.ranges = state.ranges; }
    try {
      const r = await api(recUrl(NAME, "/slice"), { method: "POST", body });
      const link = el("a", { href: "/recording/" + encodeURIComponent(r.name), text: r.name, id: "created-link" });
      const t = $("toast");
      t.replaceChildren(document.createTextNode(`Created ${fmtNum(r.total_events)} events in `), link);
      t.className = "toast ok"; t.hidden = false;
    } catch (e) { if (!needToken(e)) toast(e.message, "error"); }
  });

  // replay --------------------------------------------------------------------------------
  const speedOf = () => Math.round(Math.pow(10, parseFloat($("rp-speed").value)) * 100) / 100;
  $("rp-speed").addEventListener("input", () => { $("rp-speed-v").textContent = speedOf() + "x"; });
  $("rp-speed").addEventListener("change", async () => {
    if (state.replay) await control("speed", { speed: speedOf() });
  });
  $("rp-target").addEventListener("change", () => { $("rp-url").hidden = $("rp-target").value !== "url"; });
  async function control(action, body) {
    if (!state.replay) return;
    try { showStatus(await api(`/api/replay/${state.replay}/${action}`, { method: "POST", body: body || {} })); }
    catch (e) { toast(e.message, "error"); }
  }
  async function startReplay(paused) {
    const body = { speed: speedOf(), start_offset: state.offset, paused: !!paused };
    if (state.filter) body.filter = state.filter;
    const target = $("rp-target").value;
    if (target === "url") body.url = $("rp-url").value.trim();
    if (target === "all") body.player = "all";
    try {
      const st = await api("/api/replay/start/" + encodeURIComponent(NAME), { method: "POST", body });
      state.replay = st.replay_id; state.seq = 0;
      $("rp-feed").replaceChildren();
      showStatus(st);
      clearInterval(state.poll);
      state.poll = setInterval(pollReplay, 150);
    } catch (e) { if (!needToken(e)) toast(e.message, "error"); }
  }
  const active = st => st && (st.state === "playing" || st.state === "paused");
  $("rp-play").addEventListener("click", () => {
    if (state.replay && state.lastStatus && active(state.lastStatus)) control("resume");
    else startReplay(false);
  });
  $("rp-pause").addEventListener("click", () => control("pause"));
  $("rp-step").addEventListener("click", () => {
    if (state.replay && active(state.lastStatus)) control("step"); else startReplay(true).then(() => control("step"));
  });
  $("rp-stop").addEventListener("click", () => control("stop"));
  $("rp-seek").addEventListener("input", () => { state.seeking = true; $("rp-status").textContent = "seek to #" + $("rp-seek").value; });
  $("rp-seek").addEventListener("change", () => { state.seeking = false; seekReplay({ offset: parseInt($("rp-seek").value, 10) }); });
  async function seekReplay(body) {
    if (!state.replay || !active(state.lastStatus)) {
      if (body.position_ms !== undefined) jumpToTime(body.position_ms); else go(body.offset);
      return;
    }
    $("rp-feed").replaceChildren();
    await control("seek", body);
  }
  function showStatus(st) {
    state.lastStatus = st;
    const playing = st.state === "playing";
    $("rp-play").disabled = playing;
    $("rp-pause").disabled = !playing;
    $("rp-stop").disabled = !active(st);
    $("replay").dataset.state = st.state;
    let text = `${st.state} · ${st.speed}x · #${st.position === null ? "–" : st.position} · ${fmtNum(st.delivered)} delivered · +${(st.position_ms / 1000).toFixed(3)} s`;
    if (st.http) text += ` · sent ${st.http.sent}, failed ${st.http.failed}`;
    if (st.http && st.http.failures.length) text += ` (last error: ${st.http.failures[st.http.failures.length - 1].error})`;
    if (st.error) text += ` · error: ${st.error}`;
    $("rp-status").textContent = text;
    if (st.position !== null && !state.seeking) $("rp-seek").value = st.position;
    state.setCursor(st.position === null ? null : st.position_ms);
    if (!active(st)) clearInterval(state.poll);
  }
  async function pollReplay() {
    if (!state.replay) return;
    try {
      const r = await api(`/api/replay/${state.replay}/events?after=${state.seq}`);
      const feed = $("rp-feed");
      for (const ev of r.events) {
        state.seq = ev.seq;
        feed.prepend(el("li", {},
          el("span", { class: "num", text: "#" + ev.offset }),
          el("span", { class: "num muted", text: "+" + (ev.timestamp_offset_ms / 1000).toFixed(3) + " s" }),
          el("span", { class: "name", text: ev.event_name }),
          el("span", { class: "preview", text: preview(ev.event_data) })));
      }
      while (feed.children.length > 30) feed.lastChild.remove();
      showStatus(r.status);
    } catch (e) { clearInterval(state.poll); toast(e.message, "error"); }
  }

  // live ----------------------------------------------------------------------------------
  async function live() {
    try {
      const grew = await loadSummary();
      if (grew) {
        await loadHistogram();
        if (state.page && state.page.next_offset === null) loadPage(state.offset);
        else if (state.page) renderPage();
      }
    } catch (e) { /* transient */ }
  }

  (async () => {
    try {
      await loadSummary();
      state.offset = state.firstOffset;
      await Promise.all([loadHistogram(), loadPage(state.firstOffset)]);
      document.body.dataset.ready = "yes";
    } catch (e) { toast(e.message, "error"); }
    setInterval(live, 1500);
  })();
})();
