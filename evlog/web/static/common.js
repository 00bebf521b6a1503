/* evlog dashboard: shared helpers. Event data only ever reaches the page through textContent. */
"use strict";
const EV = (() => {
  const tokenInput = document.getElementById("token");
  // the link `evlog serve` prints (/?token=...): keep the token for writes, drop it from the URL
  const params = new URLSearchParams(location.search);
  if (params.get("token")) {
    sessionStorage.setItem("evlog-token", params.get("token"));
    params.delete("token");
    history.replaceState(null, "", location.pathname + (params.toString() ? "?" + params : "") + location.hash);
  }
  if (tokenInput) {
    tokenInput.value = sessionStorage.getItem("evlog-token") || "";
    tokenInput.addEventListener("change", () => sessionStorage.setItem("evlog-token", tokenInput.value));
  }
  const V1 = "/api/v1";
  async function api(path, opts = {}) {
    const headers = Object.assign({ "Accept": "application/json" }, opts.headers || {});
    const token = sessionStorage.getItem("evlog-token");
    if (token) headers["X-Evlog-Token"] = token;
    let body = opts.body;
    if (body !== undefined && typeof body !== "string") body = JSON.stringify(body);
    if (body !== undefined) headers["Content-Type"] = "application/json";
    const res = await fetch(path, { method: opts.method || "GET", headers, body, signal: opts.signal });
    let data = null;
    try { data = await res.json(); } catch (e) { data = null; }
    if (!res.ok) {
      const err = new Error((data && data.error) || res.status + " " + res.statusText);
      err.status = res.status;
      throw err;
    }
    return data;
  }
  function el(tag, attrs, ...children) {
    const node = document.createElement(tag);
    for (const [k, v] of Object.entries(attrs || {})) {
      if (v === null || v === undefined || v === false) continue;
      if (k === "class") node.className = v;
      else if (k === "text") node.textContent = v;
      else if (k.startsWith("on")) node.addEventListener(k.slice(2), v);
      else node.setAttribute(k, v === true ? "" : String(v));
    }
    for (const c of children) {
      if (c === null || c === undefined || c === false) continue;
      node.append(c instanceof Node ? c : document.createTextNode(String(c)));
    }
    return node;
  }
  function fmtDuration(ms) {
    if (!ms) return "0 s";
    if (ms < 1000) return ms.toFixed(0) + " ms";
    const s = ms / 1000;
    if (s < 60) return s.toFixed(2) + " s";
    const m = Math.floor(s / 60), h = Math.floor(m / 60);
    if (h) return h + " h " + (m % 60) + " min";
    return m + " min " + Math.round(s % 60) + " s";
  }
  function fmtNum(n) { return Math.round(n).toLocaleString("en-US"); }
  function fmtBytes(b) {
    const u = ["B", "KB", "MB", "GB", "TB"]; let i = 0;
    while (b >= 1024 && i < u.length - 1) { b /= 1024; i++; }
    return (i ? b.toFixed(1) : b) + " " + u[i];
  }
  function fmtDate(iso) {
    if (!iso) return "–";
    const d = new Date(iso);
    return isNaN(d) ? iso : d.toISOString().replace("T", " ").slice(0, 19) + " UTC";
  }
  function pct(part, whole) { return whole > 0 ? Math.min(100, (100 * part) / whole) : 100; }
  let toastTimer = null;
  function toast(msg, kind) {
    const t = document.getElementById("toast");
    t.replaceChildren(...(msg instanceof Node ? [msg] : [document.createTextNode(msg)]));
    t.className = "toast " + (kind || "");
    t.hidden = false;
    clearTimeout(toastTimer);
    toastTimer = setTimeout(() => { t.hidden = true; }, 6000);
  }
  function needToken(err) {
    if (err.status === 401) {
      document.getElementById("token-box").hidden = false;
      toast("This action needs the token: enter it at the top right.", "error");
      return true;
    }
    return false;
  }
  function recUrl(name, suffix) { return V1 + "/recording/" + encodeURIComponent(name) + (suffix || ""); }

  /* A button that does one thing at a time: disabled, with a busy label, while `work` runs
     (a double click starts it once). */
  function busyButton(button, busyLabel, work) {
    const label = button.textContent;
    button.addEventListener("click", async (e) => {
      if (button.dataset.busy === "yes") return;
      button.dataset.busy = "yes"; button.disabled = true; button.textContent = busyLabel;
      try { await work(e); } finally {
        button.dataset.busy = "no"; button.disabled = false; button.textContent = label;
      }
    });
  }

  /* The path of a value in the filter language: data.a.b, data.items[0].qty, data["a b"]. */
  function childPath(path, key) {
    if (typeof key === "number") return `${path}[${key}]`;
    return /^[A-Za-z_][A-Za-z0-9_]*$/.test(key) ? `${path}.${key}` : `${path}[${JSON.stringify(key)}]`;
  }
  async function copyText(text) {
    try {
      if (navigator.clipboard && window.isSecureContext) { await navigator.clipboard.writeText(text); return true; }
    } catch (e) { /* fall back below */ }
    const ta = el("textarea", { class: "offscreen", "aria-hidden": "true" });
    ta.value = text; document.body.append(ta); ta.select();
    let ok = false;
    try { ok = document.execCommand("copy"); } catch (e) { ok = false; }
    ta.remove();
    return ok;
  }
  /* A collapsible JSON tree (objects and arrays are <details>, open to `open` levels); each
     key has a button copying its path in the filter language. Long arrays show their first 200. */
  function jsonTree(value, path = "data", open = 2) {
    const copy = p => el("button", { class: "copy", type: "button", title: "Copy path " + p, "data-path": p,
      onclick: async (e) => { e.preventDefault(); e.stopPropagation();
        const ok = await copyText(p); toast(ok ? "Copied " + p : "Copy failed: " + p, ok ? "ok" : "error"); } }, "⧉");
    function leaf(v) {
      const type = v === null ? "null" : typeof v;
      return el("span", { class: "v " + type, text: type === "string" ? JSON.stringify(v) : String(v) });
    }
    function node(key, v, p, depth) {
      const keyEl = key === null ? null : el("span", { class: "k", text: typeof key === "number" ? key : key });
      if (v === null || typeof v !== "object") {
        return el("div", { class: "leaf", "data-path": p }, keyEl, keyEl ? ": " : null, leaf(v), copy(p));
      }
      const isArr = Array.isArray(v);
      const entries = isArr ? v.map((x, i) => [i, x]) : Object.entries(v);
      const d = el("details", { class: "branch", "data-path": p });
      d.open = depth < open;
      d.append(el("summary", {}, keyEl, keyEl ? ": " : null,
        el("span", { class: "muted", text: isArr ? `[${entries.length}]` : `{${entries.length}}` }), copy(p)));
      const body = el("div", { class: "children" });
      for (const [k, x] of entries.slice(0, 200)) body.append(node(k, x, childPath(p, k), depth + 1));
      if (entries.length > 200) body.append(el("div", { class: "muted small", text: `… ${entries.length - 200} more` }));
      d.append(body);
      return d;
    }
    return el("div", { class: "tree" }, node(null, value, path, 0));
  }
  function inField(e) {
    const t = e.target;
    return t && (t.tagName === "INPUT" || t.tagName === "TEXTAREA" || t.tagName === "SELECT" || t.isContentEditable);
  }
  return { V1, api, el, fmtDuration, fmtNum, fmtBytes, fmtDate, pct, toast, needToken, recUrl, busyButton,
           jsonTree, copyText, inField };
})();
