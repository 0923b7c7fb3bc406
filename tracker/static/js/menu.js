// The top bar's menu on narrow screens, progressive enhancement only: with this file the
// sections and the account links fold behind the "Menu" button (css: .topbar.has-menu);
// without it they wrap onto rows of their own. Escape closes the menu and returns focus.
(function () {
  "use strict";

  var bar = document.querySelector(".topbar");
  var button = bar && bar.querySelector(".menu-toggle");
  if (!button) { return; }

  function setOpen(open) {
    button.setAttribute("aria-expanded", open ? "true" : "false");
    bar.classList.toggle("menu-open", open);
  }

  bar.classList.add("has-menu");
  button.addEventListener("click", function () {
    setOpen(button.getAttribute("aria-expanded") !== "true");
  });
  document.addEventListener("keydown", function (event) {
    if (event.key === "Escape" && bar.classList.contains("menu-open")) {
      setOpen(false);
      button.focus();
    }
  });
})();
