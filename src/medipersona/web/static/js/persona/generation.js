// A generation (or a section's regeneration) as it streams in: the handlers of the job's events (persona.js opens
// the stream and routes them here), and the page's state after the final "done" or "error".
import { fetchPersona, page } from "./page.js";
import { refreshFromServer } from "./editors.js";
import {
  announce, enableExports, imageFailed, imageNone, markCurrent, setRegenerating, setStatus, setStep,
  showImage, showRegenerateButtons, showSectionText, updateProgress
} from "./view.js";

export function closeStream() {
  if (page.source) { page.source.close(); page.source = null; }
}

export function onDelta(data) {
  var key = data.section;
  var s = page.sections[key];
  if (!s || typeof data.text !== "string") { return; }
  if (s.done && page.regenerating !== key) { return; }
  if (s.done && page.regenerating === key) { s.done = false; s.text = ""; }
  if (typeof data.target === "number" && data.target > 0) { s.target = data.target; }
  var offset = typeof data.offset === "number" ? data.offset : s.text.length;
  var text = s.text.slice(0, Math.min(offset, s.text.length)) + data.text;
  showSectionText(key, text, true);
  setStep(s.stepEl, "running", "生成中 " + text.length + "/" + s.target + "文字");
  updateProgress(key);
}

export function onSection(data) {
  var key = data.section || data.key;
  var s = page.sections[key];
  if (!s) { return; }
  var text = typeof data.text === "string" ? data.text : s.text;
  s.done = true;
  showSectionText(key, text, false);
  setStep(s.stepEl, "done", "完了");
  if (page.regenerating === key) {
    s.statusEl.classList.remove("is-error");
    s.statusEl.textContent = "再生成しました。";
    setRegenerating(null);
    markCurrent(key);
  }
  updateProgress(null);
  var next = page.order.filter(function (k) { return !page.sections[k].done; })[0];
  if (next && page.status === "running") { announce(page.sections[next].label + "を生成中…"); }
}

// The running status of a (re)started attempt.
export function onStatus(data) {
  var value = data.status || data.state;
  if (value === "running" || value === "queued") {
    if (value === "running" && (data.restart || (data.attempt && data.attempt > 1))) { resetPartials(); }
    if (!page.regenerating) { setStatus(value); }
    if (value === "queued") { announce("生成の順番を待っています…"); }
    if (value === "running" && !page.regenerating) {
      var first = page.order.filter(function (k) { return !page.sections[k].done; })[0];
      if (first) { announce(page.sections[first].label + "を生成中…（0/" + page.order.length + "項目完了）"); }
      if (page.imageStatus !== "done") { setStep(page.el.imageStep, "running", "生成中"); }
    }
  }
}

export function onImage(d) {
  if (d.status === "failed" || d.error) { imageFailed(d.message || (d.error && d.error.message)); }
  else if (d.status === "none") { imageNone(d.message); }
  else { showImage(d.url || d.image_url); }
}

// Unfinished sections back to 待機中 (a restarted attempt, or a retry).
export function resetPartials() {
  page.order.forEach(function (key) {
    var s = page.sections[key];
    if (!s.done || page.regenerating === key) {
      s.done = false;
      showSectionText(key, "", false);
      setStep(s.stepEl, "pending", "待機中");
    }
  });
}

export function onDone(data) {
  closeStream();
  var sections = page.sections;
  if (page.regenerating) {
    var key = page.regenerating;
    if (!sections[key].done) { sections[key].done = true; setStep(sections[key].stepEl, "done", "完了"); }
    showSectionText(key, sections[key].text, false);
    setRegenerating(null);
    setStatus("done");
    return;
  }
  setStatus("done");
  var finalTexts = (data && data.sections) || {};
  page.order.forEach(function (key) {
    var s = sections[key];
    s.done = true;
    // The done event carries the stored sections: they are authoritative.
    showSectionText(key, typeof finalTexts[key] === "string" ? finalTexts[key] : s.text, false);
    setStep(s.stepEl, "done", "完了");
  });
  if (data && data.image_status === "failed") { imageFailed(); }
  if (data && data.image_status === "none") { imageNone(); }
  updateProgress(null);
  page.el.progressBar.value = 100;
  announce("ペルソナが完成しました。");
  enableExports();
  refreshFromServer(["persona-head", "profile-list", "extras-list", "profile-form", "extras-form", "keywords-used",
                     "interviews"]).then(function () {
    if (page.imageStatus !== "done" && page.imageStatus !== "none") {
      // The image may have been written together with the final state.
      fetchPersona().then(function (p) {
        if (p && (p.image_url || p.image_status === "done")) { showImage(p.image_url); }
        else if (p && p.image_status === "failed") { imageFailed(); }
        else if (p) { page.el.portraitStatus.textContent = "似顔絵はありません。"; }
      });
    }
    window.setTimeout(function () { page.el.progressPanel.hidden = true; }, 1500);
  });
  showRegenerateButtons(true);
}

export function onError(data) {
  closeStream();
  var message = (data && data.message) || "ペルソナを生成できませんでした。時間をおいてもう一度お試しください。";
  if (page.regenerating) {
    var s = page.sections[page.regenerating];
    s.statusEl.classList.add("is-error");
    s.statusEl.textContent = "再生成できませんでした：" + message;
    setRegenerating(null);
    // The previous text stays stored on the server: show it again.
    refreshSection(s);
    return;
  }
  setStatus("failed");
  page.el.failureMessage.textContent = message;
  page.el.failureBox.hidden = false;
  page.el.retryBtn.hidden = false;
  page.order.forEach(function (key) {
    var sec = page.sections[key];
    if (!sec.done) {
      setStep(sec.stepEl, "failed", "未完了");
      sec.el.classList.remove("is-streaming");
      sec.placeholder.textContent = "生成されませんでした。";
      sec.placeholder.hidden = sec.text.length > 0;
    }
  });
  if (page.imageStatus !== "done") {
    setStep(page.el.imageStep, "failed", "未完了");
    page.el.portraitStatus.textContent = "似顔絵はありません。";
  }
  announce("生成に失敗しました。");
  page.el.failureBox.focus();
}

function refreshSection(s) {
  fetchPersona().then(function (p) {
    var key = s.el.getAttribute("data-section");
    if (p && p.sections && typeof p.sections[key] === "string") {
      s.done = true;
      showSectionText(key, p.sections[key], false);
    }
  });
}
