// Persona-set page: follows the set's merged event stream and updates the member cards and the comparison table.
// The page is complete without this script. Model text only ever goes through textContent.
import { eventStream } from "./sse.js";

(function () {
  "use strict";
  var root = document.getElementById("persona-set");
  if (!root) { return; }
  var api = "/api/persona-sets/" + encodeURIComponent(root.getAttribute("data-set-id"));
  var status = root.getAttribute("data-status");
  var progressPanel = document.getElementById("set-progress");
  var progressBar = document.getElementById("set-progress-bar");
  var progressText = document.getElementById("set-progress-text");
  var refreshTimer = null;

  function $(sel, el) { return (el || document).querySelector(sel); }
  function $all(sel, el) { return Array.prototype.slice.call((el || document).querySelectorAll(sel)); }
  function card(id) { return $('[data-member="' + id + '"]'); }

  function setBadge(holder, value, label) {
    if (!holder) { return; }
    var badge = holder.querySelector(".badge") || document.createElement("span");
    badge.className = "badge badge--" + value;
    badge.textContent = label;
    if (!badge.parentNode) { holder.appendChild(badge); }
  }

  function sectionLabel(el, key) {
    var dd = $('[data-key-line="' + key + '"]', el);
    var dt = dd && dd.parentNode.querySelector("dt");
    return dt ? dt.textContent : "";
  }

  function updateCard(m) {
    var el = card(m.id);
    if (!el || m.status === "deleted") { return; }
    el.setAttribute("data-status", m.status);
    var name = $('[data-field="name"]', el);
    if (name) { name.textContent = m.name; }
    var ageGender = $('[data-field="age_gender"]', el);
    if (ageGender) { ageGender.textContent = m.age_label + "・" + m.gender_label; }
    var type = $('[data-field="patient_type_name"]', el);
    if (type) { type.textContent = m.patient_type_name || "患者タイプなし"; }
    setBadge($('[data-field="status"]', el), m.status, m.status_label);
    var progress = $('[data-field="progress"]', el);
    if (progress && (m.status === "done" || m.status === "failed")) { progress.textContent = ""; }
    $all("[data-key-line]", el).forEach(function (dd) {
      dd.textContent = (m.key_lines || {})[dd.getAttribute("data-key-line")] || "—";
    });
    if (m.image_url) { showPortrait(el, m.image_url); }
    var error = $('[data-field="error"]', el);
    if (error) {
      error.hidden = m.status !== "failed";
      if (m.status === "failed") { error.textContent = (m.error && m.error.message) || "生成に失敗しました。"; }
    }
    $all("[data-needs-done]", el).forEach(function (link) { link.hidden = m.status !== "done"; });
  }

  function showPortrait(el, url) {
    var img = $("[data-portrait]", el);
    if (!img || img.getAttribute("src") === url) { return; }
    img.onload = function () {
      img.hidden = false;
      var placeholder = $("[data-portrait-placeholder]", el);
      if (placeholder) { placeholder.hidden = true; }
    };
    img.src = url;
  }

  function renderTable(comparison) {
    var table = document.getElementById("set-compare");
    if (!table || !comparison) { return; }
    var headRow = document.createElement("tr");
    var corner = document.createElement("th");
    corner.scope = "col";
    corner.textContent = "項目";
    headRow.appendChild(corner);
    comparison.columns.forEach(function (c) {
      var th = document.createElement("th");
      th.scope = "col";
      th.textContent = c.name;
      headRow.appendChild(th);
    });
    var body = document.createElement("tbody");
    comparison.rows.forEach(function (row) {
      var tr = document.createElement("tr");
      var th = document.createElement("th");
      th.scope = "row";
      th.textContent = row.label;
      tr.appendChild(th);
      row.values.forEach(function (value) {
        var td = document.createElement("td");
        td.textContent = value || "—";
        tr.appendChild(td);
      });
      body.appendChild(tr);
    });
    table.tHead.replaceChildren(headRow);
    table.replaceChild(body, table.tBodies[0]);
  }

  function finish() {
    progressPanel.hidden = true;
    ["set-export-pdf", "set-export-pptx"].forEach(window.mpEnableLink);
    document.getElementById("set-export-note").hidden = true;
  }

  function render(data) {
    status = data.status;
    root.setAttribute("data-status", status);
    setBadge(document.getElementById("set-status"), status, data.status_label);
    progressBar.value = data.done_count;
    progressBar.textContent = data.done_count + "/" + data.count;
    data.personas.forEach(updateCard);
    renderTable(data.comparison);
    if (status === "queued" || status === "running") {
      progressText.textContent = data.count + "人を同時に生成しています（" + data.done_count + "人完成）…";
    } else {
      progressText.textContent = "生成が終わりました（" + data.done_count + "/" + data.count + "人完成）。";
      finish();
    }
  }

  function refresh() {
    window.mpFetch(api, { headers: { "Accept": "application/json" } }).then(function (response) {
      return response.ok ? response.json() : null;
    }).then(function (data) { if (data) { render(data); } }).catch(function () { /* the next event retries */ });
  }

  function scheduleRefresh() {
    if (refreshTimer) { return; }
    refreshTimer = window.setTimeout(function () { refreshTimer = null; refresh(); }, 300);
  }

  if (status !== "queued" && status !== "running") { return; }
  eventStream(api + "/events", {
    final: ["done"],
    events: {
      member: function (data) {
        var el = card(data.persona_id);
        if (el && data.event === "image" && data.status === "done" && data.url) { showPortrait(el, data.url); }
        if (el && data.event === "status" && data.status === "running") {
          setBadge($('[data-field="status"]', el), "running", "生成中");
        }
        scheduleRefresh();
      },
      progress: function (data) {
        var el = card(data.persona_id);
        var progress = el && $('[data-field="progress"]', el);
        var label = el && sectionLabel(el, data.section);
        if (progress && label) { progress.textContent = "「" + label + "」を生成中…"; }
      },
      done: function () { refresh(); }
    },
    onDrop: function () { progressText.textContent = "接続が途切れました。再接続しています…"; },
    onUnsupported: function () { progressText.textContent = "ページを再読み込みすると最新の状態を表示できます。"; }
  });
})();
