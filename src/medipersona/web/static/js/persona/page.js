// The persona result page's shared state and elements, read once from the server-rendered page (persona.js and
// its modules under persona/ share this one object; mutable fields are changed through it).
export function $all(sel, el) { return Array.prototype.slice.call((el || document).querySelectorAll(sel)); }

export var STATUS_LABELS = { queued: "待機中", running: "生成中", done: "完了", failed: "失敗" };

export var page = {
  root: null,
  id: "",
  api: "",
  status: "",            // queued | running | done | failed
  imageStatus: "",       // the portrait's: done | none | failed | …
  regenerating: null,    // section key being regenerated
  lastAnnounced: "",
  source: null,          // the open event stream (sse.js), if any
  // Sections: key -> {el, textEl, placeholder, statusEl, stepEl, label, target, text, done}, in page order.
  sections: {},
  order: [],
  el: {}
};

// Fills `page` from the page; false when this is not the persona page.
export function initPage() {
  var root = document.getElementById("persona");
  if (!root) { return false; }
  page.root = root;
  page.id = root.getAttribute("data-persona-id");
  page.api = "/api/personas/" + encodeURIComponent(page.id);
  page.status = root.getAttribute("data-status");
  page.imageStatus = root.getAttribute("data-image-status");
  page.el = {
    progressPanel: document.getElementById("progress-panel"),
    progressBar: document.getElementById("progress-bar"),
    progressText: document.getElementById("progress-text"),
    failureBox: document.getElementById("persona-failure"),
    failureMessage: document.getElementById("persona-failure-message"),
    retryBtn: document.getElementById("persona-retry"),
    retryStatus: document.getElementById("persona-retry-status"),
    image: document.getElementById("persona-image"),
    placeholder: document.getElementById("portrait-placeholder"),
    portraitStatus: document.getElementById("portrait-status"),
    imageStep: document.querySelector('[data-progress-section="image"]'),
    staleNotice: document.getElementById("stale-notice"),
    regenerateAll: document.getElementById("regenerate-all"),
    regenerateAllStatus: document.getElementById("regenerate-all-status")
  };
  $all("[data-section]").forEach(function (el) {
    var key = el.getAttribute("data-section");
    var textEl = el.querySelector("[data-section-text]");
    var stepEl = document.querySelector('[data-progress-section="' + key + '"]');
    page.order.push(key);
    page.sections[key] = {
      el: el,
      textEl: textEl,
      placeholder: el.querySelector("[data-section-placeholder]"),
      statusEl: el.querySelector("[data-section-status]"),
      stepEl: stepEl,
      label: el.querySelector("h3").textContent,
      target: stepEl ? parseInt(stepEl.getAttribute("data-target"), 10) || 200 : 200,
      text: textEl.textContent,
      done: textEl.textContent.length > 0
    };
  });
  return true;
}

// A JSON API answer as {ok, status, data} (data {} when the body is not JSON).
export function jsonResult(r) {
  return r.json().catch(function () { return {}; }).then(function (d) { return { ok: r.ok, status: r.status, data: d }; });
}

// The persona as JSON (GET), or null.
export function fetchPersona() {
  return fetch(page.api, { credentials: "same-origin", headers: { "Accept": "application/json" } })
    .then(function (r) { return r.ok ? r.json() : null; });
}
