// The report's own behaviour, on top of the vendored tablesort: sortable tables, the Results
// filter, and a hint where a table is wider than a narrow window. Without JavaScript the
// tables read as written.
(function () {
  "use strict";

  // A cell's number: its data-sort value where the text is not a plain figure (times,
  // "mean ± sd", "p → Holm"), else its leading number; the report writes U+2212 for minus.
  function figure(text) {
    var value = parseFloat(String(text).replace(/\u2212/g, "-").replace(/[,\u00a0\s]/g, ""));
    return isNaN(value) ? -Infinity : value;
  }
  // tablesort's number sort drops exponents (1.2e-5 reads as 1.25); p-values need them.
  // Its sort functions return b − a, as its own number sort does.
  Tablesort.extend(
    "figure",
    function () { return false; },
    function (a, b) { return figure(b) - figure(a); }
  );

  function sortable(table) {
    var head = table.tHead && table.tHead.rows[table.tHead.rows.length - 1];
    if (!head) return;
    Array.prototype.forEach.call(head.cells, function (th) {
      if (th.classList.contains("num")) th.setAttribute("data-sort-method", "figure");
    });
    new Tablesort(table);
  }

  function filterable(table) {
    var label = document.createElement("label");
    label.className = "table-filter";
    label.textContent = "Filter rows ";
    var input = document.createElement("input");
    input.type = "search";
    input.placeholder = table.getAttribute("data-filter-hint") || "text in any column";
    label.appendChild(input);
    var count = document.createElement("span");
    count.className = "filter-count";
    count.setAttribute("aria-live", "polite");
    label.appendChild(count);
    table.closest(".table-wrap").before(label);
    input.addEventListener("input", function () {
      var words = input.value.toLowerCase().split(/\s+/).filter(Boolean);
      var rows = table.tBodies[0].rows, shown = 0;
      Array.prototype.forEach.call(rows, function (row) {
        var text = row.textContent.toLowerCase();
        var keep = words.every(function (w) { return text.indexOf(w) >= 0; });
        row.hidden = !keep;
        if (keep) shown += 1;
      });
      count.textContent = words.length ? " " + shown + " of " + rows.length + " rows" : "";
    });
  }

  // Below the width the tables are laid out for, a wide table scrolls: say so beside it.
  function markOverflow() {
    document.querySelectorAll(".table-wrap").forEach(function (box) {
      box.classList.toggle("overflows", box.scrollWidth > box.clientWidth + 1);
    });
  }

  document.querySelectorAll("table.sortable").forEach(sortable);
  document.querySelectorAll("table.filterable").forEach(filterable);
  markOverflow();
  window.addEventListener("resize", markOverflow);
  document.querySelectorAll("details").forEach(function (d) {
    d.addEventListener("toggle", markOverflow);
  });
})();
