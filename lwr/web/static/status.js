// The LWR status page's refresh: fetch status.json every few seconds and redraw the sections
// in place (no page reload).  Builds every node with textContent: no server value is parsed
// as HTML.  Served by the LWR itself (/status.js) so the page's Content-Security-Policy can
// forbid inline scripts.
(function () {
  "use strict";
  var script = document.currentScript;
  var period = 1000 * (parseInt(script && script.getAttribute("data-refresh"), 10) || 5);
  var known = ["ok", "down", "complete", "running", "failed", "lost", "queued", "preprocessing",
               "postprocessing", "accepted", "cancelled"];

  function el(tag, text, cls) {
    var node = document.createElement(tag);
    if (text !== undefined && text !== null) { node.textContent = String(text); }
    if (cls) { node.className = cls; }
    return node;
  }
  function badge(state) {
    return el("span", state, "badge " + (known.indexOf(state) >= 0 ? state : "other"));
  }
  function age(seconds) {
    if (seconds === null || seconds === undefined) { return "-"; }
    seconds = Math.max(0, Math.floor(seconds));
    if (seconds < 120) { return seconds + " s"; }
    if (seconds < 7200) { return Math.floor(seconds / 60) + " min"; }
    if (seconds < 172800) { return Math.floor(seconds / 3600) + " h"; }
    return Math.floor(seconds / 86400) + " d";
  }
  function bytes(n) {
    var units = ["B", "KiB", "MiB", "GiB", "TiB"], i = 0;
    n = Number(n) || 0;
    while (n >= 1024 && i < units.length - 1) { n /= 1024; i++; }
    return (i === 0 ? n : n.toFixed(1)) + " " + units[i];
  }
  function clock(t) {
    var d = new Date(t * 1000);
    return d.toTimeString().slice(0, 8);
  }
  function fill(tableId, rows, empty) {
    var table = document.getElementById(tableId);
    if (!table) { return; }
    var body = table.tBodies[0], columns = table.tHead.rows[0].cells.length;
    var fresh = document.createElement("tbody");
    rows.forEach(function (cells) {
      var tr = document.createElement("tr");
      cells.forEach(function (cell) {
        var td = el("td", null, cell && cell.cls);
        var value = cell && cell.node !== undefined ? cell.node : (cell && cell.cls !== undefined ? cell.text : cell);
        if (value instanceof Node) { td.appendChild(value); } else { td.textContent = value === null || value === undefined ? "-" : String(value); }
        tr.appendChild(td);
      });
      fresh.appendChild(tr);
    });
    if (!rows.length) {
      var tr = document.createElement("tr"), td = el("td", empty, "empty");
      td.colSpan = columns;
      tr.appendChild(td);
      fresh.appendChild(tr);
    }
    table.replaceChild(fresh, body);
  }
  function replace(id, nodes) {
    var box = document.getElementById(id);
    if (!box) { return; }
    while (box.firstChild) { box.removeChild(box.firstChild); }
    nodes.forEach(function (node) { box.appendChild(node); });
  }
  function line() {
    var div = el("div");
    Array.prototype.slice.call(arguments).forEach(function (part) {
      div.appendChild(part instanceof Node ? part : document.createTextNode(String(part)));
    });
    return div;
  }

  function render(r) {
    replace("overall", [badge(r.status)]);
    document.getElementById("version").textContent = r.version;
    document.getElementById("uptime").textContent = age(r.uptime_seconds);
    document.getElementById("updated").textContent = clock(r.now);
    replace("reasons", (r.reasons || []).map(function (reason) { return el("li", reason); }));
    fill("managers", r.managers.map(function (m) {
      return [m.name, m.type, {node: badge(m.status || "ok")}, m.queue_depth, m.running];
    }), "no managers");
    document.getElementById("active-count").textContent = r.jobs.active_count;
    fill("active", r.jobs.active.map(function (j) {
      return [j.job_id, {cls: "hide-narrow", text: j.manager}, j.tool_id || "-", {node: badge(j.state)},
              age(j.age_seconds)];
    }), "no active jobs");
    fill("recent", r.jobs.recent.map(function (j) {
      return [j.job_id, {cls: "hide-narrow", text: j.manager}, j.tool_id || "-", {node: badge(j.state)},
              age(j.age_seconds),
              j.exit_code === null ? "-" : j.exit_code, {cls: "reason", text: j.failure_reason || ""}];
    }), r.history.enabled ? "no finished jobs yet" : "job history is off");
    var disk = r.disk;
    replace("disk", !disk ? [el("span", "unknown", "empty")] : disk.free_bytes === undefined
      ? [line(badge(disk.status), " " + (disk.problems || []).join("; "))]
      : [line(badge(disk.status), " " + bytes(disk.free_bytes) + " free (minimum " + bytes(disk.min_free_bytes) + ")")]);
    replace("transfers", !(r.transfers && r.transfers.length) ? [el("span", "job history is off", "empty")]
      : r.transfers.map(function (w) {
        return line("last " + age(w.window_seconds) + ": in " + bytes(Math.floor(w.bytes_in_per_second)) + "/s, out " +
                    bytes(Math.floor(w.bytes_out_per_second)) + "/s (" + w.jobs + " jobs, " + w.failed + " failed)");
      }));
    var b = r.broker;
    replace("broker", !b ? [el("span", "no message queue configured", "empty")]
      : [line(badge(b.status), " " + ({"true": "connected", "false": "not connected"}[String(b.connected)] || "unknown") +
              " to " + (b.url || "-") + "; " + (b.unpublished_statuses || 0) + " statuses waiting" +
              (b.error ? " (" + b.error + ")" : ""))]);
    fill("errors", (r.errors || []).map(function (e) {
      return [clock(e.time), e.level, {cls: "hide-narrow", text: e.logger}, {cls: "message", text: e.message}];
    }), "none since start");
  }

  function refresh() {
    fetch("status.json", {credentials: "same-origin", headers: {"Accept": "application/json"}, cache: "no-store"})
      .then(function (response) {
        if (response.status === 401) {  // the session expired: the page itself shows the form
          window.location.reload();
          return null;
        }
        return response.ok ? response.json() : null;
      })
      .then(function (report) { if (report) { render(report); } })
      .catch(function () { /* the server is restarting: try again at the next tick */ })
      .then(function () { window.setTimeout(refresh, period); });
  }
  window.setTimeout(refresh, period);
}());
