// The explorer (section "Explorer"): every run as one line across the axes that
// mnist_study.report.explorer embeds in #explorer-data, drawn with d3 (report/vendor/d3, inlined before
// this script). Brushing an axis greys the lines outside the brush; the menu chooses the outcome
// that colours them. Until it has drawn, the figure shows the static PNG instead, so a reader
// without JavaScript, or a browser this fails in, still sees the lines.
(function () {
  "use strict";
  var source = document.getElementById("explorer-data");
  var root = document.getElementById("explorer-chart");
  if (!source || !root || typeof d3 === "undefined") return;

  var data = JSON.parse(source.textContent);
  var axes = data.axes;
  var runs = data.rows.map(function (row) {
    var run = {};
    data.columns.forEach(function (column, i) { run[column] = row[i]; });
    return run;
  });

  // The axes share the figure's width, the outcomes at the right end in view; below STEP
  // pixels apart their tick labels would run into the next axis, and the chart scrolls instead.
  var STEP = 66;
  var HEIGHT = 380;
  var margin = { top: 58, right: 36, bottom: 12, left: 52 };
  var bottom = margin.top + HEIGHT;
  var width = Math.max(
    root.parentElement.clientWidth,
    margin.left + margin.right + STEP * (axes.length - 1)
  );
  // Viridis's pale yellow end vanishes on white; mnist_study.report.explorer's figure stops there too.
  var VIRIDIS_TOP = 0.85;
  var MISSING = "#999999";

  var x = d3.scalePoint(axes.map(function (a) { return a.key; }), [margin.left, width - margin.right]);
  var y = {};
  axes.forEach(function (a) { y[a.key] = scaleOf(a); });

  function scaleOf(a) {
    var range = [bottom, margin.top];
    if (a.kind === "category") return d3.scalePoint(a.domain, range).padding(0.5);
    var extent = d3.extent(runs, function (r) { return r[a.key]; });
    var low = extent[0] === undefined ? 0 : extent[0];
    var high = extent[1] === undefined ? 1 : extent[1];
    if (low === high) {
      // One value: centre it (a log scale of one value would have no span to divide by).
      var pad = Math.abs(low) / 2 || 1;
      return d3.scaleLinear([low - pad, high + pad], range);
    }
    if (a.scale === "log") return d3.scaleLog([low, high], range);
    if (a.scale === "symlog") return d3.scaleSymlog([low, high], range).constant(a.constant);
    return d3.scaleLinear([low, high], range).nice();
  }

  function format(a) {
    return d3.format(a.format === "%" ? ".1~%" : ".3~g");
  }

  function place(a, value) {
    if (value === null || value === undefined) return null;
    var at = y[a.key](value);
    return at === undefined || isNaN(at) ? null : at;
  }

  // ----------------------------------------------------------------- controls
  var controls = d3.select(root).append("div").attr("class", "explorer-controls");
  var outcomes = axes.filter(function (a) { return a.outcome; });
  controls.append("label").attr("for", "explorer-colour").text("Colour by ");
  var menu = controls.append("select").attr("id", "explorer-colour");
  menu.selectAll("option").data(outcomes).join("option")
    .attr("value", function (a) { return a.key; })
    .property("selected", function (a) { return a.key === data.colour; })
    .text(function (a) { return a.label; });
  var legend = controls.append("span").attr("class", "explorer-legend");
  var count = controls.append("output").attr("id", "explorer-count").attr("aria-live", "polite");
  var clear = controls.append("button").attr("type", "button").text("Clear ranges");

  // ----------------------------------------------------------------- lines and axes
  // Focusable: in a narrow window it scrolls sideways, and keyboards must reach it too.
  var wrap = d3.select(root).append("div").attr("class", "explorer-scroll")
    .attr("tabindex", 0).attr("role", "group").attr("aria-label", "Explorer chart");
  var svg = wrap.append("svg")
    .attr("width", width).attr("height", bottom + margin.bottom)
    .attr("role", "img")
    .attr("aria-label", "Parallel coordinates: " + runs.length + " runs over " + axes.length + " axes");

  var line = d3.line().defined(function (p) { return p[1] !== null; });
  var lines = svg.append("g").attr("class", "runs").selectAll("path").data(runs).join("path")
    .attr("class", "run")
    .attr("data-run", function (r) { return r.variant + "/" + r.seed; })
    .attr("d", function (r) {
      return line(axes.map(function (a) { return [x(a.key), place(a, r[a.key])]; }));
    });
  lines.append("title").text(function (r) {
    return (data.labels[r.variant] || r.variant) + ", seed " + r.seed;
  });

  var active = {}; // axis key -> test of a value, for every axis with a brush
  var brushes = {};
  var axisGroups = svg.append("g").selectAll("g").data(axes).join("g")
    .attr("class", function (a) { return a.outcome ? "axis outcome" : "axis"; })
    .attr("data-key", function (a) { return a.key; })
    .attr("transform", function (a) { return "translate(" + x(a.key) + ",0)"; });

  axisGroups.each(function (a) {
    var group = d3.select(this);
    var axis = d3.axisLeft(y[a.key]);
    if (a.kind === "number") {
      if (a.ticks) axis.tickValues(a.ticks).tickFormat(d3.format(a.format === "%" ? ".1~%" : "~g"));
      else axis.ticks(5, a.format === "%" ? ".1~%" : "~g");
    }
    group.call(axis);
    var words = a.label.split(" ");
    var title = group.append("text").attr("class", "axis-label").attr("text-anchor", "middle")
      .attr("y", margin.top - 14 - (words.length > 1 ? 14 : 0));
    title.append("tspan").attr("x", 0).text(words.length > 1 ? words.slice(0, -1).join(" ") : a.label);
    if (words.length > 1) title.append("tspan").attr("x", 0).attr("dy", 14).text(words[words.length - 1]);
    var node = this;
    brushes[a.key] = d3.brushY()
      .extent([[-12, margin.top], [12, bottom]])
      .on("start brush end", function (event) { brushed(node, a, event); });
    group.append("g").attr("class", "brush").call(brushes[a.key]);
  });

  // The brush's range in the axis's own values, kept on the axis element too: what the
  // browser test checks the greyed lines against.
  function brushed(node, a, event) {
    var selection = event.selection;
    delete node.dataset.brushLow;
    delete node.dataset.brushHigh;
    delete node.dataset.brushValues;
    if (!selection) {
      delete active[a.key];
    } else if (a.kind === "category") {
      var scale = y[a.key];
      var chosen = a.domain.filter(function (c) {
        return selection[0] <= scale(c) && scale(c) <= selection[1];
      });
      active[a.key] = function (v) { return chosen.indexOf(v) >= 0; };
      node.dataset.brushValues = JSON.stringify(chosen);
    } else {
      var low = y[a.key].invert(selection[1]);
      var high = y[a.key].invert(selection[0]);
      active[a.key] = function (v) { return v !== null && v >= low && v <= high; };
      node.dataset.brushLow = low;
      node.dataset.brushHigh = high;
    }
    update(event.type === "end");
  }

  function update(raise) {
    var keys = Object.keys(active);
    var shown = 0;
    lines.each(function (r) {
      var kept = keys.every(function (k) { return active[k](r[k]); });
      this.classList.toggle("muted", !kept);
      if (kept) shown += 1;
    });
    // The kept lines in front of the greyed ones, once the brush rests (moving 500 paths at
    // every step of a drag would make it lag).
    if (raise) lines.filter(function () { return !this.classList.contains("muted"); }).raise();
    count.text(shown + " of " + runs.length + " runs");
    root.dataset.shown = shown;
  }

  clear.on("click", function () {
    axisGroups.each(function (a) { d3.select(this).select(".brush").call(brushes[a.key].move, null); });
  });

  // ----------------------------------------------------------------- colour
  // By rank, as the static figure: a few runs far from the rest (shuffled labels at chance)
  // would otherwise squeeze every other run into one end of the colours.
  function colour(key) {
    var a = axes.filter(function (b) { return b.key === key; })[0];
    var values = runs.map(function (r) { return r[key]; }).filter(function (v) { return v !== null; });
    var extent = d3.extent(values);
    var shade = function (t) { return d3.interpolateViridis(VIRIDIS_TOP * t); };
    var scale = d3.scaleSequentialQuantile(values, shade);
    lines.attr("stroke", function (r) { return r[key] === null ? MISSING : scale(r[key]); });
    root.dataset.colour = key;
    var stops = d3.range(0, 1.01, 0.1).map(function (t) { return shade(t); });
    legend.selectAll("*").remove();
    legend.append("span").text(format(a)(extent[0]));
    legend.append("span").attr("class", "explorer-ramp")
      .style("background", "linear-gradient(to right, " + stops.join(", ") + ")");
    legend.append("span").text(format(a)(extent[1]) + ", by rank");
  }
  menu.on("change", function (event) { colour(event.target.value); });

  if (data.colour) colour(data.colour);
  update();
  root.hidden = false;
  var fallback = document.getElementById("explorer-static");
  // Not [hidden]: the style sheet's `figure img { display: block }` would show it again.
  if (fallback) fallback.style.display = "none";
})();
