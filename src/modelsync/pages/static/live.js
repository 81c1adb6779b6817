// modelsync pages: live updates. Progressive: every page works without this script.
// The page names its change stream (body[data-stream]); on each event the page fetches itself
// (asking for at least the event's catalog version, so never a page from before the event)
// and patches in place: changed cells replaced and highlighted, new rows inserted, rows gone
// marked. On a dropped stream the browser reconnects with Last-Event-ID; the page says so and
// fetches itself once more, so nothing missed while away stays missing.
(function () {
  "use strict";
  var body = document.body;
  var live = document.getElementById("live");
  var wanted = Number(body.dataset.version || 0);
  var pending = null;
  var busy = false;
  var again = false;

  function say(text, warn) {
    if (!live) return;
    live.textContent = text;
    live.classList.toggle("warn", !!warn);
  }

  function sig(node) {
    // a cell's content without its relative times (they move by themselves)
    return node.innerHTML.replace(/<time([^>]*)>[^<]*<\/time>/g, "<time$1>");
  }

  function flash(node) {
    node.classList.remove("flash");
    void node.offsetWidth;
    node.classList.add("flash");
  }

  function patchRows(oldBody, newBody) {
    var old = {};
    Array.prototype.forEach.call(oldBody.children, function (row) {
      if (row.id) old[row.id] = row;
    });
    var seen = {};
    var order = [];
    Array.prototype.forEach.call(newBody.children, function (row) {
      if (!row.id) { order.push(document.importNode(row, true)); return; }
      seen[row.id] = true;
      var mine = old[row.id];
      if (!mine) {
        var added = document.importNode(row, true);
        flash(added);
        order.push(added);
        return;
      }
      if (mine.className.replace(/\b(flash|gone)\b/g, "").trim() !== row.className.trim()) {
        mine.className = row.className;
      }
      mine.classList.remove("gone");
      var cells = row.children;
      for (var i = 0; i < cells.length; i++) {
        var cell = mine.children[i];
        if (!cell) { mine.appendChild(document.importNode(cells[i], true)); continue; }
        if (sig(cell) !== sig(cells[i])) {
          cell.innerHTML = cells[i].innerHTML;
          flash(cell);
        } else if (cell.innerHTML !== cells[i].innerHTML) {
          cell.innerHTML = cells[i].innerHTML; // times only: no highlight
        }
      }
      order.push(mine);
    });
    Object.keys(old).forEach(function (id) {
      if (!seen[id]) { old[id].classList.add("gone"); order.push(old[id]); }
    });
    Array.prototype.forEach.call(oldBody.querySelectorAll("tr:not([id])"), function (row) {
      row.remove();
    });
    order.forEach(function (row) { oldBody.appendChild(row); });
  }

  function patch(doc) {
    var mine = document.querySelectorAll("[data-live-rows]");
    var theirs = doc.querySelectorAll("[data-live-rows]");
    for (var i = 0; i < mine.length && i < theirs.length; i++) patchRows(mine[i], theirs[i]);
    Array.prototype.forEach.call(doc.querySelectorAll("[data-live]"), function (node) {
      var here = document.querySelector('[data-live="' + node.dataset.live + '"]');
      if (here && sig(here) !== sig(node)) {
        here.innerHTML = node.innerHTML;
        if (node.dataset.live !== "version") flash(here);
      }
    });
    var version = Number(doc.body.dataset.version || 0);
    if (version > Number(body.dataset.version || 0)) body.dataset.version = String(version);
  }

  function refresh() {
    if (busy) { again = true; return; }
    busy = true;
    fetch(location.href, {
      headers: { "x-catalog-min": String(wanted), accept: "text/html" },
      cache: "no-store",
      credentials: "same-origin"
    }).then(function (response) {
      if (!response.ok) throw new Error("HTTP " + response.status);
      return response.text();
    }).then(function (text) {
      patch(new DOMParser().parseFromString(text, "text/html"));
    }).catch(function () {
      say("Could not refresh; reload the page for fresh data.", true);
    }).then(function () {
      busy = false;
      if (again) { again = false; refresh(); }
    });
  }

  function soon() {
    if (pending) return;
    pending = setTimeout(function () { pending = null; refresh(); }, 50);
  }

  var lastId = "";

  function onEvent(event) {
    if (event.lastEventId) lastId = event.lastEventId;
    try {
      var data = JSON.parse(event.data);
      if (data && data.catalog_version > wanted) wanted = data.catalog_version;
    } catch (e) { /* a keep-alive or a non-JSON event: refresh anyway */ }
    soon();
  }

  function connect(url) {
    var dropped = false;
    var closedTries = 0;
    var source;
    function open() {
      // a stream the browser gave up on is opened again from the last event it got (?since=)
      var from = lastId ? (url.indexOf("?") < 0 ? "?" : "&") + "since=" + lastId : "";
      source = new EventSource(url + from);
      source.onopen = function () {
        closedTries = 0;
        if (dropped) {
          dropped = false;
          say("Reconnected; caught up with the changes missed.");
          soon();
        } else {
          say("Live: this page updates itself.");
        }
      };
      source.onmessage = onEvent;
      // change, missing and health events, and gone (history pruned: the page reloads its
      // data); overflow ends the stream, which the browser reopens with Last-Event-ID
      ["change", "missing", "health", "gone", "overflow"].forEach(function (name) {
        source.addEventListener(name, onEvent);
      });
      source.onerror = function () {
        dropped = true;
        if (source.readyState === EventSource.CLOSED) {
          // the server refused: the browser will not retry by itself
          closedTries += 1;
          say("Live updates lost; retrying. Reload for fresh data.", true);
          setTimeout(open, Math.min(30000, 1000 * closedTries));
        } else {
          say("Connection lost; reconnecting (missed changes will follow)…", true);
        }
      };
    }
    open();
  }

  function tick() {
    var now = Date.now();
    Array.prototype.forEach.call(document.querySelectorAll("time[datetime]"), function (node) {
      var at = Date.parse(node.getAttribute("datetime"));
      if (isNaN(at)) return;
      var s = (now - at) / 1000, m = Math.abs(s), text = "just now";
      var units = [[86400, "d"], [3600, "h"], [60, "min"], [1, "s"]];
      if (m >= 5) {
        for (var i = 0; i < units.length; i++) {
          if (m >= units[i][0]) {
            var n = Math.floor(m / units[i][0]);
            text = s > 0 ? n + " " + units[i][1] + " ago" : "in " + n + " " + units[i][1];
            break;
          }
        }
      }
      node.textContent = text;
    });
  }

  if (body.dataset.stream && window.EventSource) connect(body.dataset.stream);
  var every = Number(body.dataset.poll || 0);
  if (every > 0) {
    setInterval(function () { if (!document.hidden) refresh(); }, every * 1000);
  }
  setInterval(tick, 15000);
})();
