// enxame dashboard: reads the HTTP API with the token kept in localStorage
// and redraws every 2 s. No dependencies, no build step.
"use strict";
(function () {
  const TOKEN_KEY = "enxame.api.token";
  const POLL_MS = 2000;
  const $ = (id) => document.getElementById(id);
  let token = localStorage.getItem(TOKEN_KEY) || "";
  let timer = 0;
  let selectedJob = "";
  let myID = "";

  // el builds an element: el("td", {class: "mono"}, "text", child...).
  function el(tag, attrs, ...kids) {
    const e = document.createElement(tag);
    for (const [k, v] of Object.entries(attrs || {})) {
      if (k === "class") e.className = v; else if (k.startsWith("on")) e.addEventListener(k.slice(2), v); else e.setAttribute(k, v);
    }
    for (const k of kids) e.append(k instanceof Node ? k : document.createTextNode(k == null ? "" : String(k)));
    return e;
  }
  const tag = (s) => el("span", { class: "tag " + s }, s);
  // A CID arrives as a string or, from compute's JSON, as {"/": "bafy…"}.
  const text = (v) => (v && typeof v === "object" && typeof v["/"] === "string" ? v["/"] : v == null ? "" : String(v));
  const short = (v) => {
    const s = text(v);
    return s.length > 16 ? s.slice(0, 6) + "…" + s.slice(-6) : s;
  };
  const mono = (s, full) => el("span", { class: "mono", title: text(full || s) }, short(s));
  function bytes(n) {
    if (!n) return "0 B";
    const u = ["B", "KiB", "MiB", "GiB", "TiB"];
    let i = 0;
    while (n >= 1024 && i < u.length - 1) { n /= 1024; i++; }
    return (i ? n.toFixed(1) : n) + " " + u[i];
  }
  function dur(ns) {
    if (ns == null) return "";
    const s = ns / 1e9;
    if (s < 1) return Math.round(ns / 1e6) + " ms";
    if (s < 120) return s.toFixed(1) + " s";
    if (s < 7200) return Math.floor(s / 60) + " min";
    if (s < 172800) return Math.floor(s / 3600) + " h " + Math.floor((s % 3600) / 60) + " min";
    return Math.floor(s / 86400) + " d";
  }
  function fill(tbodyOf, rows, cols, empty) {
    const tb = $(tbodyOf).querySelector("tbody");
    tb.replaceChildren(...(rows.length ? rows : [el("tr", { class: "empty" }, el("td", { colspan: cols }, empty))]));
  }

  class APIError extends Error {
    constructor(status, code, msg) { super(msg); this.status = status; this.code = code; }
  }
  // api calls the HTTP API with the token; body is JSON (an object),
  // FormData or undefined (GET). It returns the Response.
  async function call(path, body) {
    const init = { method: body === undefined ? "GET" : "POST", headers: { Authorization: "Bearer " + token } };
    if (body instanceof FormData) init.body = body;
    else if (body !== undefined) { init.body = JSON.stringify(body); init.headers["Content-Type"] = "application/json"; }
    const r = await fetch("/api/v1" + path, init);
    if (!r.ok) {
      let code = "", msg = r.status + " " + r.statusText;
      try { const e = await r.json(); code = e.error.code; msg = e.error.message; } catch (_) { /* not JSON */ }
      throw new APIError(r.status, code, msg);
    }
    return r;
  }
  const api = async (path, body) => (await call(path, body)).json();
  // stream reads an NDJSON response, calling onEvent for each line.
  async function stream(path, body, onEvent) {
    const r = await call(path, body);
    const rd = r.body.getReader();
    const dec = new TextDecoder();
    let buf = "";
    for (;;) {
      const { done, value } = await rd.read();
      if (value) buf += dec.decode(value, { stream: true });
      let i;
      while ((i = buf.indexOf("\n")) >= 0) {
        const line = buf.slice(0, i).trim();
        buf = buf.slice(i + 1);
        if (line) onEvent(JSON.parse(line));
      }
      if (done) break;
    }
    if (buf.trim()) onEvent(JSON.parse(buf));
  }

  function showLogin(msg) {
    clearTimeout(timer);
    $("main").hidden = true;
    $("logout").hidden = true;
    $("login").hidden = false;
    $("login-error").textContent = msg || "";
    $("self").textContent = "not connected";
  }

  async function refresh() {
    clearTimeout(timer);
    try {
      const [st, peers, table, transfers, pins, jobs] = await Promise.all([
        api("/status"), api("/peers"), api("/dht/table"), api("/transfers"), api("/pin/ls"), api("/compute/jobs"),
      ]);
      $("login").hidden = true;
      $("main").hidden = false;
      $("logout").hidden = false;
      $("error").textContent = "";
      drawStatus(st);
      drawPeers(peers || []);
      drawTable(table || []);
      drawTransfers(transfers || []);
      drawPins(pins || []);
      drawJobs(jobs || []);
      if (selectedJob) await drawJob(selectedJob);
      $("live").textContent = "updated " + new Date().toLocaleTimeString();
    } catch (e) {
      if (e instanceof APIError && e.status === 401) { showLogin("The daemon refused this token: " + e.message); return; }
      $("error").textContent = "Cannot reach the daemon: " + e.message;
    }
    timer = setTimeout(refresh, POLL_MS);
  }

  function card(k, v, extra) { return el("div", { class: "card" }, el("div", { class: "k" }, k), el("div", { class: "v" }, v), extra || ""); }
  function drawStatus(st) {
    myID = st.id;
    $("self").replaceChildren(mono(st.id), " ", el("span", { class: "muted" }, st.version));
    const pct = st.storage_max > 0 ? Math.min(100, (100 * st.storage_bytes) / st.storage_max) : 0;
    const fillBar = el("span");
    fillBar.style.width = pct.toFixed(1) + "%"; // CSSOM: the CSP allows no inline style attribute
    const bar = el("div", { class: "bar" }, fillBar);
    $("summary").replaceChildren(
      card("peer", mono(st.id)),
      card("reachability", tag(st.reachability || "unknown")),
      card("DHT mode", st.dht_mode),
      card("uptime", dur(st.uptime_ns)),
      card("connected peers", st.peers),
      card("storage", bytes(st.storage_bytes) + (st.storage_max > 0 ? " of " + bytes(st.storage_max) : " (no quota)"), st.storage_max > 0 ? bar : ""),
    );
  }
  function drawPeers(peers) {
    $("peer-count").textContent = "(" + peers.length + ")";
    fill("peers", peers.map((p) => el("tr", { "data-peer": p.id },
      el("td", {}, mono(p.id)), el("td", {}, tag(p.path || "direct")), el("td", {}, p.direction),
      el("td", {}, p.latency_ns ? dur(p.latency_ns) : "–"), el("td", { class: "mono" }, p.addr), el("td", {}, p.agent || ""))), 6, "no peers connected");
  }
  function drawTable(buckets) {
    const n = buckets.reduce((a, b) => a + (b.peers || []).length, 0);
    $("dht-size").textContent = "(" + n + " peers in " + buckets.length + " buckets)";
    $("buckets").replaceChildren(...buckets.map((b) => el("span", { class: "bucket", title: (b.peers || []).map((p) => p.id).join("\n") },
      "cpl " + b.cpl + ": " + (b.peers || []).length)));
  }
  function drawTransfers(ts) {
    fill("transfers", ts.map((t) => {
      const p = t.progress || {};
      const done = p.bytes_total ? bytes(p.bytes_done) + " / " + bytes(p.bytes_total) : bytes(p.bytes_done);
      const provs = (p.providers || []).map((pr) => el("div", {}, mono(pr.peer), " ", tag(pr.state), " " + (100 * (pr.share || 0)).toFixed(0) + "% (" + bytes(pr.bytes) + ")"));
      return el("tr", {}, el("td", {}, mono(t.cid)), el("td", {}, done), el("td", {}, bytes(p.rate) + "/s"), el("td", {}, ...provs));
    }), 4, "no transfer in progress");
  }
  function drawPins(pins) {
    $("pin-count").textContent = "(" + pins.length + ")";
    $("pins").replaceChildren(...(pins.length ? pins.map((c) => el("li", {}, c)) : [el("li", { class: "muted" }, "nothing pinned")]));
  }
  function jobTook(j) {
    if (!j.ended) return "";
    return dur((Date.parse(j.ended) - Date.parse(j.submitted)) * 1e6);
  }
  function drawJobs(jobs) {
    jobs.sort((a, b) => Date.parse(b.submitted) - Date.parse(a.submitted));
    fill("jobs", jobs.map((j) => {
      const units = j.units || [];
      const ok = units.filter((u) => u.status === "verified" || u.status === "done").length;
      return el("tr", { class: "job" + (j.id === selectedJob ? " sel" : ""), "data-job": j.id, onclick: () => { selectedJob = j.id; refresh(); } },
        el("td", {}, mono(j.id)), el("td", {}, tag(j.state)), el("td", {}, ok + " / " + units.length + " done"),
        el("td", {}, new Date(j.submitted).toLocaleTimeString()), el("td", {}, jobTook(j)),
        el("td", {}, j.result_dir ? mono(j.result_dir) : j.error || ""));
    }), 6, "no jobs yet");
  }
  async function drawJob(id) {
    const j = await api("/compute/job", { job: id });
    $("job-detail").hidden = false;
    $("detail-id").replaceChildren(mono(j.id), " ", tag(j.state), j.error ? " " + j.error : "");
    fill("units", (j.units || []).map((u) => {
      const rs = u.receipts || [];
      const where = rs.map((r) => short(r.worker)).join(", ");
      const took = rs.length ? dur(rs[0].took_ns) : "";
      const btn = el("button", { type: "button", onclick: () => showLogs(j.id, u.index) }, "stderr");
      return el("tr", {}, el("td", {}, (u.reduce ? "reduce " : "") + u.index), el("td", {}, tag(u.status)),
        el("td", { class: "mono" }, where), el("td", {}, took),
        el("td", {}, rs.length ? rs.length + " signed receipt" + (rs.length > 1 ? "s" : "") + (u.status === "verified" ? ", replicas agree" : "") : "–"),
        el("td", {}, u.output ? mono(u.output) : (u.failures || []).join("; ")), el("td", {}, btn));
    }), 7, "no units");
  }
  async function showLogs(job, unit) {
    const pre = $("logs");
    pre.hidden = false;
    try {
      const res = await api("/compute/logs", { job: job, unit: unit });
      const logs = res.logs || [];
      pre.textContent = logs.length ? logs.map((l) => "# unit " + l.unit + " on " + l.worker + " (exit " + l.exit_code + (l.failure ? ", " + l.failure : "") + ")\n" + (l.stderr || "(no stderr)")).join("\n")
        : "unit " + unit + ": no stderr kept (only runs that wrote to stderr or failed have logs)";
    } catch (e) { pre.textContent = "logs: " + e.message; }
  }

  async function addFile(ev) {
    ev.preventDefault();
    const f = $("add-file").files[0];
    const out = $("add-result");
    if (!f) return;
    const fd = new FormData();
    fd.append("file", f, f.name);
    out.textContent = "adding " + f.name + "…";
    try {
      let root = "";
      await stream("/add/stream?opts=" + encodeURIComponent(JSON.stringify({ name: f.name })), fd, (e) => {
        if (e.event === "error") throw new Error(e.error);
        if (e.event === "progress" && e.total) out.textContent = "adding " + f.name + ": " + bytes(e.bytes) + " / " + bytes(e.total);
        if (e.event === "done") root = e.root;
      });
      out.replaceChildren("added " + f.name + ": ", el("code", { id: "added-cid" }, root));
      refresh();
    } catch (e) { out.textContent = "add failed: " + e.message; }
  }

  async function submitJob(ev) {
    ev.preventDefault();
    const out = $("submit-result");
    const words = (s) => s.split(/\s+/).filter(Boolean);
    const spec = { module: "", inputs: words($("submit-inputs").value), args: words($("submit-args").value) };
    const f = $("submit-module").files[0];
    const fd = new FormData();
    fd.append("spec", JSON.stringify(spec));
    fd.append("module", f, f.name);
    out.textContent = "submitting…";
    try {
      const res = await api("/compute/submit", fd);
      selectedJob = res.job;
      out.replaceChildren("job ", el("code", { id: "submitted-job" }, res.job), " ", el("span", { id: "job-state" }, "active"));
      refresh();
      watch(res.job);
    } catch (e) { out.textContent = "submit failed: " + e.message; }
  }
  // watch follows a job's events (NDJSON) until it ends.
  async function watch(job) {
    const pre = $("watch");
    pre.hidden = false;
    pre.textContent = "";
    try {
      await stream("/compute/watch", { job: job }, (e) => {
        pre.textContent += new Date(e.at).toLocaleTimeString() + "  " + (e.unit >= 0 ? "unit " + e.unit + " " : "") + e.event +
          (e.worker ? " on " + short(e.worker) : "") + (e.detail ? " (" + e.detail + ")" : "") + "\n";
        pre.scrollTop = pre.scrollHeight;
      });
      const j = await api("/compute/job", { job: job });
      const s = $("job-state");
      if (s) s.replaceChildren(tag(j.state));
      refresh();
    } catch (e) { pre.textContent += "watch: " + e.message + "\n"; }
  }

  document.addEventListener("DOMContentLoaded", () => {
    $("token-form").addEventListener("submit", (ev) => {
      ev.preventDefault();
      token = $("token").value.trim();
      localStorage.setItem(TOKEN_KEY, token);
      refresh();
    });
    $("logout").addEventListener("click", () => { localStorage.removeItem(TOKEN_KEY); token = ""; showLogin(""); });
    $("add-form").addEventListener("submit", addFile);
    $("submit-form").addEventListener("submit", submitJob);
    if (token) refresh(); else showLogin("");
  });
})();
