// Policy forms: show a field only when it counts. Without JavaScript every field shows and
// the server ignores the ones that do not count (risk.forms).
(function () {
  "use strict";
  function field(form, name) {
    return form.querySelector('[data-field="' + name + '"]');
  }
  function show(block, visible) {
    if (block) block.hidden = !visible;
  }
  // Add/edit rule: the app choice only for Logout, the app list only for specified apps.
  function syncRule(form) {
    var logout = form.querySelector("input[name=terminate_sessions]");
    var selection = form.querySelector("[name=app_selection]");
    var on = Boolean(logout && logout.checked);
    show(field(form, "app_selection"), on);
    show(field(form, "apps"), on && selection && selection.value === "SPECIFIED");
  }
  // Add a stream mapping: the URI box only for "Another event type".
  function syncMapping(form) {
    var type = form.querySelector("[name=event_type]");
    show(field(form, "custom_event_type"), type && type.value === "other");
  }
  document.addEventListener("DOMContentLoaded", function () {
    [["policy-rule-form", syncRule], ["mapping-form", syncMapping]].forEach(function (pair) {
      var form = document.getElementById(pair[0]);
      if (!form) return;
      form.addEventListener("change", function () { pair[1](form); });
      pair[1](form);
    });
  });
})();
