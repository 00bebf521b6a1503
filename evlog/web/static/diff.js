/* Diff page: two recordings side by side, aligned by the `evlog diff` engine. */
"use strict";
(() => {
  const { api, el, fmtNum, toast } = EV;
  const $ = id => document.getElementById(id);
  const flat = (v, path, out) => {
    if (v && typeof v === "object" && !Array.isArray(v)) {
      const keys = Object.keys(v);
      if (!keys.length && path) out[path] = "{}";
      for (const k of keys) flat(v[k], path ? path + "." + k : k, out);
    } else if (Array.isArray(v)) {
      if (!v.length && path) out[path] = "[]";
      v.forEach((x, i) => flat(x, path + "[" + i + "]", out));
    } else out[path || "(value)"] = JSON.stringify(v);
    return out;
  };
  function cell(ev, kind, changed) {
    if (!ev) return el("div", { class: "cell empty" });
    const fields = flat(ev.event_data, "", {});
    const box = el("div", { class: "fields" });
    for (const [k, v] of Object.entries(fields)) {
      const hit = changed.has(k) || [...changed].some(c => k.startsWith(c + ".") || k.startsWith(c + "["));
      box.append(el("span", { class: "f" + (hit ? " changed" : ""), text: `${k}: ${v}` }));
    }
    for (const c of changed) if (!(c in fields) && ![...Object.keys(fields)].some(k => k.startsWith(c))) {
      box.append(el("span", { class: "f changed", text: `${c}: (missing)` }));
    }
    return el("div", { class: "cell " + kind, "data-kind": kind },
      el("span", { class: "op", text: kind }),
      el("div", { class: "title", text: `#${ev.offset} ${ev.event_name}` }),
      el("div", { class: "muted small", text: `${ev.source || "no source"} · +${ev.time_s.toFixed(3)} s` }),
      box);
  }
  const none = new Set();
  const pairCells = pairs => pairs.flatMap(([x, y]) => [cell(x, "equal", none), cell(y, "equal", none)]);
  /* A run of equal events: context at both ends, the middle folded (fetched on demand). */
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
          const more = await api("/api/diff/run?" + p);
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
  async function run() {
    const a = $("diff-a").value, b = $("diff-b").value;
    if (!a || !b) return;
    const q = new URLSearchParams({ a, b });
    if ($("diff-filter").value.trim()) q.set("filter", $("diff-filter").value.trim());
    history.replaceState(null, "", "/diff?" + new URLSearchParams({ a, b }));
    $("diff-summary").replaceChildren(el("span", { class: "muted", text: "comparing…" }));
    try {
      const d = await api("/api/diff?" + q);
      const s = d.summary;
      const pill = (k, n, label) => el("span", { class: "pill " + k, text: `${fmtNum(n)} ${label}` });
      $("diff-summary").replaceChildren(...[
        pill("equal", s.matched, "matched"), pill("change", s.changed, "changed"),
        pill("delete", s.deleted, "deleted"), pill("insert", s.inserted, "inserted"),
        s.equal ? el("strong", { text: "The recordings are equal." }) : null,
        d.truncated ? el("span", { class: "muted", text: `first ${d.differences.length} differences shown` }) : null].filter(Boolean));
      const rows = [el("div", { class: "hdr", text: "◀ " + a + " (baseline)" }), el("div", { class: "hdr", text: b + " ▶" })];
      for (const x of d.rows) {
        if (x.kind === "equal") { rows.push(...equalRun(x, q)); continue; }
        const changed = new Set((x.changes || []).map(c => c.path.replace(/^data\./, "")));
        const kind = x.kind === "deleted" ? "delete" : x.kind === "inserted" ? "insert" : "change";
        rows.push(cell(x.baseline, kind, changed), cell(x.new, kind, changed));
      }
      if (d.truncated) rows.push(el("div", { class: "fold muted", text: "… the rest is not shown (too many differences)" }));
      $("diff-rows").replaceChildren(...rows);
    } catch (e) { $("diff-summary").replaceChildren(); toast(e.message, "error"); }
  }
  (async () => {
    try {
      const list = (await api("/api/recordings")).recordings.map(r => r.name);
      for (const id of ["diff-a", "diff-b"]) $(id).replaceChildren(...list.map(n => el("option", { value: n, text: n })));
      const a = document.body.dataset.a, b = document.body.dataset.b;
      if (list.includes(a)) $("diff-a").value = a;
      if (list.includes(b)) $("diff-b").value = b; else if (list.length > 1) $("diff-b").value = list[1];
      if (a && b) await run();
      document.body.dataset.ready = "yes";
    } catch (e) { toast(e.message, "error"); }
  })();
  $("diff-run").addEventListener("click", run);
})();
