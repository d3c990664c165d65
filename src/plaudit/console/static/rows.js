// Row keys for tables marked data-rows (evaluation pages): j / k move the focus to the next or
// previous row's first link, so long tables are walked without the mouse.
(function () {
  "use strict";
  function links() {
    return Array.prototype.slice.call(document.querySelectorAll("table[data-rows] tbody tr"))
      .map(function (row) { return row.querySelector("a"); })
      .filter(function (link) { return link !== null; });
  }
  document.addEventListener("keydown", function (event) {
    if (event.ctrlKey || event.metaKey || event.altKey) return;
    var target = event.target;
    if (target && (target.tagName === "INPUT" || target.tagName === "SELECT" || target.tagName === "TEXTAREA")) return;
    if (event.key !== "j" && event.key !== "k") return;
    var all = links();
    if (!all.length) return;
    var at = all.indexOf(document.activeElement);
    var next = at < 0 ? 0 : Math.max(0, Math.min(all.length - 1, at + (event.key === "j" ? 1 : -1)));
    all[next].focus();
    all[next].closest("tr").scrollIntoView({block: "nearest"});
    event.preventDefault();
  });
})();
