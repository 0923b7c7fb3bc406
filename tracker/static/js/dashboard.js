// Dashboard niceties; every page works without this file.
// A quarter picker submits as soon as another quarter is chosen.
document.querySelectorAll("select[data-autosubmit]").forEach((select) => {
  select.addEventListener("change", () => select.form.submit());
});
