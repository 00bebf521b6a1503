/* Recordings list: the table is rendered on the server; this adds sort, search and refresh. */
"use strict";
(() => {
  const { V1, api, el, fmtDuration, fmtNum, fmtBytes, fmtDate, toast } = EV;
  let items = null, sortKey = "start_time_ns", sortDir = -1;
  const tbody = document.querySelector("#recordings tbody");
  const search = document.getElementById("search");
  function row(r) {
    return el("tr", { "data-name": r.name },
      el("td", {}, el("a", { href: "/recording/" + encodeURIComponent(r.name), text: r.name }),
        r.session_name && r.session_name !== r.name ? el("div", { class: "muted small", text: r.session_name }) : null,
        r.error ? el("div", { class: "error-text small", text: r.error }) : null),
      el("td", { text: fmtDate(r.start_time) }),
      el("td", { class: "num", text: fmtDuration(r.duration_ms) }),
      el("td", { class: "num", text: fmtNum(r.total_events) }),
      el("td", { class: "num", text: fmtBytes(r.size_bytes) }),
      el("td", {}, el("span", { class: "badge " + r.format, text: r.format })));
  }
  function render() {
    const q = search.value.trim().toLowerCase();
    if (!items) {   // before the API answered: filter the server-rendered rows
      for (const tr of tbody.rows) tr.hidden = q && !tr.textContent.toLowerCase().includes(q);
      return;
    }
    const rows = items.filter(r => !q || r.name.toLowerCase().includes(q) || (r.session_name || "").toLowerCase().includes(q));
    rows.sort((a, b) => {
      const x = a[sortKey], y = b[sortKey];
      if (x === y) return 0;
      if (x === null || x === undefined) return 1;
      if (y === null || y === undefined) return -1;
      return (x < y ? -1 : 1) * sortDir;
    });
    tbody.replaceChildren(...rows.map(row));
    document.getElementById("empty").hidden = items.length > 0;
    document.querySelectorAll("th.sortable").forEach(th => {
      th.classList.toggle("asc", th.dataset.sort === sortKey && sortDir > 0);
      th.classList.toggle("desc", th.dataset.sort === sortKey && sortDir < 0);
    });
  }
  async function load() {
    try {
      const data = await api(V1 + "/recordings");
      items = data.recordings;
      const st = data.stats;
      document.getElementById("st-count").textContent = fmtNum(st.recordings);
      document.getElementById("st-events").textContent = fmtNum(st.total_events);
      document.getElementById("st-duration").textContent = fmtDuration(st.total_duration_ms);
      document.getElementById("st-avg").textContent = fmtNum(st.average_events);
      document.getElementById("st-avgdur").textContent = fmtDuration(st.average_duration_ms);
      render();
      document.body.dataset.ready = "yes";
    } catch (e) { toast(e.message, "error"); }
  }
  document.querySelectorAll("th.sortable").forEach(th => th.addEventListener("click", () => {
    if (sortKey === th.dataset.sort) sortDir = -sortDir; else { sortKey = th.dataset.sort; sortDir = 1; }
    render();
  }));
  search.addEventListener("input", render);
  document.getElementById("refresh").addEventListener("click", e => { e.preventDefault(); load(); });
  load();
})();
