/* Small SVG charts drawn without any library: horizontal bars and a clickable time histogram. */
"use strict";
const Charts = (() => {
  const NS = "http://www.w3.org/2000/svg";
  const PALETTE = ["#3b82f6", "#10b981", "#f59e0b", "#ef4444", "#8b5cf6", "#06b6d4", "#ec4899", "#84cc16", "#f97316", "#64748b"];
  function svg(tag, attrs) {
    const n = document.createElementNS(NS, tag);
    for (const [k, v] of Object.entries(attrs || {})) n.setAttribute(k, String(v));
    return n;
  }
  function bars(container, entries, opts = {}) {
    container.replaceChildren();
    const rows = entries.slice(0, opts.max || 12);
    const rowH = 24, labelW = 190, width = 520, height = Math.max(rows.length * rowH, rowH);
    const max = Math.max(1, ...rows.map(r => r[1]));
    const s = svg("svg", { viewBox: `0 0 ${width} ${height}`, class: "bars", role: "img" });
    rows.forEach(([label, value], i) => {
      const y = i * rowH;
      const g = svg("g", { class: "bar-row" });
      const t = svg("text", { x: labelW - 8, y: y + rowH / 2 + 4, "text-anchor": "end", class: "label" });
      t.textContent = label.length > 26 ? label.slice(0, 25) + "…" : label;
      const title = svg("title"); title.textContent = `${label}: ${value.toLocaleString("en-US")}`;
      const w = Math.max(2, (width - labelW - 70) * value / max);
      const r = svg("rect", { x: labelW, y: y + 4, width: w, height: rowH - 8, rx: 3, fill: PALETTE[i % PALETTE.length] });
      const v = svg("text", { x: labelW + w + 6, y: y + rowH / 2 + 4, class: "value" });
      v.textContent = value.toLocaleString("en-US");
      g.append(title, t, r, v);
      if (opts.onclick) { g.style.cursor = "pointer"; g.addEventListener("click", () => opts.onclick(label)); }
      s.append(g);
    });
    if (entries.length > rows.length) {
      const more = document.createElement("p");
      more.className = "muted small";
      more.textContent = `+ ${entries.length - rows.length} more types`;
      container.append(s, more);
    } else container.append(s);
  }
  /* histogram: bins [{start_ms, end_ms, count}]; onpick(ms) on click; ondrag(ms) while dragging; returns a cursor setter */
  function histogram(container, bins, opts = {}) {
    container.replaceChildren();
    // drawn at the container's own width (no scaling: a thin strip stays thin on a wide screen)
    const width = Math.max(300, Math.round(container.clientWidth || 900)), height = opts.height || 170;
    const pad = { l: 48, r: 10, t: 6, b: 18 };
    const max = Math.max(1, ...bins.map(b => b.count));
    const s = svg("svg", { viewBox: `0 0 ${width} ${height}`, class: "histogram", role: "img" });
    const iw = width - pad.l - pad.r, ih = height - pad.t - pad.b;
    const bw = iw / Math.max(bins.length, 1);
    const t0 = bins.length ? bins[0].start_ms : 0, t1 = bins.length ? bins[bins.length - 1].end_ms : 1;
    for (const frac of height < 100 ? [0, 1] : [0, 0.5, 1]) {
      const y = pad.t + ih - ih * frac;
      s.append(svg("line", { x1: pad.l, x2: width - pad.r, y1: y, y2: y, class: "gridline" }));
      const lab = svg("text", { x: pad.l - 6, y: y + 4, "text-anchor": "end", class: "axis" });
      lab.textContent = Math.round(max * frac).toLocaleString("en-US");
      s.append(lab);
    }
    bins.forEach((b, i) => {
      const h = ih * b.count / max;
      const r = svg("rect", { x: pad.l + i * bw + 0.5, y: pad.t + ih - h, width: Math.max(bw - 1, 0.5), height: h, class: "hbar" });
      const title = svg("title");
      title.textContent = `${(b.start_ms / 1000).toFixed(2)}–${(b.end_ms / 1000).toFixed(2)} s: ${b.count.toLocaleString("en-US")} events`;
      r.append(title);
      s.append(r);
    });
    for (const frac of [0, 0.25, 0.5, 0.75, 1]) {
      const lab = svg("text", { x: pad.l + iw * frac, y: height - 6, "text-anchor": frac === 0 ? "start" : frac === 1 ? "end" : "middle", class: "axis" });
      lab.textContent = ((t0 + (t1 - t0) * frac) / 1000).toFixed(1) + " s";
      lab.setAttribute("y", height - 4);
      s.append(lab);
    }
    const cursor = svg("line", { x1: pad.l, x2: pad.l, y1: pad.t, y2: pad.t + ih, class: "cursor", visibility: "hidden" });
    s.append(cursor);
    const hit = svg("rect", { x: pad.l, y: pad.t, width: iw, height: ih, fill: "transparent", class: "hit" });
    s.append(hit);
    function msAt(ev) {
      const box = s.getBoundingClientRect();
      const x = (ev.clientX - box.left) * width / box.width;
      return t0 + Math.min(Math.max((x - pad.l) / iw, 0), 1) * (t1 - t0);
    }
    let dragging = false, moved = false;
    hit.addEventListener("pointerdown", ev => { dragging = true; moved = false; hit.setPointerCapture(ev.pointerId); });
    hit.addEventListener("pointermove", ev => { if (dragging) { moved = true; setCursor(msAt(ev)); } });
    hit.addEventListener("pointerup", ev => {
      if (!dragging) return;
      dragging = false;
      const ms = msAt(ev);
      if (moved && opts.ondrag) opts.ondrag(ms); else if (opts.onpick) opts.onpick(ms);
    });
    function setCursor(ms) {
      if (ms === null || ms === undefined) { cursor.setAttribute("visibility", "hidden"); return; }
      const x = pad.l + iw * (t1 > t0 ? (ms - t0) / (t1 - t0) : 0);
      cursor.setAttribute("x1", x); cursor.setAttribute("x2", x); cursor.setAttribute("visibility", "visible");
    }
    container.append(s);
    return setCursor;
  }
  return { bars, histogram };
})();
