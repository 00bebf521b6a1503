/* evlog dashboard: shared helpers. Event data only ever reaches the page through textContent. */
"use strict";
const EV = (() => {
  const tokenInput = document.getElementById("token");
  if (tokenInput) {
    tokenInput.value = sessionStorage.getItem("evlog-token") || "";
    tokenInput.addEventListener("change", () => sessionStorage.setItem("evlog-token", tokenInput.value));
  }
  async function api(path, opts = {}) {
    const headers = Object.assign({ "Accept": "application/json" }, opts.headers || {});
    const token = sessionStorage.getItem("evlog-token");
    if (token) headers["X-Evlog-Token"] = token;
    let body = opts.body;
    if (body !== undefined && typeof body !== "string") {
      body = JSON.stringify(body);
      headers["Content-Type"] = "application/json";
    }
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
      if (c === null || c === undefined) continue;
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
  let toastTimer = null;
  function toast(msg, kind) {
    const t = document.getElementById("toast");
    t.textContent = msg;
    t.className = "toast " + (kind || "");
    t.hidden = false;
    clearTimeout(toastTimer);
    toastTimer = setTimeout(() => { t.hidden = true; }, 5000);
  }
  function needToken(err) {
    if (err.status === 401) {
      document.getElementById("token-box").hidden = false;
      toast("This action needs the write token: enter it at the top right.", "error");
      return true;
    }
    return false;
  }
  function recUrl(name, suffix) { return "/api/recording/" + encodeURIComponent(name) + (suffix || ""); }
  return { api, el, fmtDuration, fmtNum, fmtBytes, fmtDate, toast, needToken, recUrl };
})();
