(function () {
  "use strict";
  // Sorts the rows of every table.sortable when a header button is clicked. Each cell's
  // data-sort attribute is the key: a column of numbers sorts numerically, any other as
  // text; empty keys (missing values) stay last in both directions. No network, no library.
  function sortTable(table, column, button) {
    var body = table.tBodies[0];
    if (!body) { return; }
    var header = button.parentNode;
    var descending = header.getAttribute("aria-sort") === "ascending";
    var headers = table.tHead.rows[0].cells;
    for (var h = 0; h < headers.length; h++) { headers[h].removeAttribute("aria-sort"); }
    header.setAttribute("aria-sort", descending ? "descending" : "ascending");
    var rows = Array.prototype.slice.call(body.rows);
    var keys = rows.map(function (row) {
      var cell = row.cells[column];
      return cell ? (cell.getAttribute("data-sort") || "") : "";
    });
    var numeric = keys.every(function (key) { return key === "" || isFinite(Number(key)); });
    var order = rows.map(function (row, index) { return index; });
    order.sort(function (i, j) {
      var a = keys[i], b = keys[j];
      if (a === "" || b === "") { return (a === "") - (b === "") || i - j; }
      var c = numeric ? Number(a) - Number(b) : (a < b ? -1 : a > b ? 1 : 0);
      return (descending ? -c : c) || i - j;
    });
    order.forEach(function (index) { body.appendChild(rows[index]); });
  }
  function setUp() {
    var tables = document.querySelectorAll("table.sortable");
    Array.prototype.forEach.call(tables, function (table) {
      if (!table.tHead) { return; }
      Array.prototype.forEach.call(table.tHead.rows[0].cells, function (header, column) {
        var button = document.createElement("button");
        button.type = "button";
        button.className = "sort";
        button.title = "sort by this column";
        while (header.firstChild) { button.appendChild(header.firstChild); }
        header.appendChild(button);
        button.addEventListener("click", function () { sortTable(table, column, button); });
      });
    });
  }
  if (document.readyState === "loading") {
    document.addEventListener("DOMContentLoaded", setUp);
  } else {
    setUp();
  }
})();
