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
// After an htmx swap, focus goes back into what was swapped (its [data-focus-after-swap], else
// the element itself) instead of being lost with the replaced element; the status message
// arrives out of band in the #messages live region.
(function () {
  "use strict";
  var swappedId = null;
  document.addEventListener("htmx:beforeSwap", function (event) {
    // Only actions (POST): a section loading itself (hx-get on load) must not take the focus.
    var config = event.detail.requestConfig;
    var target = event.detail.target;
    swappedId = config && config.verb !== "get" && target && target.id ? target.id : null;
  });
  document.addEventListener("htmx:afterSettle", function () {
    if (!swappedId) return;
    var swapped = document.getElementById(swappedId);
    swappedId = null;
    if (!swapped) return;
    var focus = swapped.querySelector("[data-focus-after-swap]");
    if (!focus) {
      swapped.setAttribute("tabindex", "-1");
      focus = swapped;
    }
    focus.focus();
  });
})();
// Add/Edit stream: Save checks the transmitter, which can take seconds. Show it in the live
// region, and disable Save meanwhile so a second click does not send a second request.
(function () {
  "use strict";
  document.addEventListener("submit", function (event) {
    var form = event.target;
    if (!form.dataset || !form.dataset.busyMessage) return;
    var button = form.querySelector("button[type=submit][data-busy-label]");
    if (button) {
      button.disabled = true;
      button.dataset.idleLabel = button.textContent;
      button.textContent = button.dataset.busyLabel;
    }
    form.setAttribute("aria-busy", "true");
    var region = document.getElementById("messages");
    if (region) {
      region.innerHTML = "";
      var note = document.createElement("p");
      note.className = "msg busy";
      note.textContent = form.dataset.busyMessage;
      region.appendChild(note);
    }
  });
  // Back to a page kept in the browser's cache: Save works again.
  window.addEventListener("pageshow", function () {
    document.querySelectorAll("button[data-busy-label][disabled]").forEach(function (button) {
      button.disabled = false;
      button.textContent = button.dataset.idleLabel || button.textContent;
    });
  });
})();
