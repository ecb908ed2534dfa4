// glomers-sim report: opens diagram windows, shows a message's body when its arrow (or a
// link in the story) is clicked, and points at operations. Everything it needs is in the
// page; it loads nothing.
(function () {
  "use strict";
  var bodiesEl = document.getElementById("bodies");
  var bodies = bodiesEl ? JSON.parse(bodiesEl.textContent || "{}") : {};
  var panel = document.getElementById("panel");
  var panelBody = document.getElementById("panel-body");

  function secs(ns) { return (ns / 1e9).toFixed(3) + " s"; }

  function el(tag, text) {
    var e = document.createElement(tag);
    if (text !== undefined) { e.textContent = text; }
    return e;
  }

  function pretty(text) {
    try { return JSON.stringify(JSON.parse(text), null, 2); } catch (e) { return text; }
  }

  function clearSelection() {
    document.querySelectorAll(".sel").forEach(function (e) { e.classList.remove("sel"); });
  }

  function showPanel(nodes) {
    if (!panel) { return; }
    panelBody.textContent = "";
    nodes.forEach(function (n) { panelBody.appendChild(n); });
    panel.hidden = false;
  }

  function showMessage(id) {
    var b = bodies[id];
    clearSelection();
    document.querySelectorAll('line[data-m="' + id + '"]').forEach(function (l) { l.classList.add("sel"); });
    if (!b) { return; }
    var fate = b[3] + (b[4] === null ? "" : " at " + secs(b[4]));
    if (b[4] !== null) { fate += " (" + ((b[4] - b[2]) / 1e6).toFixed(1) + " ms after sending)"; }
    showPanel([
      el("h4", "net #" + id + ": " + b[0] + " \u2192 " + b[1]),
      el("p", "sent at " + secs(b[2]) + ", " + fate),
      el("pre", b[5] ? pretty(b[5]) : "(no body recorded)")
    ]);
  }

  function chipFor(id) { return document.querySelector('button.chip[data-w="' + id + '"]'); }

  function setOpen(id, open) {
    var w = document.getElementById(id);
    if (!w) { return; }
    w.hidden = !open;
    var c = chipFor(id);
    if (c) { c.classList.toggle("on", open); c.setAttribute("aria-pressed", String(open)); }
  }

  document.querySelectorAll("button.chip").forEach(function (c) {
    c.addEventListener("click", function () {
      var w = document.getElementById(c.dataset.w);
      setOpen(c.dataset.w, w ? w.hidden : false);
    });
  });

  // Arrows are thin: a click picks the nearest arrow within a few pixels.
  function nearestArrow(svg, ev) {
    var m = svg.getScreenCTM();
    if (!m) { return null; }
    var pt = svg.createSVGPoint();
    pt.x = ev.clientX; pt.y = ev.clientY;
    var p = pt.matrixTransform(m.inverse());
    var best = null, bestD = 6;
    svg.querySelectorAll("line.m").forEach(function (l) {
      var x1 = l.x1.baseVal.value, y1 = l.y1.baseVal.value, x2 = l.x2.baseVal.value, y2 = l.y2.baseVal.value;
      var dx = x2 - x1, dy = y2 - y1, len = dx * dx + dy * dy;
      var t = len === 0 ? 0 : Math.max(0, Math.min(1, ((p.x - x1) * dx + (p.y - y1) * dy) / len));
      var d = Math.hypot(p.x - (x1 + t * dx), p.y - (y1 + t * dy));
      if (d < bestD) { bestD = d; best = l; }
    });
    return best;
  }

  document.querySelectorAll("svg.diagram").forEach(function (svg) {
    svg.addEventListener("click", function (ev) {
      var l = nearestArrow(svg, ev);
      if (l) { showMessage(l.dataset.m); return; }
      var o = ev.target.closest ? ev.target.closest("rect.op") : null;
      if (o) { showOp(o.dataset.o, o); }
    });
  });

  function showOp(index, rect) {
    clearSelection();
    document.querySelectorAll('rect.op[data-o="' + index + '"]').forEach(function (r) { r.classList.add("sel"); });
    var t = rect && rect.querySelector("title");
    if (t) { showPanel([el("h4", "operation #" + index), el("p", t.textContent)]); }
  }

  function reveal(target) {
    if (target && target.scrollIntoView) { target.scrollIntoView({ block: "center", inline: "center" }); }
  }

  document.querySelectorAll("a.msglink").forEach(function (a) {
    a.addEventListener("click", function (ev) {
      ev.preventDefault();
      setOpen(a.dataset.w, true);
      showMessage(a.dataset.m);
      reveal(document.querySelector("#" + a.dataset.w + ' line[data-m="' + a.dataset.m + '"]'));
    });
  });

  document.querySelectorAll("a.oplink").forEach(function (a) {
    a.addEventListener("click", function (ev) {
      ev.preventDefault();
      setOpen(a.dataset.w, true);
      var r = document.querySelector("#" + a.dataset.w + ' rect.op[data-o="' + a.dataset.o + '"]');
      showOp(a.dataset.o, r);
      reveal(r || document.getElementById(a.dataset.w));
    });
  });

  if (panel) {
    panel.querySelector(".close").addEventListener("click", function () { panel.hidden = true; clearSelection(); });
  }
})();
