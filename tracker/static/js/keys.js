// j / k through the rows of a list (tables marked data-rows: My items, an audit's items, the
// review list), progressive enhancement only. The row's first link takes the focus, so Enter
// opens it as any focused link would; without this file the links are simply tabbed to.
// Keys typed into a field, or with a modifier, are left alone.
(function () {
  "use strict";

  if (!document.querySelector("table[data-rows]")) { return; }
  document.querySelectorAll(".keys-hint").forEach(function (hint) { hint.hidden = false; });

  function rows() {
    // Rows in a collapsed domain group (or otherwise hidden) are skipped.
    return Array.prototype.filter.call(
      document.querySelectorAll("table[data-rows] tbody tr"),
      function (row) { return row.getClientRects().length > 0 && row.querySelector("a[href]"); });
  }

  function typing(target) {
    return target.closest("input, textarea, select, [contenteditable]") !== null ||
      target.isContentEditable;
  }

  var current = null;

  function move(step) {
    var list = rows();
    if (!list.length) { return; }
    var focused = document.activeElement && document.activeElement.closest("tr");
    var at = list.indexOf(focused && list.indexOf(focused) >= 0 ? focused : current);
    var next = list[at < 0 ? (step > 0 ? 0 : list.length - 1)
                           : Math.min(list.length - 1, Math.max(0, at + step))];
    if (current) { current.classList.remove("is-current"); }
    current = next;
    current.classList.add("is-current");
    current.querySelector("a[href]").focus();
    current.scrollIntoView({ block: "nearest" });
  }

  document.addEventListener("keydown", function (event) {
    if (event.defaultPrevented || event.altKey || event.ctrlKey || event.metaKey ||
        typing(event.target)) { return; }
    if (event.key === "j") { move(1); event.preventDefault(); }
    else if (event.key === "k") { move(-1); event.preventDefault(); }
  });
})();
