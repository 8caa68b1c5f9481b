// "Select all" for lists of checkboxes; the form works without it.
document.querySelectorAll("[data-select-all]").forEach(function (toggle) {
  var form = toggle.closest("form");
  toggle.addEventListener("change", function () {
    form.querySelectorAll('input[type="checkbox"][name="selected"]').forEach(function (box) {
      box.checked = toggle.checked;
    });
  });
});
