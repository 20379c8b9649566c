// Persona result page: live generation over Server-Sent Events, tabs, profile editing, section regeneration.
// The page is complete without this script (server-rendered); this adds the live parts.
// Model and user text only ever goes through textContent (never innerHTML).
import { eventStream } from "./sse.js";

(function () {
  "use strict";
  var root = document.getElementById("persona");
  if (!root) { return; }

  var id = root.getAttribute("data-persona-id");
  var api = "/api/personas/" + encodeURIComponent(id);
  var STATUS_LABELS = { queued: "待機中", running: "生成中", done: "完了", failed: "失敗" };
  var progressPanel = document.getElementById("progress-panel");
  var progressBar = document.getElementById("progress-bar");
  var progressText = document.getElementById("progress-text");
  var failureBox = document.getElementById("persona-failure");
  var failureMessage = document.getElementById("persona-failure-message");
  var retryBtn = document.getElementById("persona-retry");
  var retryStatus = document.getElementById("persona-retry-status");
  var image = document.getElementById("persona-image");
  var placeholder = document.getElementById("portrait-placeholder");
  var portraitStatus = document.getElementById("portrait-status");
  var source = null;
  var status = root.getAttribute("data-status");
  var imageStatus = root.getAttribute("data-image-status");
  var regenerating = null; // section key being regenerated
  var lastAnnounced = "";

  function $all(sel, el) { return Array.prototype.slice.call((el || document).querySelectorAll(sel)); }

  // Sections: key -> {el, text, done, target}
  var sections = {};
  var order = [];
  $all("[data-section]").forEach(function (el) {
    var key = el.getAttribute("data-section");
    var textEl = el.querySelector("[data-section-text]");
    var stepEl = document.querySelector('[data-progress-section="' + key + '"]');
    order.push(key);
    sections[key] = {
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
  var imageStep = document.querySelector('[data-progress-section="image"]');

  // ------------------------------------------------------------------------------------------ tabs
  var tablist = document.getElementById("persona-tabs");
  var tabs = $all('[role="tab"]', tablist);
  var panels = tabs.map(function (t) { return document.getElementById(t.getAttribute("aria-controls")); });
  $all("[data-no-js-note]").forEach(function (el) { el.hidden = true; });
  document.getElementById("timeline-root").hidden = false;
  tablist.hidden = false;

  function selectTab(index, focus) {
    tabs.forEach(function (tab, i) {
      var selected = i === index;
      tab.setAttribute("aria-selected", selected ? "true" : "false");
      tab.tabIndex = selected ? 0 : -1;
      panels[i].hidden = !selected;
    });
    if (focus) { tabs[index].focus(); }
    if (tabs[index].id === "tab-timeline") {
      document.dispatchEvent(new CustomEvent("mp:timeline-open", { detail: { personaId: id } }));
      if (window.history.replaceState) { window.history.replaceState(null, "", "#timeline"); }
    } else if (window.location.hash === "#timeline" && window.history.replaceState) {
      window.history.replaceState(null, "", window.location.pathname + window.location.search);
    }
  }
  tabs.forEach(function (tab, i) {
    tab.addEventListener("click", function () { selectTab(i, false); });
    tab.addEventListener("keydown", function (event) {
      var next = null;
      if (event.key === "ArrowRight") { next = (i + 1) % tabs.length; }
      if (event.key === "ArrowLeft") { next = (i - 1 + tabs.length) % tabs.length; }
      if (event.key === "Home") { next = 0; }
      if (event.key === "End") { next = tabs.length - 1; }
      if (next !== null) { event.preventDefault(); selectTab(next, true); }
    });
  });
  selectTab(window.location.hash === "#timeline" ? 1 : 0, false);

  // ------------------------------------------------------------------------------------------ progress
  function setStep(el, state, text) {
    if (!el) { return; }
    el.classList.remove("is-pending", "is-running", "is-done", "is-failed");
    el.classList.add("is-" + state);
    el.querySelector("[data-progress-state]").textContent = text;
  }

  function announce(text) {
    if (text !== lastAnnounced) { progressText.textContent = text; lastAnnounced = text; }
  }

  function updateProgress(activeKey) {
    var units = 0;
    var doneCount = 0;
    order.forEach(function (key) {
      var s = sections[key];
      if (s.done) { units += 1; doneCount += 1; } else if (s.text.length) {
        units += Math.min(0.95, s.text.length / s.target);
      }
    });
    if (imageStatus === "done" || imageStatus === "none") { units += 1; }
    progressBar.value = Math.round(units / (order.length + 1) * 100);
    progressBar.textContent = doneCount + "/" + order.length;
    if (activeKey && sections[activeKey] && !sections[activeKey].done) {
      announce(sections[activeKey].label + "を生成中…（" + doneCount + "/" + order.length + "項目完了）");
    } else if (doneCount === order.length && imageStatus !== "done" && status !== "done") {
      announce("文章の生成が完了しました。似顔絵を仕上げています…");
    } else if (status === "queued") {
      announce("生成の順番を待っています…");
    }
  }

  function setStatus(value) {
    status = value;
    root.setAttribute("data-status", value);
    var holder = document.getElementById("persona-status");
    var badge = holder.querySelector(".badge") || document.createElement("span");
    badge.className = "badge badge--" + value;
    badge.textContent = STATUS_LABELS[value] || value;
    if (!badge.parentNode) { holder.appendChild(badge); }
  }

  // ------------------------------------------------------------------------------------------ sections
  function showSectionText(key, text, streaming) {
    var s = sections[key];
    if (!s) { return; }
    s.text = text;
    s.textEl.textContent = text;
    s.placeholder.hidden = text.length > 0;
    s.el.classList.toggle("is-pending", !text.length);
    s.el.classList.toggle("is-streaming", !!streaming);
    s.el.setAttribute("aria-busy", streaming ? "true" : "false");
  }

  function onDelta(data) {
    var key = data.section;
    var s = sections[key];
    if (!s || typeof data.text !== "string") { return; }
    if (s.done && regenerating !== key) { return; }
    if (s.done && regenerating === key) { s.done = false; s.text = ""; }
    if (typeof data.target === "number" && data.target > 0) { s.target = data.target; }
    var offset = typeof data.offset === "number" ? data.offset : s.text.length;
    var text = s.text.slice(0, Math.min(offset, s.text.length)) + data.text;
    showSectionText(key, text, true);
    setStep(s.stepEl, "running", "生成中 " + text.length + "/" + s.target + "文字");
    updateProgress(key);
  }

  function onSection(data) {
    var key = data.section || data.key;
    var s = sections[key];
    if (!s) { return; }
    var text = typeof data.text === "string" ? data.text : s.text;
    s.done = true;
    showSectionText(key, text, false);
    setStep(s.stepEl, "done", "完了");
    if (regenerating === key) {
      s.statusEl.classList.remove("is-error");
      s.statusEl.textContent = "再生成しました。";
      setRegenerating(null);
      markCurrent(key);
    }
    updateProgress(null);
    var next = order.filter(function (k) { return !sections[k].done; })[0];
    if (next && status === "running") { announce(sections[next].label + "を生成中…"); }
  }

  function resetPartials() {
    order.forEach(function (key) {
      var s = sections[key];
      if (!s.done || regenerating === key) {
        s.done = false;
        showSectionText(key, "", false);
        setStep(s.stepEl, "pending", "待機中");
      }
    });
  }

  // ------------------------------------------------------------------------------------------ image
  function showImage(url) {
    imageStatus = "done";
    root.setAttribute("data-image-status", "done");
    // Stored portraits have content-hashed URLs (a new portrait, a new URL): cacheable as they are.
    var target = (url || api + "/image");
    image.onload = function () { image.hidden = false; placeholder.hidden = true; };
    image.onerror = function () { portraitStatus.textContent = "似顔絵を読み込めませんでした。"; };
    image.src = target;
    setStep(imageStep, "done", "完了");
    updateProgress(null);
  }

  function imageNone(message) {
    imageStatus = "none";
    portraitStatus.textContent = message || "似顔絵はありません（画像なしの設定）。";
    setStep(imageStep, "done", "なし");
  }

  function imageFailed(message) {
    imageStatus = "failed";
    portraitStatus.textContent = message || "似顔絵を生成できませんでした。";
    setStep(imageStep, "failed", "失敗");
  }

  // ------------------------------------------------------------------------------------------ finish
  function enableExports() {
    ["export-pdf", "export-pptx"].forEach(function (eid) {
      var link = document.getElementById(eid);
      if (link) { link.setAttribute("href", link.getAttribute("data-href")); link.removeAttribute("aria-disabled"); }
    });
    var note = document.getElementById("export-note");
    if (note) { note.hidden = true; }
  }

  // Re-read server-rendered parts (profile, name, extras) after the job wrote them: one rendering path,
  // all escaping done by the server's templates.
  function refreshFromServer(ids) {
    return fetch(window.location.pathname, { credentials: "same-origin", headers: { "Accept": "text/html" } })
      .then(function (r) { return r.ok ? r.text() : null; })
      .then(function (html) {
        if (!html) { return; }
        var doc = new DOMParser().parseFromString(html, "text/html");
        ids.forEach(function (eid) {
          var fresh = doc.getElementById(eid);
          var old = document.getElementById(eid);
          if (fresh && old) { old.parentNode.replaceChild(document.importNode(fresh, true), old); }
        });
        var img = doc.getElementById("persona-image");
        if (img && img.getAttribute("alt")) { image.setAttribute("alt", img.getAttribute("alt")); }
        document.title = (doc.title || document.title);
        bindEditors();
      })
      .catch(function () { /* the page still shows the streamed text */ });
  }

  function onDone(data) {
    closeStream();
    if (regenerating) {
      var key = regenerating;
      if (!sections[key].done) { sections[key].done = true; setStep(sections[key].stepEl, "done", "完了"); }
      showSectionText(key, sections[key].text, false);
      setRegenerating(null);
      setStatus("done");
      return;
    }
    setStatus("done");
    var finalTexts = (data && data.sections) || {};
    order.forEach(function (key) {
      var s = sections[key];
      s.done = true;
      // The done event carries the stored sections: they are authoritative.
      showSectionText(key, typeof finalTexts[key] === "string" ? finalTexts[key] : s.text, false);
      setStep(s.stepEl, "done", "完了");
    });
    if (data && data.image_status === "failed") { imageFailed(); }
    if (data && data.image_status === "none") { imageNone(); }
    updateProgress(null);
    progressBar.value = 100;
    announce("ペルソナが完成しました。");
    enableExports();
    refreshFromServer(["persona-head", "profile-list", "extras-list", "profile-form", "extras-form", "keywords-used",
                       "interviews"]).then(function () {
      if (imageStatus !== "done" && imageStatus !== "none") {
        // The image may have been written together with the final state.
        fetch(api, { credentials: "same-origin", headers: { "Accept": "application/json" } })
          .then(function (r) { return r.ok ? r.json() : null; })
          .then(function (p) {
            if (p && (p.image_url || p.image_status === "done")) { showImage(p.image_url); }
            else if (p && p.image_status === "failed") { imageFailed(); }
            else if (p) { portraitStatus.textContent = "似顔絵はありません。"; }
          });
      }
      window.setTimeout(function () { progressPanel.hidden = true; }, 1500);
    });
    showRegenerateButtons(true);
  }

  function onError(data) {
    closeStream();
    var message = (data && data.message) || "ペルソナを生成できませんでした。時間をおいてもう一度お試しください。";
    if (regenerating) {
      var s = sections[regenerating];
      s.statusEl.classList.add("is-error");
      s.statusEl.textContent = "再生成できませんでした：" + message;
      setRegenerating(null);
      // The previous text stays stored on the server: show it again.
      refreshSection(s);
      return;
    }
    setStatus("failed");
    failureMessage.textContent = message;
    failureBox.hidden = false;
    retryBtn.hidden = false;
    order.forEach(function (key) {
      var s = sections[key];
      if (!s.done) {
        setStep(s.stepEl, "failed", "未完了");
        s.el.classList.remove("is-streaming");
        s.placeholder.textContent = "生成されませんでした。";
        s.placeholder.hidden = s.text.length > 0;
      }
    });
    if (imageStatus !== "done") {
      setStep(imageStep, "failed", "未完了");
      portraitStatus.textContent = "似顔絵はありません。";
    }
    announce("生成に失敗しました。");
    failureBox.focus();
  }

  function refreshSection(s) {
    fetch(api, { credentials: "same-origin", headers: { "Accept": "application/json" } })
      .then(function (r) { return r.ok ? r.json() : null; })
      .then(function (p) {
        var key = s.el.getAttribute("data-section");
        if (p && p.sections && typeof p.sections[key] === "string") {
          s.done = true;
          showSectionText(key, p.sections[key], false);
        }
      });
  }

  // ------------------------------------------------------------------------------------------ SSE
  function closeStream() {
    if (source) { source.close(); source = null; }
  }

  function connect() {
    closeStream();
    source = eventStream(api + "/events", {
      events: {
        status: function (data) {
          var value = data.status || data.state;
          if (value === "running" || value === "queued") {
            if (value === "running" && (data.restart || (data.attempt && data.attempt > 1))) { resetPartials(); }
            if (!regenerating) { setStatus(value); }
            if (value === "queued") { announce("生成の順番を待っています…"); }
            if (value === "running" && !regenerating) {
              var first = order.filter(function (k) { return !sections[k].done; })[0];
              if (first) { announce(sections[first].label + "を生成中…（0/" + order.length + "項目完了）"); }
              if (imageStatus !== "done") { setStep(imageStep, "running", "生成中"); }
            }
          }
        },
        delta: function (d) { onDelta(d); },
        section: function (d) { onSection(d); },
        image: function (d) {
          if (d.status === "failed" || d.error) { imageFailed(d.message || (d.error && d.error.message)); }
          else if (d.status === "none") { imageNone(d.message); }
          else { showImage(d.url || d.image_url); }
        },
        done: function (d) { onDone(d); },
        error: function (d) { onError(d); }
      },
      // A dropped connection: EventSource reconnects by itself and the server resends what we missed.
      onDrop: function () { announce("接続が途切れました。再接続しています…"); },
      onUnsupported: function () {
        announce("このブラウザはライブ表示に対応していません。ページを再読み込みすると結果を表示できます。");
      }
    });
  }

  // ------------------------------------------------------------------------------------------ retry
  retryBtn.addEventListener("click", function () {
    retryBtn.disabled = true;
    retryStatus.textContent = "もう一度生成を開始しています…";
    window.mpFetch(api + "/retry", { method: "POST", headers: { "Accept": "application/json" } })
      .then(function (r) { return r.json().catch(function () { return {}; }).then(function (d) { return { ok: r.ok, status: r.status, data: d }; }); })
      .then(function (res) {
        if (!res.ok) {
          retryBtn.disabled = false;
          retryStatus.textContent = ((res.data && res.data.error && res.data.error.message) || "再試行を開始できませんでした。");
          return;
        }
        var newId = res.data && res.data.id;
        if (newId && newId !== id) { window.location.assign("/personas/" + encodeURIComponent(newId)); return; }
        failureBox.hidden = true;
        retryBtn.disabled = false;
        retryStatus.textContent = "";
        progressPanel.hidden = false;
        resetPartials();
        order.forEach(function (k) { if (!sections[k].done) { sections[k].placeholder.textContent = "生成を待っています…"; } });
        if (imageStatus !== "done") { portraitStatus.textContent = "似顔絵を生成しています…"; setStep(imageStep, "pending", "待機中"); }
        setStatus("queued");
        connect();
      })
      .catch(function () { retryBtn.disabled = false; retryStatus.textContent = "通信に失敗しました。もう一度お試しください。"; });
  });

  // ------------------------------------------------------------------------------------------ regenerate
  function showRegenerateButtons(show) {
    $all("[data-regenerate], [data-edit-section], #regenerate-all").forEach(function (btn) { btn.hidden = !show; });
  }

  // ------------------------------------------------------------------------------------------ out of date
  // Sections written before the latest profile change carry a 「変更前の内容」 badge until rewritten.
  var staleNotice = document.getElementById("stale-notice");
  function applyStale(keys) {
    order.forEach(function (key) {
      var stale = keys.indexOf(key) !== -1;
      sections[key].el.classList.toggle("is-stale", stale);
      sections[key].el.querySelector("[data-stale-badge]").hidden = !stale;
    });
    staleNotice.hidden = !keys.length;
  }
  function markCurrent(key) {
    applyStale(order.filter(function (k) { return k !== key && sections[k].el.classList.contains("is-stale"); }));
  }
  function refreshStale() {
    fetch(api, { credentials: "same-origin", headers: { "Accept": "application/json" } })
      .then(function (r) { return r.ok ? r.json() : null; })
      .then(function (p) { if (p && Array.isArray(p.stale_sections)) { applyStale(p.stale_sections); } })
      .catch(function () { /* the next page load shows it */ });
  }

  // 「すべて再生成」: a new generation from the current profile; the page then follows it like the first one.
  var regenerateAll = document.getElementById("regenerate-all");
  var regenerateAllStatus = document.getElementById("regenerate-all-status");
  regenerateAll.addEventListener("click", function () {
    if (regenerating || !window.confirm(regenerateAll.getAttribute("data-confirm-text"))) { return; }
    regenerateAll.disabled = true;
    regenerateAllStatus.classList.remove("is-error");
    regenerateAllStatus.textContent = "すべて再生成を始めています…";
    window.mpFetch(api + "/regenerate", { method: "POST", headers: { "Accept": "application/json" } })
      .then(function (r) { return r.json().catch(function () { return {}; }).then(function (d) { return { ok: r.ok, data: d }; }); })
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

  // ------------------------------------------------------------------------------------------ edit a section
  function openSectionEditor(key) {
    var s = sections[key];
    if (s.el.querySelector(".persona-section__editor")) { return; }
    var editor = document.createElement("form");
    editor.className = "form persona-section__editor";
    editor.noValidate = true;
    var label = document.createElement("label");
    label.className = "visually-hidden";
    label.textContent = s.label + "の文章";
    var area = document.createElement("textarea");
    area.id = "section-edit-" + key;
    label.htmlFor = area.id;
    area.maxLength = 2000;
    area.value = s.text;
    var error = document.createElement("p");
    error.className = "field-error";
    error.hidden = true;
    var row = document.createElement("div");
    row.className = "btn-row";
    var save = document.createElement("button");
    save.type = "submit";
    save.className = "btn btn--primary";
    save.textContent = "保存";
    var cancel = document.createElement("button");
    cancel.type = "button";
    cancel.className = "btn";
    cancel.textContent = "キャンセル";
    row.appendChild(save);
    row.appendChild(cancel);
    [label, area, error, row].forEach(function (el) { editor.appendChild(el); });
    s.textEl.hidden = true;
    s.textEl.parentNode.insertBefore(editor, s.textEl.nextSibling);
    area.focus();
    function close() {
      editor.parentNode.removeChild(editor);
      s.textEl.hidden = false;
      s.el.querySelector("[data-edit-section]").focus();
    }
    cancel.addEventListener("click", close);
    editor.addEventListener("submit", function (event) {
      event.preventDefault();
      var text = area.value.trim();
      if (!text) { error.textContent = "文章を空にすることはできません。"; error.hidden = false; area.focus(); return; }
      var body = { sections: {} };
      body.sections[key] = text;
      save.disabled = true;
      window.mpFetch(api, { method: "PATCH", headers: { "Content-Type": "application/json", "Accept": "application/json" },
                            body: JSON.stringify(body) })
        .then(function (r) { return r.json().catch(function () { return {}; }).then(function (d) { return { ok: r.ok, data: d }; }); })
        .then(function (res) {
          save.disabled = false;
          if (!res.ok) {
            var err = (res.data && res.data.error) || {};
            error.textContent = ((err.fields || [])[0] || {}).message || err.message || "保存できませんでした。";
            error.hidden = false;
            area.focus();
            return;
          }
          var stored = (res.data.sections || {})[key] || text;
          showSectionText(key, stored, false);
          close();
          s.statusEl.classList.remove("is-error");
          s.statusEl.textContent = "保存しました。";
          applyStale(res.data.stale_sections || []);
        })
        .catch(function () {
          save.disabled = false;
          error.textContent = "通信に失敗しました。もう一度お試しください。";
          error.hidden = false;
        });
    });
  }
  document.addEventListener("click", function (event) {
    var btn = event.target.closest && event.target.closest("[data-edit-section]");
    if (btn && !regenerating) { openSectionEditor(btn.getAttribute("data-edit-section")); }
  });

  function setRegenerating(key) {
    regenerating = key;
    $all("[data-regenerate]").forEach(function (btn) {
      btn.disabled = !!key;
      btn.textContent = btn.getAttribute("data-regenerate") === key ? "再生成中…" : "再生成";
    });
  }

  document.addEventListener("click", function (event) {
    var btn = event.target.closest && event.target.closest("[data-regenerate]");
    if (!btn || regenerating) { return; }
    var key = btn.getAttribute("data-regenerate");
    var s = sections[key];
    setRegenerating(key);
    s.statusEl.classList.remove("is-error");
    s.statusEl.textContent = s.label + "を再生成しています…";
    window.mpFetch(api + "/sections/" + encodeURIComponent(key) + "/regenerate",
                   { method: "POST", headers: { "Accept": "application/json" } })
      .then(function (r) { return r.json().catch(function () { return {}; }).then(function (d) { return { ok: r.ok, data: d }; }); })
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

  // ------------------------------------------------------------------------------------------ in-place edits
  // One pattern for the profile and the extras: a server-rendered <form hidden> next to the <dl>; PATCH the
  // persona; on success re-read the server-rendered parts (escaped by the templates) and announce it.
  var EDITORS = [
    { form: "profile-form", list: "profile-list", button: "profile-edit", status: "profile-status",
      title: "profile-form-title", prefix: "profile.", saved: "プロフィールを保存しました。",
      build: buildProfile, refresh: ["persona-head", "profile-list", "profile-notes", "profile-form"] },
    { form: "extras-form", list: "extras-list", button: "extras-edit", status: "extras-status",
      title: "extras-form-title", prefix: "", saved: "その他の特徴を保存しました。",
      build: buildExtras, refresh: ["extras-list", "profile-notes", "extras-form"] },
    { form: "notes-form", list: "notes-view", button: "notes-edit", status: "notes-status",
      title: "notes-form-title", prefix: "", saved: "メモ・タグを保存しました。",
      build: buildNotes, refresh: ["notes-view", "notes-form"] }
  ];

  function buildNotes(form) {
    var tags = form.elements.namedItem("tags").value.split(/[、,，]/).map(function (t) { return t.trim(); })
      .filter(function (t) { return t; });
    return { body: { note: form.elements.namedItem("note").value.trim(), tags: tags }, errors: [] };
  }

  function buildProfile(form) {
    var profile = {};
    ["name", "gender", "prefecture", "municipality", "family", "occupation", "income", "hobby", "life_events"]
      .forEach(function (k) { var el = form.elements.namedItem(k); if (el) { profile[k] = el.value.trim(); } });
    profile.age = parseInt(form.elements.namedItem("age").value, 10);
    profile.age_months = parseInt(form.elements.namedItem("age_months").value || "0", 10);
    var errors = [];
    if (!profile.name) { errors.push({ field: "name", message: "名前を入力してください。" }); }
    if (profile.name.length > 50) { errors.push({ field: "name", message: "50文字以内で入力してください。" }); }
    if (profile.age < 15 && profile.income && profile.income !== "none") {
      errors.push({ field: "income", message: "15歳未満の場合、年収は「収入なし」を選んでください。" });
    }
    return { body: { profile: profile }, errors: errors };
  }

  function buildExtras(form) {
    var extras = {};
    $all("[data-extras-field]", form).forEach(function (input) {
      var value = input.value.trim();
      extras[input.name] = value ? value : null;
    });
    var rows = [];
    var errors = [];
    $all("[data-edit-row]", form).forEach(function (row, i) {
      var name = row.querySelector('[name="row_name"]').value.trim();
      var value = row.querySelector('[name="row_value"]').value.trim();
      if (value && !name) { errors.push({ field: "extra_fields." + i + ".name", message: "項目名を入力してください。" }); }
      if (name) { rows.push({ name: name, value: value }); }
    });
    return { body: { extras: extras, extra_fields: rows }, errors: errors };
  }

  function bindEditors() { EDITORS.forEach(bindEditor); }

  function bindEditor(cfg) {
    var form = document.getElementById(cfg.form);
    var list = document.getElementById(cfg.list);
    var editBtn = document.getElementById(cfg.button);
    var statusEl = document.getElementById(cfg.status);
    if (!form || !editBtn || form.getAttribute("data-bound")) { return; }
    form.setAttribute("data-bound", "true");
    editBtn.hidden = status !== "done";
    function close(focusBtn) {
      form.hidden = true;
      list.hidden = false;
      editBtn.setAttribute("aria-expanded", "false");
      if (focusBtn) { editBtn.focus(); }
    }
    editBtn.onclick = function () {
      if (!form.hidden) { close(true); return; }
      form.hidden = false;
      list.hidden = true;
      editBtn.setAttribute("aria-expanded", "true");
      statusEl.textContent = "";
      document.getElementById(cfg.title).focus();
    };
    var cancel = form.querySelector("[data-edit-cancel]");
    if (cancel) { cancel.onclick = function () { close(true); }; }
    var age = form.elements.namedItem("age");
    var months = form.elements.namedItem("age_months");
    if (age && months) {
      var syncMonths = function () {
        if (age.value === "100") { months.value = "0"; months.disabled = true; } else { months.disabled = false; }
      };
      age.onchange = syncMonths;
      syncMonths();
    }
    form.onsubmit = function (event) {
      event.preventDefault();
      $all(".field-error", form).forEach(function (el) { el.textContent = ""; el.hidden = true; });
      $all('[aria-invalid="true"]', form).forEach(function (el) { el.removeAttribute("aria-invalid"); });
      var built = cfg.build(form);
      if (built.errors.length) { showFieldErrors(form, built.errors, statusEl); return; }
      statusEl.classList.remove("is-error");
      statusEl.textContent = "保存しています…";
      window.mpFetch(api, {
        method: "PATCH",
        headers: { "Content-Type": "application/json", "Accept": "application/json" },
        body: JSON.stringify(built.body)
      }).then(function (r) {
        return r.json().catch(function () { return {}; }).then(function (d) { return { ok: r.ok, data: d }; });
      }).then(function (res) {
        if (!res.ok) {
          var err = (res.data && res.data.error) || {};
          showFieldErrors(form, (err.fields || []).map(function (f) {
            var field = String(f.field || "");
            return { field: cfg.prefix && field.indexOf(cfg.prefix) === 0 ? field.slice(cfg.prefix.length) : field,
                     message: f.message };
          }), statusEl, err.message);
          return;
        }
        refreshFromServer(cfg.refresh).then(function () {
          var st = document.getElementById(cfg.status);
          st.classList.remove("is-error");
          st.textContent = cfg.saved;
          var btn = document.getElementById(cfg.button);
          btn.hidden = false;
          btn.setAttribute("aria-expanded", "false");
          btn.focus();
          refreshStale();
        });
      }).catch(function () {
        statusEl.classList.add("is-error");
        statusEl.textContent = "通信に失敗しました。もう一度お試しください。";
      });
    };
  }

  function showFieldErrors(form, errors, statusEl, message) {
    var first = null;
    errors.forEach(function (err) {
      var box = form.querySelector('[data-error-for="' + err.field + '"]');
      var input = form.elements.namedItem(err.field) ||
        (box && box.parentNode.querySelector("input, select"));
      if (box) { box.textContent = err.message; box.hidden = false; }
      if (input && input.setAttribute) { input.setAttribute("aria-invalid", "true"); if (!first) { first = input; } }
    });
    statusEl.classList.add("is-error");
    statusEl.textContent = message || "入力内容を確認してください。";
    if (first) { first.focus(); }
  }

  // ------------------------------------------------------------------------------------------ start
  // The delete form: app.js asks with confirm(); without JavaScript the server shows a confirmation page.
  $all("[data-js-confirmed]").forEach(function (el) { el.value = "1"; });
  bindEditors();
  if (status === "queued" || status === "running") {
    progressPanel.hidden = false;
    updateProgress(null);
    connect();
  } else if (status === "done") {
    showRegenerateButtons(true);
  } else if (status === "failed") {
    retryBtn.hidden = false;
  }
})();
