// What the persona page shows of a generation: progress steps and bar, the announced status line, the status
// badge, section texts, the portrait, the export links and the section buttons. Text only via textContent.
import { $all, STATUS_LABELS, page } from "./page.js";

export function setStep(el, state, text) {
  if (!el) { return; }
  el.classList.remove("is-pending", "is-running", "is-done", "is-failed");
  el.classList.add("is-" + state);
  el.querySelector("[data-progress-state]").textContent = text;
}

export function announce(text) {
  if (text !== page.lastAnnounced) { page.el.progressText.textContent = text; page.lastAnnounced = text; }
}

export function updateProgress(activeKey) {
  var sections = page.sections;
  var order = page.order;
  var units = 0;
  var doneCount = 0;
  order.forEach(function (key) {
    var s = sections[key];
    if (s.done) { units += 1; doneCount += 1; } else if (s.text.length) {
      units += Math.min(0.95, s.text.length / s.target);
    }
  });
  if (page.imageStatus === "done" || page.imageStatus === "none") { units += 1; }
  page.el.progressBar.value = Math.round(units / (order.length + 1) * 100);
  page.el.progressBar.textContent = doneCount + "/" + order.length;
  if (activeKey && sections[activeKey] && !sections[activeKey].done) {
    announce(sections[activeKey].label + "を生成中…（" + doneCount + "/" + order.length + "項目完了）");
  } else if (doneCount === order.length && page.imageStatus !== "done" && page.status !== "done") {
    announce("文章の生成が完了しました。似顔絵を仕上げています…");
  } else if (page.status === "queued") {
    announce("生成の順番を待っています…");
  }
}

export function setStatus(value) {
  page.status = value;
  page.root.setAttribute("data-status", value);
  var holder = document.getElementById("persona-status");
  var badge = holder.querySelector(".badge") || document.createElement("span");
  badge.className = "badge badge--" + value;
  badge.textContent = STATUS_LABELS[value] || value;
  if (!badge.parentNode) { holder.appendChild(badge); }
}

// ------------------------------------------------------------------------------------------ sections
export function showSectionText(key, text, streaming) {
  var s = page.sections[key];
  if (!s) { return; }
  s.text = text;
  s.textEl.textContent = text;
  s.placeholder.hidden = text.length > 0;
  s.el.classList.toggle("is-pending", !text.length);
  s.el.classList.toggle("is-streaming", !!streaming);
  s.el.setAttribute("aria-busy", streaming ? "true" : "false");
}

// ------------------------------------------------------------------------------------------ image
export function showImage(url) {
  var image = page.el.image;
  page.imageStatus = "done";
  page.root.setAttribute("data-image-status", "done");
  // Stored portraits have content-hashed URLs (a new portrait, a new URL): cacheable as they are.
  var target = (url || page.api + "/image");
  image.onload = function () { image.hidden = false; page.el.placeholder.hidden = true; };
  image.onerror = function () { page.el.portraitStatus.textContent = "似顔絵を読み込めませんでした。"; };
  image.src = target;
  setStep(page.el.imageStep, "done", "完了");
  updateProgress(null);
}

export function imageNone(message) {
  page.imageStatus = "none";
  page.el.portraitStatus.textContent = message || "似顔絵はありません（画像なしの設定）。";
  setStep(page.el.imageStep, "done", "なし");
}

export function imageFailed(message) {
  page.imageStatus = "failed";
  page.el.portraitStatus.textContent = message || "似顔絵を生成できませんでした。";
  setStep(page.el.imageStep, "failed", "失敗");
}

// ------------------------------------------------------------------------------------------ buttons and links
export function enableExports() {
  ["export-pdf", "export-pptx"].forEach(function (eid) {
    var link = document.getElementById(eid);
    if (link) { link.setAttribute("href", link.getAttribute("data-href")); link.removeAttribute("aria-disabled"); }
  });
  var note = document.getElementById("export-note");
  if (note) { note.hidden = true; }
}

export function showRegenerateButtons(show) {
  $all("[data-regenerate], [data-edit-section], #regenerate-all").forEach(function (btn) { btn.hidden = !show; });
}

export function setRegenerating(key) {
  page.regenerating = key;
  $all("[data-regenerate]").forEach(function (btn) {
    btn.disabled = !!key;
    btn.textContent = btn.getAttribute("data-regenerate") === key ? "再生成中…" : "再生成";
  });
}

// ------------------------------------------------------------------------------------------ out of date
// Sections written before the latest profile change carry a 「変更前の内容」 badge until rewritten.
export function applyStale(keys) {
  page.order.forEach(function (key) {
    var stale = keys.indexOf(key) !== -1;
    page.sections[key].el.classList.toggle("is-stale", stale);
    page.sections[key].el.querySelector("[data-stale-badge]").hidden = !stale;
  });
  page.el.staleNotice.hidden = !keys.length;
}

export function markCurrent(key) {
  applyStale(page.order.filter(function (k) { return k !== key && page.sections[k].el.classList.contains("is-stale"); }));
}
