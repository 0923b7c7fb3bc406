// The top bar's search box as a small command palette, progressive enhancement only:
// without this file the box is a plain form that submits to /search.
// - "/" or Ctrl-K (Cmd-K) focuses the box, unless you are typing in a field;
// - as you type, a listbox (the ARIA combobox pattern) offers the pages of this page's top
//   bar and the best search hits (GET /search/suggest); arrows choose, Enter goes there,
//   Escape closes it. Enter with nothing chosen submits the form as before.
(function () {
  "use strict";

  var form = document.querySelector("form.topbar-search");
  var input = form && form.querySelector("input[name=q]");
  if (!input || !form.dataset.suggest) { return; }

  function typingIn(el) {
    return el && (el.isContentEditable || /^(INPUT|TEXTAREA|SELECT)$/.test(el.tagName));
  }

  document.addEventListener("keydown", function (event) {
    var slash = event.key === "/" && !event.ctrlKey && !event.metaKey && !event.altKey;
    var k = (event.ctrlKey || event.metaKey) && !event.altKey &&
      (event.key === "k" || event.key === "K");
    if ((slash || k) && !typingIn(event.target)) {
      event.preventDefault();
      input.focus();
      input.select();
    }
  });

  // Pages to go to: whatever this page's top bar links to (so only what this person sees).
  var pages = Array.prototype.map.call(
    document.querySelectorAll(".topbar nav a[href]"),
    function (a) { return { title: a.textContent.trim(), url: a.href }; });
  var bell = document.querySelector(".topbar a.bell[href]");
  if (bell) { pages.push({ title: "Inbox", words: "notifications", url: bell.href }); }
  pages.push({ title: "Search", url: form.action });

  var list = document.createElement("div");
  list.id = "palette-list";
  list.className = "palette";
  list.setAttribute("role", "listbox");
  list.setAttribute("aria-label", "Suggestions");
  list.hidden = true;
  var status = document.createElement("div");
  status.className = "visually-hidden";
  status.setAttribute("role", "status");
  form.append(list, status);
  input.setAttribute("role", "combobox");
  input.setAttribute("aria-autocomplete", "list");
  input.setAttribute("aria-controls", list.id);
  input.setAttribute("aria-expanded", "false");
  input.setAttribute("autocomplete", "off");

  var options = [];   // what the list shows: {title, context, url}
  var active = -1;    // index in options, -1: nothing chosen
  var hits = { text: "", results: [] };
  var pending = null, timer = null;

  function setActive(index) {
    active = index;
    options.forEach(function (option, i) {
      option.el.setAttribute("aria-selected", i === index ? "true" : "false");
    });
    if (index >= 0) {
      input.setAttribute("aria-activedescendant", options[index].el.id);
      options[index].el.scrollIntoView({ block: "nearest" });
    } else {
      input.removeAttribute("aria-activedescendant");
    }
  }

  function close() {
    list.hidden = true;
    input.setAttribute("aria-expanded", "false");
    setActive(-1);
  }

  function go(url) { window.location.assign(url); }

  function group(heading, entries) {
    if (!entries.length) { return; }
    var box = document.createElement("div");
    var label = document.createElement("div");
    box.setAttribute("role", "group");
    label.id = "palette-group-" + list.children.length;
    label.className = "palette-heading";
    label.textContent = heading;
    box.setAttribute("aria-labelledby", label.id);
    box.append(label);
    entries.forEach(function (entry) {
      var el = document.createElement("div");
      el.id = "palette-option-" + options.length;
      el.setAttribute("role", "option");
      var title = document.createElement("span");
      title.className = "palette-title";
      title.textContent = entry.title;
      el.append(title);
      if (entry.context) {
        var context = document.createElement("span");
        context.className = "palette-context";
        context.textContent = entry.context;
        el.append(context);
      }
      el.addEventListener("mousedown", function (event) { event.preventDefault(); });
      el.addEventListener("click", function () { go(entry.url); });
      box.append(el);
      options.push({ el: el, url: entry.url });
    });
    list.append(box);
  }

  function render() {
    var text = input.value.trim();
    var wanted = text.toLowerCase();
    var chosen = active >= 0 ? options[active].url : null;
    list.replaceChildren();
    options = [];
    if (!text) { close(); return; }
    group("Go to", pages.filter(function (p) {  // a word of its name starts so
      return (" " + p.title + " " + (p.words || "")).toLowerCase().indexOf(" " + wanted) !== -1;
    }));
    // Until the answer for what is typed now arrives, the hits of its beginning stay.
    var fresh = hits.text && wanted.indexOf(hits.text.toLowerCase()) === 0;
    group("Results", fresh ? hits.results.map(function (r) {
      return { title: r.title, url: r.url, context: [r.label, r.context].filter(Boolean).join(" · ") };
    }) : []);
    var shown = options.length > 0;
    list.hidden = !shown;
    input.setAttribute("aria-expanded", shown ? "true" : "false");
    setActive(options.findIndex(function (o) { return o.url === chosen; }));
    status.textContent = shown ? options.length + (options.length === 1 ? " suggestion" :
      " suggestions") : "";
  }

  function fetchHits(text) {
    if (pending) { pending.abort(); }
    pending = new AbortController();
    fetch(form.dataset.suggest + "?q=" + encodeURIComponent(text), {
      headers: { Accept: "application/json" }, credentials: "same-origin",
      signal: pending.signal,
    }).then(function (response) {
      // Signed out meanwhile: the answer is the sign-in page, not JSON; offer pages only.
      var json = response.ok && /json/.test(response.headers.get("Content-Type") || "");
      return json ? response.json() : { results: [] };
    }).then(function (body) {
      hits = { text: text, results: body.results || [] };
      if (input.value.trim() === text) { render(); }
    }).catch(function () { /* aborted by newer typing, or offline: keep what is shown */ });
  }

  input.addEventListener("input", function () {
    render();
    clearTimeout(timer);
    var text = input.value.trim();
    if (text && text !== hits.text) { timer = setTimeout(fetchHits, 150, text); }
  });

  input.addEventListener("focus", function () { if (input.value.trim()) { render(); } });
  input.addEventListener("blur", close);

  input.addEventListener("keydown", function (event) {
    if (event.key === "ArrowDown" || event.key === "ArrowUp") {
      if (list.hidden) { render(); }
      var n = options.length;
      if (!n) { return; }
      event.preventDefault();
      var step = event.key === "ArrowDown" ? 1 : -1;
      setActive(active === -1 ? (step > 0 ? 0 : n - 1) : (active + step + n) % n);
    } else if (event.key === "Enter" && !list.hidden && active >= 0) {
      event.preventDefault();
      go(options[active].url);
    } else if (event.key === "Escape" && !list.hidden) {
      event.preventDefault();
      close();
    }
  });
})();
