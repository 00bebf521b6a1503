/* Diff page: two recordings side by side, aligned by the `evlog diff` engine running as a job
   on the server. Differences appear as the engine finds them (progress, cancel); the rows are
   fetched a few dozen differences at a time; n/p (or the buttons) go to the next/previous one. */
"use strict";
(() => {
  const { V1, api, el, fmtNum, pct, toast, needToken, inField } = EV;
  const $ = id => document.getElementById(id);
  const BATCH = 40;          // differences per rows request
  const AHEAD = 200;         // differences drawn without asking (more: "Show more" or next)
  const flat = (v, path, out) => {
    if (v && typeof v === "object" && !Array.isArray(v)) {
      const keys = Object.keys(v);
      if (!keys.length && path) out[path] = "{}";
      for (const k of keys) flat(v[k], path ? path + "." + k : k, out);
    } else if (Array.isArray(v)) {
      if (!v.length && path) out[path] = "[]";
      v.forEach((x, i) => flat(x, path + "." + i, out));
    } else out[path || "(value)"] = JSON.stringify(v);
    return out;
  };
  function cell(ev, kind, changed, index) {
    if (!ev) return el("div", { class: "cell empty", "data-diff": index === undefined ? null : index });
    const fields = flat(ev.event_data, "", {});
    const box = el("div", { class: "fields" });
    for (const [k, v] of Object.entries(fields)) {
      const hit = changed.has(k) || [...changed].some(c => k.startsWith(c + "."));
      box.append(el("span", { class: "f" + (hit ? " changed" : ""), text: `${k}: ${v}` }));
    }
    for (const c of changed) if (!(c in fields) && !Object.keys(fields).some(k => k.startsWith(c))) {
      box.append(el("span", { class: "f changed", text: `${c}: (missing)` }));
    }
    return el("div", { class: "cell " + kind, "data-kind": kind, "data-diff": index === undefined ? null : index },
      el("span", { class: "op", text: kind }),
      el("div", { class: "title", text: `#${ev.offset} ${ev.event_name}` }),
      el("div", { class: "muted small", text: `${ev.source || "no source"} · +${ev.time_s.toFixed(3)} s` }),
      box);
  }
  const none = new Set();
  const pairCells = pairs => pairs.flatMap(([x, y]) => [cell(x, "equal", none), cell(y, "equal", none)]);
  function equalRun(run, q) {
    const out = pairCells(run.head);
    if (run.hidden > 0) {
      const last = run.head[run.head.length - 1];
      let left = run.hidden, at = { a_offset: last[0].offset + 1, b_offset: last[1].offset + 1 };
      const label = () => `⋯ ${fmtNum(left)} equal event${left === 1 ? "" : "s"} (show${left > 500 ? " 500 more" : ""})`;
      const fold = el("button", { class: "fold", type: "button", "aria-expanded": "false", text: label() });
      fold.addEventListener("click", async () => {
        try {
          const p = new URLSearchParams(q);
          p.set("a_offset", at.a_offset); p.set("b_offset", at.b_offset); p.set("count", Math.min(left, 500));
          const more = await api(V1 + "/diff/run?" + p);
          fold.before(...pairCells(more.pairs));
          left -= more.pairs.length;
          if (more.next) at = more.next;
          if (left <= 0 || !more.pairs.length) fold.remove(); else fold.textContent = label();
        } catch (e) { toast(e.message, "error"); }
      });
      out.push(fold);
    }
    out.push(...pairCells(run.tail));
    return out;
  }
  const D = { job: null, q: null, drawn: 0, found: 0, state: null, focus: -1, drawing: null, limit: AHEAD, tail: false, run: 0 };
  function summary(s, job) {
    const pill = (k, n, label) => el("span", { class: "pill " + k, text: `${n === null ? "…" : fmtNum(n)} ${label}` });
    $("diff-summary").replaceChildren(...[
      pill("equal", s.matched, "matched"), pill("change", s.changed, "changed"),
      pill("delete", s.deleted, "deleted"), pill("insert", s.inserted, "inserted"),
      s.equal ? el("strong", { text: "The recordings are equal." }) : null,
      job.truncated ? el("span", { class: "muted", text: `first ${fmtNum(job.found)} differences kept` }) : null].filter(Boolean));
  }
  /* Draw the rows of the differences found (up to D.limit); calls queue behind one another,
     so awaiting it means everything found so far is drawn. */
  async function drawMore(run) {
    while (D.drawing) await D.drawing;
    D.drawing = drawOnce(run);
    try { await D.drawing; } finally { D.drawing = null; }
  }
  async function drawOnce(run) {
    try {
      while (run === D.run && D.drawn < Math.min(D.found, D.limit)) {
        const r = await api(`${V1}/jobs/${D.job}/rows?first=${D.drawn}&count=${BATCH}`);
        if (run !== D.run) return;
        append(r.rows);
        D.drawn = r.next === null ? D.drawn + r.rows.filter(x => x.kind !== "equal").length : r.next;
        if (r.tail) D.tail = true;
      }
      if (run === D.run && D.state === "finished" && !D.tail && D.drawn >= D.found && D.found <= D.limit) {
        const r = await api(`${V1}/jobs/${D.job}/rows?first=${D.drawn}&count=1`);   // the equal run after the last
        if (run === D.run && r.tail) { append(r.rows); D.tail = true; }
      }
    } catch (e) { toast(e.message, "error"); }
    finally { nav(); }
  }
  function append(rows) {
    const out = [];
    for (const x of rows) {
      if (x.kind === "equal") { out.push(...equalRun(x, D.q)); continue; }
      const changed = new Set((x.changes || []).map(c => c.path.replace(/^data\./, "")));
      const kind = x.kind === "deleted" ? "delete" : x.kind === "inserted" ? "insert" : "change";
      out.push(cell(x.baseline, kind, changed, x.index), cell(x.new, kind, changed, x.index));
    }
    $("diff-rows").append(...out);
  }
  function nav() {
    const n = D.found;
    $("diff-prev").disabled = D.focus <= 0;
    $("diff-next").disabled = D.focus >= n - 1;
    $("diff-more").hidden = !(D.drawn < D.found && D.drawn >= D.limit);
    $("diff-pos").textContent = n ? `difference ${D.focus < 0 ? "–" : fmtNum(D.focus + 1)} of ${fmtNum(n)}${D.state === "running" ? " so far" : ""}` : "";
  }
  async function go(i) {
    if (i < 0 || i >= D.found) return;
    if (i >= D.drawn) { D.limit = Math.max(D.limit, i + BATCH); await drawMore(D.run); }
    const cells = document.querySelectorAll(`.diff .cell[data-diff="${i}"]`);
    if (!cells.length) return;
    document.querySelectorAll(".diff .cell.focus").forEach(c => c.classList.remove("focus"));
    cells.forEach(c => c.classList.add("focus"));
    cells[0].scrollIntoView({ block: "center" });
    D.focus = i;
    nav();
  }
  $("diff-next").addEventListener("click", () => go(D.focus + 1));
  $("diff-prev").addEventListener("click", () => go(D.focus - 1));
  $("diff-more").addEventListener("click", () => { D.limit += AHEAD; drawMore(D.run); });
  document.addEventListener("keydown", e => {
    if (inField(e) || e.ctrlKey || e.metaKey || e.altKey) return;
    if (e.key === "n") { e.preventDefault(); go(D.focus + 1); }
    if (e.key === "p") { e.preventDefault(); go(D.focus - 1); }
  });
  async function cancel() {
    if (!D.job || D.state !== "running") return;
    try { await api(`${V1}/jobs/${D.job}`, { method: "DELETE" }); } catch (e) { toast(e.message, "error"); }
  }
  $("diff-cancel").addEventListener("click", cancel);
  async function run() {
    const a = $("diff-a").value, b = $("diff-b").value;
    if (!a || !b) return;
    await cancel();
    const run = ++D.run;
    const filter = $("diff-filter").value.trim();
    D.q = new URLSearchParams({ a, b });
    if (filter) D.q.set("filter", filter);
    history.replaceState(null, "", "/diff?" + D.q);
    Object.assign(D, { drawn: 0, found: 0, focus: -1, tail: false, limit: AHEAD, state: "running" });
    $("diff-rows").replaceChildren(el("div", { class: "hdr", text: "◀ " + a + " (baseline)" }), el("div", { class: "hdr", text: b + " ▶" }));
    $("diff-summary").replaceChildren();
    $("diff-state").textContent = "comparing…";
    $("diff-progress").hidden = false; $("diff-progress").value = 0; $("diff-cancel").hidden = false;
    document.body.dataset.diff = "running";
    try {
      const body = { a, b };
      if (filter) body.filter = filter;
      const job = await api(V1 + "/diff/jobs", { method: "POST", body });
      D.job = job.job_id;
      for (;;) {
        const st = await api(`${V1}/jobs/${D.job}?after=${D.found}`);
        if (run !== D.run) return;
        D.state = st.state; D.found = st.found;
        summary(st.summary, st);
        $("diff-progress").value = pct(st.done, st.total || 1);
        $("diff-state").textContent = st.state === "running"
          ? `comparing… ${pct(st.done, st.total || 1).toFixed(0)}% of the baseline read, ${fmtNum(st.found)} differences so far`
          : st.state === "finished" ? `done in ${st.elapsed_s.toFixed(1)} s` : st.state === "cancelled"
          ? `cancelled at ${pct(st.done, st.total || 1).toFixed(0)}%: the differences found so far are shown` : `failed: ${st.error}`;
        if (!D.drawing) drawMore(run);
        if (D.focus < 0 && D.found > 0) D.focus = -1;
        nav();
        if (st.state !== "running") break;
        await new Promise(r => setTimeout(r, 250));
      }
      await drawMore(run);
    } catch (e) { if (!needToken(e)) toast(e.message, "error"); D.state = "failed"; }
    finally {
      if (run === D.run) {
        $("diff-progress").hidden = true; $("diff-cancel").hidden = true;
        document.body.dataset.diff = D.state; nav();
      }
    }
  }
  (async () => {
    try {
      const list = (await api(V1 + "/recordings")).recordings.map(r => r.name);
      for (const id of ["diff-a", "diff-b"]) $(id).replaceChildren(...list.map(n => el("option", { value: n, text: n })));
      const q = new URLSearchParams(location.search);
      const a = q.get("a") || document.body.dataset.a, b = q.get("b") || document.body.dataset.b;
      if (q.get("filter")) $("diff-filter").value = q.get("filter");
      if (list.includes(a)) $("diff-a").value = a;
      if (list.includes(b)) $("diff-b").value = b; else if (list.length > 1) $("diff-b").value = list[1];
      document.body.dataset.ready = "yes";
      if (a && b) await run();
    } catch (e) { toast(e.message, "error"); }
  })();
  $("diff-run").addEventListener("click", run);
})();
