// Interview page: questions go to the API, the persona's answer streams in over SSE (jobs of kind
// interview_answer). The page works without this script (form posts, refresh while answering). Every text goes
// through textContent.
import { eventStream } from "./sse.js";

(function () {
  "use strict";
  var root = document.getElementById("interview");
  if (!root) { return; }
  var api = "/api/interviews/" + encodeURIComponent(root.getAttribute("data-interview-id"));
  var personaName = root.getAttribute("data-persona-name");
  var max = parseInt(root.getAttribute("data-question-max"), 10) || 500;
  var chat = document.getElementById("chat");
  var empty = document.getElementById("chat-empty");
  var form = document.getElementById("ask-form");
  var textarea = document.getElementById("question");
  var counter = document.getElementById("question-count");
  var submit = document.getElementById("ask-submit");
  var alertBox = document.getElementById("ask-alert");
  var offlineBadge = document.getElementById("interview-offline");
  var busy = root.getAttribute("data-status") === "answering";

  function $all(sel) { return Array.prototype.slice.call(document.querySelectorAll(sel)); }

  function setBusy(value) {
    busy = value;
    textarea.disabled = value;
    submit.disabled = value;
    $all("[data-suggestion] button").forEach(function (b) { b.disabled = value; });
  }

  function showError(message) {
    alertBox.textContent = message;
    alertBox.hidden = false;
    alertBox.focus();
  }

  function updateCount() {
    var n = textarea.value.length;
    counter.textContent = n + "/" + max + "文字";
  }

  function bubble(role, text) {
    var li = document.createElement("li");
    li.className = "chat__msg chat__msg--" + role;
    li.setAttribute("data-role", role);
    var who = document.createElement("p");
    who.className = "chat__who";
    who.textContent = role === "user" ? "あなた（インタビュアー）" : personaName;
    var body = document.createElement("p");
    body.className = "chat__text";
    body.textContent = text;
    var meta = document.createElement("p");
    meta.className = "chat__time muted";
    li.appendChild(who);
    li.appendChild(body);
    li.appendChild(meta);
    chat.appendChild(li);
    empty.hidden = true;
    return li;
  }

  function pendingAnswer() {
    var li = chat.querySelector("[data-pending]");
    if (li) { return li; }
    li = bubble("persona", "");
    li.classList.add("is-pending");
    li.setAttribute("data-pending", "");
    li.querySelector(".chat__time").textContent = "回答を作成しています…";
    return li;
  }

  function follow(questionLi, questionText) {
    var li = pendingAnswer();
    var body = li.querySelector(".chat__text");
    var status = li.querySelector(".chat__time");
    var text = "";
    li.scrollIntoView({ block: "nearest" });
    eventStream(api + "/events", {
      events: {
        status: function (data) {
          if (data.restart) { text = ""; body.textContent = ""; status.textContent = "回答を作り直しています…"; }
        },
        delta: function (data) {
          if (typeof data.text !== "string") { return; }
          var offset = typeof data.offset === "number" ? data.offset : text.length;
          text = text.slice(0, Math.min(offset, text.length)) + data.text;
          body.textContent = text;
          status.textContent = "回答を作成しています…";
        },
        done: function (data) {
          var message = data.message || {};
          body.textContent = message.text || text;
          li.classList.remove("is-pending");
          li.removeAttribute("data-pending");
          status.textContent = "";
          if (message.is_offline) {
            var badge = document.createElement("span");
            badge.className = "badge badge--offline";
            badge.textContent = "オフライン生成";
            li.querySelector(".chat__who").appendChild(document.createTextNode(" "));
            li.querySelector(".chat__who").appendChild(badge);
            offlineBadge.hidden = false;
          }
          setBusy(false);
          textarea.focus();
        },
        error: function (data) {
          li.remove();
          if (questionLi) { questionLi.remove(); }
          if (questionText !== undefined && !textarea.value) { textarea.value = questionText; updateCount(); }
          setBusy(false);
          showError("回答を作成できませんでした。" + (data.message || "") + " 質問はフォームに戻してあります。");
        }
      },
      onDrop: function () { status.textContent = "接続が途切れました。再接続しています…"; },
      onUnsupported: function () { status.textContent = "ページを再読み込みすると回答を表示できます。"; }
    });
  }

  function ask(text) {
    text = (text || "").trim();
    if (!text) { showError("質問を入力してください。"); textarea.focus(); return; }
    if (text.length > max) { showError("質問は" + max + "文字以内で入力してください（いまは" + text.length + "文字です）。"); return; }
    if (busy) { return; }
    alertBox.hidden = true;
    setBusy(true);
    window.mpPostJson(api + "/messages", { text: text }).then(function (result) {
      if (result.status !== 202) {
        setBusy(false);
        var err = (result.data && result.data.error) || {};
        var field = (err.fields || [])[0];
        showError((field && field.message) || err.message || "質問を送れませんでした。");
        return;
      }
      if (textarea.value.trim() === text) { textarea.value = ""; updateCount(); }
      follow(bubble("user", text), text);
    }).catch(function () {
      setBusy(false);
      showError("通信に失敗しました。ネットワーク接続を確認して、もう一度お試しください。");
    });
  }

  textarea.addEventListener("input", updateCount);
  form.addEventListener("submit", function (event) { event.preventDefault(); ask(textarea.value); });
  $all("[data-suggestion]").forEach(function (f) {
    f.addEventListener("submit", function (event) {
      event.preventDefault();
      ask(f.querySelector('input[name="text"]').value);
    });
  });
  updateCount();
  if (busy) { follow(null); }
})();
