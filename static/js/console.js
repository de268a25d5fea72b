// Small console helpers; every page works without them.
(function () {
  "use strict";
  // Copy buttons: <button class="copy" data-copy="#element-id">.
  document.addEventListener("click", function (event) {
    var button = event.target.closest("button.copy");
    if (!button) return;
    var source = document.querySelector(button.dataset.copy);
    if (!source || !navigator.clipboard) return;
    navigator.clipboard.writeText(source.textContent.trim()).then(function () {
      button.textContent = "Copied";
      setTimeout(function () { button.textContent = "Copy"; }, 1500);
    });
  });
  // Add/Edit stream: show only the fields of the chosen configuration method.
  function showMethod(form) {
    var checked = form.querySelector("input[name=config_method]:checked");
    form.querySelectorAll(".method").forEach(function (block) {
      block.hidden = !checked || block.dataset.method !== checked.value;
    });
  }
  document.addEventListener("DOMContentLoaded", function () {
    var form = document.getElementById("stream-form");
    if (!form) return;
    form.addEventListener("change", function () { showMethod(form); });
    showMethod(form);
  });
  // Close an open Actions menu when clicking elsewhere.
  document.addEventListener("click", function (event) {
    document.querySelectorAll("details.actions[open]").forEach(function (menu) {
      if (!menu.contains(event.target)) menu.removeAttribute("open");
    });
  });
})();
// Add stream: show the stream-management fields only when asked for, and the chosen credential's.
(function () {
  "use strict";
  function sync(form) {
    var managed = form.querySelector("input[name=create_at_transmitter]");
    var block = form.querySelector("[data-managed]");
    if (managed && block) block.hidden = !managed.checked;
    var auth = form.querySelector("input[name=auth_method]:checked");
    form.querySelectorAll("[data-auth]").forEach(function (part) {
      part.hidden = !auth || part.dataset.auth !== auth.value;
    });
  }
  document.addEventListener("DOMContentLoaded", function () {
    var form = document.getElementById("stream-form");
    if (!form) return;
    form.addEventListener("change", function () { sync(form); });
    sync(form);
  });
})();
