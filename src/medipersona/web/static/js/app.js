// medipersona shared behaviour (progressive enhancement; pages work without it).
(function () {
  "use strict";
  var meta = document.querySelector('meta[name="csrf-token"]');
  // CSRF token for fetch() calls made by page scripts.
  window.mpCsrfToken = meta ? meta.getAttribute("content") : "";
  window.mpFetch = function (url, options) {
    options = options || {};
    options.headers = options.headers || {};
    options.credentials = "same-origin";
    var method = (options.method || "GET").toUpperCase();
    if (method !== "GET" && method !== "HEAD") { options.headers["X-CSRF-Token"] = window.mpCsrfToken; }
    return fetch(url, options);
  };
  // POST a JSON body; resolves to {status, data} (data: the parsed JSON answer, {} when there is none).
  window.mpPostJson = function (url, body) {
    return window.mpFetch(url, {
      method: "POST",
      headers: { "Content-Type": "application/json", "Accept": "application/json" },
      body: JSON.stringify(body)
    }).then(function (response) {
      return response.json().catch(function () { return {}; }).then(function (data) {
        return { status: response.status, data: data };
      });
    });
  };
  // An export link rendered disabled (aria-disabled, its URL in data-href) becomes usable.
  window.mpEnableLink = function (id) {
    var link = document.getElementById(id);
    if (link) { link.setAttribute("href", link.getAttribute("data-href")); link.removeAttribute("aria-disabled"); }
  };

  // Mobile navigation toggle.
  var toggle = document.querySelector("[data-nav-toggle]");
  var nav = document.getElementById("site-nav");
  if (toggle && nav) {
    toggle.addEventListener("click", function () {
      var open = nav.classList.toggle("is-open");
      toggle.setAttribute("aria-expanded", open ? "true" : "false");
    });
  }

  // Fields with a rule (pattern) say it in Japanese instead of the browser's generic "match the format".
  function patternMessage(input) {
    var message = input.getAttribute("data-pattern-message");
    if (message) { input.setCustomValidity(input.validity.patternMismatch ? message : ""); }
  }
  document.addEventListener("input", function (event) {
    if (event.target.hasAttribute && event.target.hasAttribute("data-pattern-message")) { patternMessage(event.target); }
  });

  // Forms that need a confirmation (delete buttons).
  document.addEventListener("submit", function (event) {
    var form = event.target;
    var message = form.getAttribute && form.getAttribute("data-confirm");
    if (message && !window.confirm(message)) { event.preventDefault(); }
  });
})();
