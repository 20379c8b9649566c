// Competitor analysis pages: file import preview, JSON submit, live progress and SWOT streaming over SSE.
// Progressive enhancement: without JavaScript the form posts multipart to /competitors and the result page
// refreshes itself. Data is only ever written with textContent.
import { eventStream } from "./sse.js";

(function () {
  "use strict";

  function $(id) { return document.getElementById(id); }
  function show(el, on) { if (el) { el.hidden = !on; } }

  // ------------------------------------------------------------------------------------------ form page
  var form = $("comp-form");
  if (form) { initForm(form); }

  function initForm(form) {
    var alertBox = $("comp-alert");
    var status = $("comp-status");
    var submitBtn = $("comp-submit");
    var competitorRows = null; // rows of the imported competitor list
    var pendingImports = 0;
    Array.prototype.forEach.call(form.querySelectorAll("[data-js-only]"), function (el) { el.hidden = false; });

    function clearErrors() {
      Array.prototype.forEach.call(form.querySelectorAll("[data-error-for]"), function (el) {
        el.textContent = ""; el.hidden = true;
      });
      Array.prototype.forEach.call(form.querySelectorAll("[aria-invalid]"), function (el) { el.removeAttribute("aria-invalid"); });
      show(alertBox, false);
    }

    function fieldError(field, message) {
      // Nested fields (clinic.departments.0, population.age_bands.0-14, competitors.3.lat) fall back to their parent.
      var parts = String(field || "").split(".");
      while (parts.length) {
        var el = form.querySelector('[data-error-for="' + parts.join(".") + '"]');
        if (el) {
          el.textContent = el.textContent ? el.textContent + " " + message : message;
          el.hidden = false;
          var input = form.querySelector('[aria-describedby~="' + el.id + '"]');
          if (input) { input.setAttribute("aria-invalid", "true"); }
          return true;
        }
        parts.pop();
      }
      return false;
    }

    function showAlert(message) {
      alertBox.textContent = message;
      show(alertBox, true);
      alertBox.focus();
    }

    function value(name) {
      var el = form.elements[name];
      return el && typeof el.value === "string" ? el.value.trim() : "";
    }

    function importFile(input, kind, statusEl, onRows) {
      var file = input.files && input.files[0];
      if (!file) { return; }
      var data = new FormData();
      data.append("file", file);
      data.append("kind", kind);
      statusEl.textContent = "「" + file.name + "」を読み込んでいます…";
      pendingImports += 1;
      window.mpFetch("/api/competitors/import", { method: "POST", body: data, headers: { "Accept": "application/json" } })
        .then(function (r) { return r.json().catch(function () { return {}; }).then(function (b) { return { ok: r.ok, body: b }; }); })
        .then(function (res) {
          var body = res.body || {};
          if (!res.ok) {
            statusEl.textContent = (body.error && body.error.message) || "ファイルを読み込めませんでした。";
            onRows(null, body.errors || []);
            return;
          }
          onRows(body.rows || [], body.errors || []);
        })
        .catch(function () { statusEl.textContent = "ファイルを送信できませんでした。通信状態を確認してください。"; onRows(null, []); })
        .then(function () { pendingImports -= 1; });
    }

    function listErrors(errors) {
      var list = $("competitors-file-errors");
      while (list.firstChild) { list.removeChild(list.firstChild); }
      (errors || []).slice(0, 20).forEach(function (e) {
        var li = document.createElement("li");
        li.textContent = (e.line ? e.line + "行目：" : "") + (e.message || "");  // messages carry no line number
        list.appendChild(li);
      });
      if ((errors || []).length > 20) {
        var more = document.createElement("li");
        more.textContent = "ほか" + (errors.length - 20) + "件";
        list.appendChild(more);
      }
      show(list, (errors || []).length > 0);
    }

    var clinicFile = $("clinic-file");
    clinicFile.addEventListener("change", function () {
      var statusEl = $("clinic-file-status");
      importFile(clinicFile, "clinic", statusEl, function (rows) {
        if (!rows || !rows.length) { return; }
        var row = rows[0];
        ["name", "postal_code", "address", "lat", "lng", "strengths", "target"].forEach(function (key) {
          var el = form.elements["clinic." + key];
          if (el && row[key] !== undefined && row[key] !== null && row[key] !== "") { el.value = String(row[key]); }
        });
        var deps = row.departments || [];
        if (typeof deps === "string") { deps = deps.split(/[、,\/／・\s]+/); }
        Array.prototype.forEach.call(form.querySelectorAll('input[name="clinic.departments"]'), function (box) {
          var label = box.parentNode.textContent.trim();
          if (deps.indexOf(box.value) >= 0 || deps.indexOf(label) >= 0) { box.checked = true; }
        });
        statusEl.textContent = "自院の情報を読み込みました。内容を確認してください。";
      });
    });

    var compFile = $("competitors-file");
    compFile.addEventListener("change", function () {
      competitorRows = null;
      var statusEl = $("competitors-file-status");
      importFile(compFile, "competitors", statusEl, function (rows, errors) {
        listErrors(errors);
        if (!rows) { return; }
        competitorRows = rows;
        statusEl.textContent = rows.length + "件の競合医療機関を読み込みました" +
          ((errors || []).length ? "（" + errors.length + "行は読み込めませんでした）。" : "。");
      });
    });

    function buildBody() {
      var clinic = { name: value("clinic.name"), departments: [] };
      ["postal_code", "address", "strengths", "target"].forEach(function (key) {
        var v = value("clinic." + key);
        if (v) { clinic[key] = v; }
      });
      ["lat", "lng"].forEach(function (key) {
        var v = value("clinic." + key);
        if (v) { clinic[key] = isNaN(Number(v)) ? v : Number(v); }
      });
      Array.prototype.forEach.call(form.querySelectorAll('input[name="clinic.departments"]:checked'), function (box) {
        clinic.departments.push(box.value);
      });
      var radius = form.querySelector('input[name="radius_km"]:checked');
      var body = { clinic: clinic, radius_km: radius ? Number(radius.value) : 3 };
      var source = form.querySelector('input[name="source"]:checked') || form.querySelector('input[name="source"][type="hidden"]');
      if (source) { body.source = source.value; }
      if (competitorRows) { body.competitors = competitorRows; }
      var areaType = value("area_type");
      if (areaType) { body.area_type = areaType; }
      var population = {};
      if (value("population.area_code")) { population.area_code = value("population.area_code"); }
      if (value("population.area_name")) { population.area_name = value("population.area_name"); }
      var bands = {};
      var anyBand = false;
      Array.prototype.forEach.call(form.querySelectorAll("[data-age-band]"), function (el) {
        var v = el.value.trim();
        if (v) { anyBand = true; }
        bands[el.getAttribute("data-age-band")] = v === "" || isNaN(Number(v)) ? v : Number(v);
      });
      if (anyBand) { population.age_bands = bands; }
      if (Object.keys(population).length) { body.population = population; }
      return body;
    }

    // The same rules and messages as the API (competitors/schemas.py, service.missing_inputs).
    function localProblems(body) {
      var problems = [];
      var clinic = body.clinic;
      var places = form.getAttribute("data-places") === "true";
      if (!clinic.name) { problems.push(["clinic.name", "医院名を入力してください。"]); }
      if (!clinic.departments.length) { problems.push(["clinic.departments", "診療科を1つ以上選んでください。"]); }
      var lat = value("clinic.lat");
      var lng = value("clinic.lng");
      function bad(text, low, high) { var n = Number(text); return text !== "" && (isNaN(n) || n < low || n > high); }
      if (bad(lat, -90, 90)) { problems.push(["clinic.lat", "緯度は-90〜90の数値で入力してください（例: 35.681236）。"]); }
      if (bad(lng, -180, 180)) { problems.push(["clinic.lng", "経度は-180〜180の数値で入力してください（例: 139.767125）。"]); }
      if ((!lat || !lng) && (!places || !clinic.address)) {
        problems.push([places ? "clinic.address" : "clinic.lat", form.getAttribute("data-position-message")]);
      }
      if (body.source === "list" && !competitorRows) {
        problems.push(["competitors", "競合リスト（CSV・Excel）を選んで読み込んでください。"]);
      }
      return problems;
    }

    form.addEventListener("submit", function (event) {
      event.preventDefault();
      clearErrors();
      if (pendingImports > 0) { status.textContent = "ファイルの読み込みが終わるまでお待ちください。"; return; }
      var body = buildBody();
      // Everything the form can tell before sending, in one pass (the server checks the same again).
      var problems = localProblems(body);
      if (problems.length) {
        problems.forEach(function (p) { fieldError(p[0], p[1]); });
        showAlert("入力内容を確認してください（" + problems.length + "か所）。");
        return;
      }
      submitBtn.disabled = true;
      status.textContent = "分析を開始しています…";
      window.mpFetch("/api/competitors", {
        method: "POST",
        headers: { "Content-Type": "application/json", "Accept": "application/json" },
        body: JSON.stringify(body)
      })
        .then(function (r) { return r.json().catch(function () { return {}; }).then(function (b) { return { status: r.status, body: b }; }); })
        .then(function (res) {
          if (res.status === 202 && res.body.id) {
            status.textContent = "分析を開始しました。結果画面へ移動します…";
            window.location.assign("/competitors/" + encodeURIComponent(res.body.id));
            return;
          }
          submitBtn.disabled = false;
          status.textContent = "";
          var err = res.body.error || {};
          var unplaced = [];
          (err.fields || []).forEach(function (f) {
            if (!fieldError(f.field, f.message)) { unplaced.push(f.message); }
          });
          showAlert([err.message || "分析を開始できませんでした。"].concat(unplaced).join(" "));
        })
        .catch(function () {
          submitBtn.disabled = false;
          status.textContent = "";
          showAlert("サーバーに接続できませんでした。通信状態を確認して、もう一度お試しください。");
        });
    });
  }

  // ------------------------------------------------------------------------------------------ result page
  var root = $("comp-result");
  if (root) { initResult(root); }

  function initResult(root) {
    var id = root.getAttribute("data-analysis-id");
    var api = "/api/competitors/" + encodeURIComponent(id);
    var progressText = $("comp-progress-text");
    var source = null;
    var STATUS_LABELS = { queued: "待機中", running: "分析中", done: "完了", failed: "失敗" };

    function setStatus(value) {
      root.setAttribute("data-status", value);
      var badge = document.querySelector("#comp-status .badge");
      if (badge) { badge.className = "badge badge--" + value; badge.textContent = STATUS_LABELS[value] || value; }
    }

    function stepEl(key) { return document.querySelector('[data-step="' + key + '"]'); }
    function setStep(key, state, label) {
      var el = stepEl(key);
      if (!el) { return; }
      el.classList.remove("is-pending", "is-running", "is-done", "is-failed");
      el.classList.add("is-" + state);
      el.querySelector("[data-step-state]").textContent = label;
    }

    function swotKey(section) { return String(section || "").replace(/^(swot|strategies)\./, ""); }
    function cell(key) { return document.querySelector('[data-swot="' + swotKey(key) + '"]'); }

    function setText(key, text, offset) {
      var c = cell(key);
      if (!c) { return false; }
      var p = c.querySelector("[data-swot-text]");
      var current = p.textContent;
      if (typeof offset === "number" && offset < current.length) { current = current.slice(0, offset); }
      p.textContent = offset === undefined ? text : current + text;
      c.querySelector("[data-swot-placeholder]").hidden = p.textContent.length > 0;
      return true;
    }

    function onDone() {
      if (source) { source.close(); source = null; }
      setStatus("done");
      progressText.textContent = "分析が完了しました。結果を表示します…";
      // The table, the map and the numbers are rendered by the server: load them once.
      window.location.reload();
    }

    function onError(data) {
      if (source) { source.close(); source = null; }
      setStatus("failed");
      $("comp-failure-message").textContent = data.message || "分析中にエラーが発生しました。";
      show($("comp-failure"), true);
      show($("comp-progress"), false);
      Array.prototype.forEach.call(document.querySelectorAll("[data-swot-placeholder]:not([hidden])"), function (el) {
        el.textContent = "生成されませんでした。";
      });
      $("comp-failure").focus();
    }

    function onSection(d) {
      var key = d.section || d.key || d.name;
      if (!key) { return; }
      var step = stepEl(key) ? key : (cell(key) ? "swot" : "");
      if (typeof d.text === "string") { setText(key, d.text); }
      if (Array.isArray(d.items)) { setText(key, d.items.join("\n")); }
      if (step && step !== "swot") {
        setStep(step, "done", "完了");
        if (step === "competitors") {
          var img = $("comp-map");
          img.src = img.getAttribute("data-src") + "?t=" + Date.now();
          if (window.mpCompMap && window.mpCompMap.refresh) { window.mpCompMap.refresh(); }
        }
        var next = stepEl(step) && stepEl(step).nextElementSibling;
        if (next && next.classList.contains("is-pending")) { setStep(next.getAttribute("data-step"), "running", "実行中"); }
      }
      progressText.textContent = "分析中です…";
    }

    if (root.getAttribute("data-status") !== "queued" && root.getAttribute("data-status") !== "running") { return; }
    source = eventStream(api + "/events", {
      events: {
        status: function (d) {
          var value = d.status || d.state;
          if (value === "queued") { progressText.textContent = "分析の順番を待っています…"; }
          if (value === "running") {
            setStatus("running");
            progressText.textContent = "分析中です…";
            if (d.restart || (d.attempt && d.attempt > 1)) {
              Array.prototype.forEach.call(document.querySelectorAll("[data-swot-text]"), function (p) { p.textContent = ""; });
            }
            var first = document.querySelector("[data-step].is-pending");
            if (first) { setStep(first.getAttribute("data-step"), "running", "実行中"); }
          }
        },
        section: function (d) { onSection(d); },
        delta: function (d) {
          if (!d.section) { return; }
          if (setText(d.section, d.text || "", typeof d.offset === "number" ? d.offset : Infinity)) {
            setStep("swot", "running", "生成中");
            progressText.textContent = "SWOT分析と戦略を生成中です…";
          }
        },
        done: function () { onDone(); },
        error: function (d) { onError(d); }
      },
      onDrop: function () { progressText.textContent = "接続が途切れました。再接続しています…"; },
      onUnsupported: function () { progressText.textContent = "ページを再読み込みすると結果を表示できます。"; }
    });
  }
})();
