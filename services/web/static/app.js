// chibo web app: progressive enhancement only (every page works without it).
// Sortable tables in Vietnamese collation order; "all present" for the attendance form.
"use strict";
(function () {
  var lang = document.documentElement.lang || "vi";
  var collator = new Intl.Collator(lang === "vi" ? "vi" : "en", { numeric: true, sensitivity: "base" });
  function cellValue(row, index) {
    var cell = row.children[index];
    if (!cell) return "";
    return cell.hasAttribute("data-sort") ? cell.getAttribute("data-sort") : cell.textContent.trim();
  }
  function sortBy(table, index, th) {
    var body = table.tBodies[0];
    var ascending = th.getAttribute("aria-sort") !== "ascending";
    var rows = Array.prototype.slice.call(body.rows);
    rows.sort(function (a, b) {
      var x = cellValue(a, index), y = cellValue(b, index);
      var nx = parseFloat(x), ny = parseFloat(y);
      var both = x !== "" && y !== "" && !isNaN(nx) && !isNaN(ny) && /^-?[\d.]+$/.test(x) && /^-?[\d.]+$/.test(y);
      var order = both ? nx - ny : collator.compare(x, y);
      return ascending ? order : -order;
    });
    rows.forEach(function (r) { body.appendChild(r); });
    Array.prototype.forEach.call(table.tHead.rows[0].cells, function (c) { c.removeAttribute("aria-sort"); });
    th.setAttribute("aria-sort", ascending ? "ascending" : "descending");
  }
  document.querySelectorAll("table.sortable").forEach(function (table) {
    Array.prototype.forEach.call(table.tHead.rows[0].cells, function (th, index) {
      var button = th.querySelector("button.sort");
      if (button) button.addEventListener("click", function () { sortBy(table, index, th); });
    });
  });
  document.querySelectorAll("button.all-present").forEach(function (button) {
    button.addEventListener("click", function () {
      var table = document.getElementById(button.getAttribute("data-target"));
      table.querySelectorAll('input[type=radio][value="present"]').forEach(function (r) {
        var row = r.closest("tr");
        if (!row.querySelector("input[type=radio]:checked")) r.checked = true;
      });
    });
  });
})();
