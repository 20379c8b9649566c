// Persona result page: live generation over Server-Sent Events, tabs, profile editing, section regeneration.
// The page is complete without this script (server-rendered); this adds the live parts.
// Model and user text only ever goes through textContent (never innerHTML).
// ES modules, no build step: this file opens the event stream and starts the actions that need it; the rest is
// under persona/: page.js (shared state and elements), view.js (what a generation shows), generation.js (the
// stream's event handlers), editors.js (section and profile editing), tabs.js.
import { eventStream } from "./sse.js";
import { bindEditors, bindSectionEditors } from "./persona/editors.js";
import {
  closeStream, onDelta, onDone, onError, onImage, onSection, onStatus, resetPartials
} from "./persona/generation.js";
import { $all, initPage, jsonResult, page } from "./persona/page.js";
import { initTabs } from "./persona/tabs.js";
import {
  announce, setRegenerating, setStatus, setStep, showRegenerateButtons, updateProgress
} from "./persona/view.js";

// ------------------------------------------------------------------------------------------ SSE
function connect() {
  closeStream();
  page.source = eventStream(page.api + "/events", {
    events: {
      status: onStatus,
      delta: onDelta,
      section: onSection,
      image: onImage,
      done: onDone,
      error: onError
    },
    // A dropped connection: EventSource reconnects by itself and the server resends what we missed.
    onDrop: function () { announce("接続が途切れました。再接続しています…"); },
    onUnsupported: function () {
      announce("このブラウザはライブ表示に対応していません。ページを再読み込みすると結果を表示できます。");
    }
  });
}

// ------------------------------------------------------------------------------------------ retry
function bindRetry() {
  var retryBtn = page.el.retryBtn;
  var retryStatus = page.el.retryStatus;
  retryBtn.addEventListener("click", function () {
    retryBtn.disabled = true;
    retryStatus.textContent = "もう一度生成を開始しています…";
    window.mpFetch(page.api + "/retry", { method: "POST", headers: { "Accept": "application/json" } })
      .then(jsonResult)
      .then(function (res) {
        if (!res.ok) {
          retryBtn.disabled = false;
          retryStatus.textContent = ((res.data && res.data.error && res.data.error.message) || "再試行を開始できませんでした。");
          return;
        }
        var newId = res.data && res.data.id;
        if (newId && newId !== page.id) { window.location.assign("/personas/" + encodeURIComponent(newId)); return; }
        page.el.failureBox.hidden = true;
        retryBtn.disabled = false;
        retryStatus.textContent = "";
        page.el.progressPanel.hidden = false;
        resetPartials();
        page.order.forEach(function (k) {
          if (!page.sections[k].done) { page.sections[k].placeholder.textContent = "生成を待っています…"; }
        });
        if (page.imageStatus !== "done") {
          page.el.portraitStatus.textContent = "似顔絵を生成しています…";
          setStep(page.el.imageStep, "pending", "待機中");
        }
        setStatus("queued");
        connect();
      })
      .catch(function () { retryBtn.disabled = false; retryStatus.textContent = "通信に失敗しました。もう一度お試しください。"; });
  });
}

// ------------------------------------------------------------------------------------------ regenerate
// 「すべて再生成」: a new generation from the current profile; the page then follows it like the first one.
function bindRegenerateAll() {
  var regenerateAll = page.el.regenerateAll;
  var regenerateAllStatus = page.el.regenerateAllStatus;
  regenerateAll.addEventListener("click", function () {
    if (page.regenerating || !window.confirm(regenerateAll.getAttribute("data-confirm-text"))) { return; }
    regenerateAll.disabled = true;
    regenerateAllStatus.classList.remove("is-error");
    regenerateAllStatus.textContent = "すべて再生成を始めています…";
    window.mpFetch(page.api + "/regenerate", { method: "POST", headers: { "Accept": "application/json" } })
      .then(jsonResult)
      .then(function (res) {
        if (res.ok) { window.location.reload(); return; }
        regenerateAll.disabled = false;
        regenerateAllStatus.classList.add("is-error");
        regenerateAllStatus.textContent = (res.data && res.data.error && res.data.error.message) || "再生成を開始できませんでした。";
      })
      .catch(function () {
        regenerateAll.disabled = false;
        regenerateAllStatus.classList.add("is-error");
        regenerateAllStatus.textContent = "通信に失敗しました。もう一度お試しください。";
      });
  });
}

// One section: its regeneration streams over the same events as a generation.
function bindRegenerateSection() {
  document.addEventListener("click", function (event) {
    var btn = event.target.closest && event.target.closest("[data-regenerate]");
    if (!btn || page.regenerating) { return; }
    var key = btn.getAttribute("data-regenerate");
    var s = page.sections[key];
    setRegenerating(key);
    s.statusEl.classList.remove("is-error");
    s.statusEl.textContent = s.label + "を再生成しています…";
    window.mpFetch(page.api + "/sections/" + encodeURIComponent(key) + "/regenerate",
                   { method: "POST", headers: { "Accept": "application/json" } })
      .then(jsonResult)
      .then(function (res) {
        if (!res.ok) {
          s.statusEl.classList.add("is-error");
          s.statusEl.textContent = (res.data && res.data.error && res.data.error.message) || "再生成を開始できませんでした。";
          setRegenerating(null);
          return;
        }
        connect();
      })
      .catch(function () {
        s.statusEl.classList.add("is-error");
        s.statusEl.textContent = "通信に失敗しました。もう一度お試しください。";
        setRegenerating(null);
      });
  });
}

// ------------------------------------------------------------------------------------------ start
if (initPage()) {
  initTabs();
  bindRetry();
  bindRegenerateAll();
  bindSectionEditors();
  bindRegenerateSection();
  // The delete form: app.js asks with confirm(); without JavaScript the server shows a confirmation page.
  $all("[data-js-confirmed]").forEach(function (el) { el.value = "1"; });
  bindEditors();
  if (page.status === "queued" || page.status === "running") {
    page.el.progressPanel.hidden = false;
    updateProgress(null);
    connect();
  } else if (page.status === "done") {
    showRegenerateButtons(true);
  } else if (page.status === "failed") {
    page.el.retryBtn.hidden = false;
  }
}
