// Message tests. The form page: shows the chosen reader panel, counts characters, sends the form as JSON (the
// leaflet image as base64). The result page: follows the test's event stream (reactions, numbers, the summary).
// Both pages work without this script. Every text goes through textContent.
import { eventStream } from "./sse.js";

(function () {
  "use strict";
  function $(sel, el) { return (el || document).querySelector(sel); }
  function $all(sel, el) { return Array.prototype.slice.call((el || document).querySelectorAll(sel)); }

  // ---------------------------------------------------------------------------------------- the form
  var form = document.getElementById("mt-form");
  if (form) {
    var alertBox = document.getElementById("mt-alert");
    var textarea = document.getElementById("mt-message");
    var counter = document.getElementById("mt-message-count");
    var submit = document.getElementById("mt-submit");
    var max = parseInt(form.getAttribute("data-message-max"), 10) || 2000;
    var maxPersonas = parseInt(form.getAttribute("data-max-personas"), 10) || 12;
    var imageMaxMb = parseInt(form.getAttribute("data-image-max-mb"), 10) || 4;

    var target = function () { var r = $('input[name="target"]:checked', form); return r ? r.value : "personas"; };
    var syncTarget = function () {
      $all("[data-target-panel]", form).forEach(function (panel) {
        panel.hidden = panel.getAttribute("data-target-panel") !== target();
      });
    };
    var count = function () { counter.textContent = textarea.value.length + "/" + max + "文字"; };
    var fail = function (message, fields) {
      alertBox.replaceChildren();
      var p = document.createElement("p");
      p.textContent = message;
      alertBox.appendChild(p);
      if (fields && fields.length) {
        var list = document.createElement("ul");
        list.className = "error-list";
        fields.forEach(function (f) {
          var li = document.createElement("li");
          li.textContent = f.message;
          list.appendChild(li);
        });
        alertBox.appendChild(list);
      }
      alertBox.hidden = false;
      alertBox.focus();
      submit.disabled = false;
      submit.textContent = "テストする";
    };
    var readImage = function (file) {
      return new Promise(function (resolve, reject) {
        var reader = new FileReader();
        reader.onload = function () { resolve(String(reader.result).split(",", 2)[1] || ""); };
        reader.onerror = function () { reject(new Error("read")); };
        reader.readAsDataURL(file);
      });
    };

    $all('input[name="target"]', form).forEach(function (r) { r.addEventListener("change", syncTarget); });
    textarea.addEventListener("input", count);
    syncTarget();
    count();

    form.addEventListener("submit", function (event) {
      event.preventDefault();
      var body = { kind: $("#mt-kind", form).value, message: textarea.value.trim() };
      if (target() === "set") {
        var set = $("#mt-set", form);
        if (!set) { fail("ペルソナセットがありません。ペルソナを選んでください。"); return; }
        body.set_id = set.value;
      } else {
        body.persona_ids = $all('input[name="persona_ids"]:checked', form).map(function (c) { return c.value; });
        if (!body.persona_ids.length) { fail("読んでもらうペルソナを1人以上選んでください。"); return; }
        if (body.persona_ids.length > maxPersonas) { fail("ペルソナは" + maxPersonas + "人まで選べます。"); return; }
      }
      if (!body.message) { fail("メッセージを入力してください。"); textarea.focus(); return; }
      if (body.message.length > max) { fail("メッセージは" + max + "文字以内で入力してください。"); return; }
      var fileInput = $("#mt-image", form);
      var file = fileInput && fileInput.files && fileInput.files[0];
      if (file && file.size > imageMaxMb * 1024 * 1024) { fail("画像は" + imageMaxMb + "MB以内にしてください。"); return; }
      submit.disabled = true;
      submit.textContent = "送信中…";
      (file ? readImage(file) : Promise.resolve(null)).then(function (data) {
        if (data !== null) { body.image = { data: data, mime: file.type || "image/png" }; }
        return window.mpPostJson("/api/message-tests", body);
      }).then(function (result) {
        if (result.status === 202) {
          window.location.assign("/message-tests/" + encodeURIComponent(result.data.id));
          return;
        }
        var err = (result.data && result.data.error) || {};
        fail(err.message || "テストを開始できませんでした。", err.fields);
      }).catch(function () {
        fail("通信に失敗しました。ネットワーク接続を確認して、もう一度お試しください。");
      });
    });
  }

  // ---------------------------------------------------------------------------------------- the result page
  var root = document.getElementById("message-test");
  if (!root) { return; }
  var api = "/api/message-tests/" + encodeURIComponent(root.getAttribute("data-test-id"));
  var status = root.getAttribute("data-status");
  var total = parseInt(root.getAttribute("data-total"), 10) || 0;
  var list = document.getElementById("mt-results");
  var template = document.getElementById("reaction-template");
  var progress = document.getElementById("mt-progress");
  var chart = document.getElementById("mt-chart");
  var summaryWait = document.getElementById("mt-summary-wait");
  var SCORE_LABELS = { 5: "ぜひ予約したい", 4: "予約を前向きに考える", 3: "気にはなる", 2: "あまり響かない", 1: "まったく響かない" };
  var summaryText = {};

  function setBadge(value, label) {
    var badge = $("#mt-status .badge");
    badge.className = "badge badge--" + value;
    badge.textContent = label;
  }

  function addResult(r) {
    var existing = $('[data-persona="' + r.persona_id + '"]', list);
    var li = template.content.firstElementChild.cloneNode(true);
    li.setAttribute("data-persona", r.persona_id);
    var name = $('[data-field="name"]', li);
    name.textContent = r.name;
    name.href = "/personas/" + encodeURIComponent(r.persona_id);
    $('[data-field="who"]', li).textContent = r.age_label + "・" + r.gender_label + (r.patient_type ? "・" + r.patient_type : "");
    $('[data-field="stars"]', li).textContent = "★★★★★".slice(0, r.score) + "☆☆☆☆☆".slice(0, 5 - r.score);
    $('[data-field="score"]', li).textContent = r.score + "点（" + (SCORE_LABELS[r.score] || "") + "）";
    $('[data-field="book"]', li).textContent = r.would_book ? "予約する" : "予約しない";
    $('[data-field="comment"]', li).textContent = r.comment;
    var chips = $('[data-field="concerns"]', li);
    (r.concerns || []).forEach(function (c) {
      var chip = document.createElement("li");
      chip.className = "chip";
      chip.textContent = c;
      chips.appendChild(chip);
    });
    if (!(r.concerns || []).length) { chips.remove(); }
    if (existing) { list.replaceChild(li, existing); } else { list.appendChild(li); }
    if (r.is_offline) { document.getElementById("mt-offline").hidden = false; }
    var n = $all(".reaction", list).length;
    progress.textContent = n + "/" + total + "人が回答しました…";
  }

  function showStats(stats) {
    chart.src = api + "/chart.svg?n=" + stats.count + "&t=" + Date.now();
    // As the server writes it: 4.0, 3.5, 3.33.
    $('[data-stat="average"]').textContent = stats.average % 1 === 0 ? stats.average.toFixed(1) : String(stats.average);
    $('[data-stat="would_book"]').textContent = stats.would_book + "人";
    progress.textContent = "全員の反応がそろいました。まとめを書いています…";
  }

  function summaryPart(key, text) {
    var part = $('[data-summary="' + key + '"] [data-summary-text]');
    if (part) { part.textContent = text; summaryWait.hidden = true; }
  }

  function finish() {
    progress.hidden = true;
    ["mt-export-pdf", "mt-export-csv"].forEach(window.mpEnableLink);
  }

  if (status === "done" || status === "failed") { return; }
  eventStream(api + "/events", {
    events: {
      status: function (data) {
        if (data.status !== "running") { return; }
        setBadge("running", "テスト中");
        if (data.restart && data.part === "summary") {
          summaryText = {};
          $all("[data-summary-text]").forEach(function (p) { p.textContent = ""; });
        } else if (!data.restart) {
          list.replaceChildren();
          summaryText = {};
          $all("[data-summary-text]").forEach(function (p) { p.textContent = ""; });
        }
      },
      result: addResult,
      stats: showStats,
      delta: function (data) {
        var key = data.section;
        var prev = summaryText[key] || "";
        var offset = typeof data.offset === "number" ? data.offset : prev.length;
        summaryText[key] = prev.slice(0, Math.min(offset, prev.length)) + (data.text || "");
        summaryPart(key, summaryText[key]);
      },
      section: function (data) { summaryText[data.key] = data.text; summaryPart(data.key, data.text); },
      done: function () {
        setBadge("done", "完了");
        window.mpFetch(api, { headers: { "Accept": "application/json" } }).then(function (r) {
          return r.ok ? r.json() : null;
        }).then(function (test) {
          if (!test) { return; }
          (test.results || []).forEach(addResult);
          var summary = test.summary || {};
          Object.keys(summaryText).concat(["overview", "concerns", "booking_triggers", "by_type"]).forEach(function (key) {
            if (summary[key]) { summaryPart(key, summary[key]); }
          });
          if (summary.stats) { showStats(summary.stats); }
          finish();
        });
      },
      error: function (data) {
        setBadge("failed", "失敗");
        progress.hidden = true;
        document.getElementById("mt-failure-message").textContent = data.message || "メッセージテストを完了できませんでした。";
        document.getElementById("mt-failure").hidden = false;
      }
    },
    onDrop: function () { progress.textContent = "接続が途切れました。再接続しています…"; },
    onUnsupported: function () { progress.textContent = "ページを再読み込みすると結果を表示できます。"; }
  });
})();
