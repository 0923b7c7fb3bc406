// Audit pages, progressive enhancement only: every page works without this file.
// - filter forms marked data-autosubmit apply as soon as a choice changes;
// - on the audit page, a "select all" box per domain and a count of selected items.
(function () {
  "use strict";

  document.querySelectorAll("form[data-autosubmit]").forEach(function (form) {
    form.addEventListener("change", function (event) {
      if (event.target.matches("select, input[type=checkbox]")) {
        form.requestSubmit ? form.requestSubmit() : form.submit();
      }
    });
  });

  var bulk = document.getElementById("bulk-form");
  if (!bulk) { return; }
  var boxes = function (scope) {
    return Array.prototype.slice.call(scope.querySelectorAll("input[name=item_ids]"));
  };
  var counter = document.createElement("span");
  counter.className = "selected-count";
  counter.setAttribute("aria-live", "polite");
  var bar = bulk.querySelector(".bulk-bar");
  if (bar) { bar.appendChild(counter); }

  function refresh() {
    var n = boxes(bulk).filter(function (b) { return b.checked; }).length;
    counter.textContent = n + (n === 1 ? " item selected" : " items selected");
    bulk.querySelectorAll("details.group").forEach(function (group) {
      var all = group.querySelector("input.select-all");
      if (!all) { return; }
      var own = boxes(group);
      var checked = own.filter(function (b) { return b.checked; }).length;
      all.checked = own.length > 0 && checked === own.length;
      all.indeterminate = checked > 0 && checked < own.length;
    });
  }

  bulk.querySelectorAll("input.select-all").forEach(function (all) {
    all.hidden = false;
    all.addEventListener("change", function () {
      boxes(all.closest("details.group")).forEach(function (b) { b.checked = all.checked; });
      refresh();
    });
  });
  bulk.addEventListener("change", function (event) {
    if (event.target.name === "item_ids") { refresh(); }
  });
  refresh();
})();
