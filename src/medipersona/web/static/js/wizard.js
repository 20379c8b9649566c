// Persona wizard: turns the server-rendered form (/personas/new) into six steps.
// Progressive enhancement: without this script the form is one long page that posts to /personas/new.
// Never innerHTML with data: every text goes through textContent.
(function () {
  "use strict";
  var form = document.getElementById("wizard");
  if (!form) { return; }

  var STORE_KEY = "mp.wizard.v1";
  var STEP_COUNT = 6;
  var MAX_EXTRA_ROWS = 20;
  var LIMITS = { name: 50, text: 100, long: 200, extraName: 50, extraValue: 200 };
  var steps = Array.prototype.slice.call(form.querySelectorAll(".wizard-step"));
  var alertBox = document.getElementById("wizard-alert");
  var nav = document.getElementById("wizard-nav");
  var prevBtn = form.querySelector("[data-wizard-prev]");
  var nextBtn = form.querySelector("[data-wizard-next]");
  var posLabel = document.getElementById("wizard-pos");
  var submitBtn = document.getElementById("wizard-submit");
  var rowsList = document.getElementById("extra-rows");
  var rowTemplate = document.getElementById("extra-row-template");
  var addRowBtn = document.getElementById("add-extra-row");
  var rowsStatus = document.getElementById("extra-rows-status");
  var summary = document.getElementById("confirm-summary");
  var stepper = document.getElementById("wizard-stepper");
  var current = 1;
  var maxReached = 1;
  var rowCounter = 1000;
  var submitting = false;

  form.classList.add("is-enhanced");
  Array.prototype.forEach.call(document.querySelectorAll("[data-js-only]"), function (el) {
    el.hidden = false; el.classList.remove("hidden");
  });
  Array.prototype.forEach.call(document.querySelectorAll("[data-no-js-note]"), function (el) { el.hidden = true; });
  nav.hidden = false;
  addRowBtn.hidden = false;
  // On the last step the submit button sits in the sticky bar (on a phone the summary is long); the no-JavaScript
  // page keeps it under the summary.
  nav.appendChild(submitBtn);
  submitBtn.classList.add("wizard-nav__submit");

  // ------------------------------------------------------------------------------------------ small helpers
  function $(selector, root) { return (root || form).querySelector(selector); }
  function $all(selector, root) { return Array.prototype.slice.call((root || form).querySelectorAll(selector)); }
  function radioValue(name) {
    var el = form.querySelector('input[type="radio"][name="' + name + '"]:checked');
    return el ? el.value : "";
  }
  function fieldValue(name) {
    var el = form.elements.namedItem(name);
    if (!el) { return ""; }
    if (el instanceof RadioNodeList || (el.length !== undefined && !el.tagName)) { return radioValue(name); }
    if (el.type === "radio") { return el.checked ? el.value : ""; }
    return (el.value || "").trim();
  }
  function labelOfRadio(name) {
    var el = form.querySelector('input[type="radio"][name="' + name + '"]:checked');
    if (!el) { return ""; }
    var title = el.parentNode.querySelector(".tile__title");
    return (title ? title.textContent : el.parentNode.textContent).trim();
  }
  function optionLabel(name) {
    var el = form.elements.namedItem(name);
    if (!el || el.tagName !== "SELECT" || !el.value) { return ""; }
    return el.options[el.selectedIndex].textContent.trim();
  }
  function fieldLabel(el) {
    if (!el) { return ""; }
    if (el.id) {
      var label = document.querySelector('label[for="' + el.id + '"]');
      if (label) { return label.textContent.trim(); }
    }
    var fs = el.closest("fieldset");
    var legend = fs && fs.querySelector("legend");
    return legend ? legend.firstChild.textContent.trim() : "";
  }

  // ------------------------------------------------------------------------------------------ steps
  function stepOfField(field) {
    if (field === "department") { return 1; }
    if (field === "chief_complaint") { return 2; }
    if (field === "purpose") { return 3; }
    if (field === "setting_type" || field === "patient_type" || field.indexOf("profile") === 0) { return 4; }
    if (field.indexOf("extras") === 0 || field.indexOf("extra_fields") === 0) { return 5; }
    return 6;
  }

  function updateStepper() {
    $all("[data-stepper]", stepper).forEach(function (li) {
      var n = parseInt(li.getAttribute("data-stepper"), 10);
      var link = li.querySelector("a");
      li.classList.toggle("is-current", n === current);
      li.classList.toggle("is-done", n < current || n <= maxReached && n !== current);
      li.classList.toggle("is-locked", n > maxReached);
      if (n === current) { link.setAttribute("aria-current", "step"); } else { link.removeAttribute("aria-current"); }
      // Locked steps are not in the Tab order (they cannot be opened yet).
      if (n > maxReached) { link.setAttribute("aria-disabled", "true"); link.tabIndex = -1; } else {
        link.removeAttribute("aria-disabled"); link.removeAttribute("tabindex");
      }
    });
  }

  function showStep(n, moveFocus) {
    current = Math.max(1, Math.min(STEP_COUNT, n));
    if (current > maxReached) { maxReached = current; }
    steps.forEach(function (section) {
      section.hidden = parseInt(section.getAttribute("data-step"), 10) !== current;
    });
    prevBtn.hidden = current === 1;
    nextBtn.hidden = current === STEP_COUNT;
    submitBtn.hidden = current !== STEP_COUNT;
    posLabel.textContent = current + " / " + STEP_COUNT;
    if (current === 2) { syncComplaints(); }
    if (current === 4) { syncMode(); }
    if (current === STEP_COUNT) { buildSummary(); }
    updateStepper();
    save();
    if (moveFocus) {
      var heading = document.getElementById("step-" + current + "-title");
      if (heading) { heading.focus(); }
      if (window.scrollY > heading.getBoundingClientRect().top + window.scrollY - 16) {
        heading.scrollIntoView({ block: "start" });
      }
    }
  }

  // ------------------------------------------------------------------------------------------ dependent parts
  function complaintDepartment(radio) {
    var group = radio.closest(".complaint-group");
    return group ? group.getAttribute("data-department") : "";
  }

  function syncComplaints() {
    var dep = radioValue("department");
    var any = false;
    $all(".complaint-group").forEach(function (group) {
      var show = group.getAttribute("data-department") === dep;
      group.hidden = !show;
      if (show) { any = true; }
    });
    var note = $("[data-no-department]");
    note.hidden = any; note.classList.toggle("hidden", any);
    var chosen = form.querySelector('input[name="chief_complaint"]:checked');
    if (chosen && complaintDepartment(chosen) !== dep) { chosen.checked = false; }
    var out = $('[data-summary="department-name"]');
    if (out) { out.textContent = labelOfRadio("department") || "未選択"; }
  }

  function syncMode() {
    var mode = radioValue("setting_type") || "patient_type";
    $all("[data-mode-panel]").forEach(function (panel) {
      panel.hidden = panel.getAttribute("data-mode-panel") !== mode;
    });
  }

  function syncMonths() {
    var age = form.elements.namedItem("profile.age");
    var months = form.elements.namedItem("profile.age_months");
    if (age.value === "100") { months.value = "0"; months.disabled = true; } else { months.disabled = false; }
  }

  // Names compared as the server does (NFKC: full/half width, no spaces, case-folded).
  function nameKey(text) {
    var t = String(text || "");
    if (t.normalize) { t = t.normalize("NFKC"); }
    return t.replace(/[\s\u3000]+/g, "").toLowerCase();
  }

  function filterTiles(input) {
    var kind = input.getAttribute("data-filter-target");
    var needle = nameKey(input.value);
    var tiles = kind === "complaint" ? $all(".complaint-group label.tile") : $all('[data-filter-item="' + kind + '"]');
    var dep = radioValue("department");
    var shown = 0;
    tiles.forEach(function (tile) {
      var title = tile.querySelector(".tile__title");
      var match = !needle || nameKey(title ? title.textContent : "").indexOf(needle) !== -1;
      tile.hidden = !match;
      if (match && (kind !== "complaint" || complaintDepartment(tile.querySelector("input")) === dep)) { shown += 1; }
    });
    if (kind === "complaint") {
      var none = $("[data-no-match]");
      if (none) { var hide = shown > 0 || !dep; none.hidden = hide; none.classList.toggle("hidden", hide); }
    }
  }
  $all("[data-filter-target]").forEach(function (input) {
    input.addEventListener("input", function () { filterTiles(input); });
    // The filter boxes are not form data.
    input.removeAttribute("name");
  });

  // ------------------------------------------------------------------------------------------ free rows
  function renumberRows() {
    var rows = $all("[data-extra-row]", rowsList);
    rows.forEach(function (row, i) {
      var label = "自由項目" + (i + 1);
      row.setAttribute("aria-label", label);
      var remove = row.querySelector("[data-remove-row]");
      remove.hidden = false;
      remove.setAttribute("aria-label", label + "を削除");
    });
    addRowBtn.disabled = rows.length >= MAX_EXTRA_ROWS;
  }

  function addRow(name, value, focus) {
    var rows = $all("[data-extra-row]", rowsList);
    if (rows.length >= MAX_EXTRA_ROWS) { return null; }
    var frag = rowTemplate.content.cloneNode(true);
    var row = frag.querySelector("[data-extra-row]");
    rowCounter += 1;
    ["name", "value"].forEach(function (part) {
      var input = row.querySelector('input[name="extra_' + part + '"]');
      var label = row.querySelector('label[data-for="' + part + '"]');
      var error = row.querySelector('[data-error-role="' + part + '"]');
      input.id = "extra-" + part + "-" + rowCounter;
      label.setAttribute("for", input.id);
      error.id = "err-extra-" + part + "-" + rowCounter;
      input.setAttribute("aria-describedby", error.id);
    });
    row.querySelector('input[name="extra_name"]').value = name || "";
    row.querySelector('input[name="extra_value"]').value = value || "";
    rowsList.appendChild(row);
    renumberRows();
    if (focus) { row.querySelector('input[name="extra_name"]').focus(); }
    return row;
  }

  addRowBtn.addEventListener("click", function () {
    if (addRow("", "", true)) {
      rowsStatus.textContent = "自由項目を追加しました（" + $all("[data-extra-row]", rowsList).length + "件）。";
      save();
    }
  });
  rowsList.addEventListener("click", function (event) {
    var btn = event.target.closest("[data-remove-row]");
    if (!btn) { return; }
    var row = btn.closest("[data-extra-row]");
    var rows = $all("[data-extra-row]", rowsList);
    var index = rows.indexOf(row);
    row.parentNode.removeChild(row);
    if (!$all("[data-extra-row]", rowsList).length) { addRow("", "", false); }
    renumberRows();
    rows = $all("[data-extra-row]", rowsList);
    var next = rows[Math.min(index, rows.length - 1)];
    if (next) { next.querySelector('input[name="extra_name"]').focus(); }
    rowsStatus.textContent = "自由項目を削除しました（残り" + rows.length + "件）。";
    save();
  });

  function extraRows() {
    return $all("[data-extra-row]", rowsList).map(function (row) {
      return {
        row: row,
        name: row.querySelector('input[name="extra_name"]').value.trim(),
        value: row.querySelector('input[name="extra_value"]').value.trim()
      };
    });
  }

  // The profile fields in page order, as the server rendered them from the catalog labels.
  function profileNames() {
    var names = [];
    $all('[name^="profile."]').forEach(function (el) {
      if (names.indexOf(el.name) === -1) { names.push(el.name); }
    });
    return names;
  }

  function profileDisplay(name) {
    var el = form.elements.namedItem(name);
    if (!el) { return ""; }
    if (!el.tagName || el.type === "radio") {
      var checked = form.querySelector('input[name="' + name + '"]:checked');
      return checked && checked.value ? checked.parentNode.textContent.trim() : "";
    }
    if (el.tagName === "SELECT") { return optionLabel(name); }
    return (el.value || "").trim();
  }

  // ------------------------------------------------------------------------------------------ request body
  // Mirrors pages.form_to_request (the no-JavaScript path) and the API schema of POST /api/personas.
  function collect() {
    var body = {
      department: radioValue("department"),
      chief_complaint: radioValue("chief_complaint"),
      purpose: radioValue("purpose"),
      setting_type: radioValue("setting_type") || "auto"
    };
    if (body.setting_type === "patient_type" && radioValue("patient_type")) {
      body.patient_type = radioValue("patient_type");
    }
    if (body.setting_type === "input") {
      var profile = {};
      profileNames().forEach(function (name) {
        var key = name.slice(8);
        if (key === "age" || key === "age_months") { return; }
        var value = fieldValue(name);
        if (value) { profile[key] = value; }
      });
      var age = fieldValue("profile.age");
      if (age !== "") {
        profile.age = parseInt(age, 10);
        var months = parseInt(fieldValue("profile.age_months") || "0", 10);
        if (months) { profile.age_months = months; }
      }
      if (Object.keys(profile).length) { body.profile = profile; }
    }
    var extras = {};
    $all('input[name^="extras."]').forEach(function (input) {
      var value = input.value.trim();
      if (value) { extras[input.name.slice(7)] = value; }
    });
    if (Object.keys(extras).length) { body.extras = extras; }
    var rows = extraRows().filter(function (r) { return r.name || r.value; })
      .map(function (r) { return { name: r.name, value: r.value }; });
    if (rows.length) { body.extra_fields = rows; }
    return body;
  }

  // ------------------------------------------------------------------------------------------ validation
  function validateStep(n) {
    var errors = [];
    function need(field, message) { if (!radioValue(field)) { errors.push({ field: field, message: message }); } }
    function maxLen(field, limit) {
      var v = fieldValue(field);
      if (v.length > limit) { errors.push({ field: field, message: limit + "文字以内で入力してください。" }); }
    }
    if (n === 1) { need("department", "診療科を選んでください。"); }
    if (n === 2) {
      need("chief_complaint", "主訴を選んでください。");
      var chosen = form.querySelector('input[name="chief_complaint"]:checked');
      if (chosen && complaintDepartment(chosen) !== radioValue("department")) {
        errors.push({ field: "chief_complaint", message: "選んだ診療科の主訴を選んでください。" });
      }
    }
    if (n === 3) { need("purpose", "作成目的を選んでください。"); }
    if (n === 4) {
      need("setting_type", "設定方法を選んでください。");
      var mode = radioValue("setting_type");
      if (mode === "patient_type") { need("patient_type", "患者タイプを選んでください。"); }
      if (mode === "input") {
        maxLen("profile.name", LIMITS.name);
        ["municipality", "family", "occupation"].forEach(function (k) { maxLen("profile." + k, LIMITS.text); });
        ["hobby", "life_events"].forEach(function (k) { maxLen("profile." + k, LIMITS.long); });
        var age = fieldValue("profile.age");
        var months = parseInt(fieldValue("profile.age_months") || "0", 10);
        if (age !== "") {
          var years = parseInt(age, 10);
          if (isNaN(years) || years < 0 || years > 100 || (years === 100 && months > 0)) {
            errors.push({ field: "profile.age", message: "年齢は0歳0ヶ月〜100歳の範囲で指定してください。" });
          }
          var income = fieldValue("profile.income");
          if (years < 15 && income && income !== "none") {
            errors.push({ field: "profile.income", message: "15歳未満の場合、年収は「収入なし」を選ぶか空欄にしてください。" });
          }
        }
      }
    }
    if (n === 5) {
      $all('input[name^="extras."]').forEach(function (input) { maxLen(input.name, LIMITS.long); });
      extraRows().forEach(function (r, i) {
        if (r.value && !r.name) { errors.push({ field: "extra_fields." + i + ".name", message: "項目名を入力してください。" }); }
        if (r.name.length > LIMITS.extraName) {
          errors.push({ field: "extra_fields." + i + ".name", message: LIMITS.extraName + "文字以内で入力してください。" });
        }
        if (r.value.length > LIMITS.extraValue) {
          errors.push({ field: "extra_fields." + i + ".value", message: LIMITS.extraValue + "文字以内で入力してください。" });
        }
      });
    }
    return errors;
  }

  function validateAll() {
    var errors = [];
    for (var n = 1; n < STEP_COUNT; n++) { errors = errors.concat(validateStep(n)); }
    return errors;
  }

  // ------------------------------------------------------------------------------------------ error display
  function errorTarget(field) {
    var m = /^extra_fields\.(\d+)\.(name|value)$/.exec(field);
    if (m) {
      var row = $all("[data-extra-row]", rowsList).filter(function (r) {
        return r.querySelector('input[name="extra_name"]').value.trim() || r.querySelector('input[name="extra_value"]').value.trim();
      })[parseInt(m[1], 10)];
      // Validation before submit numbers every row; API numbers only the rows sent.
      return row ? { box: row.querySelector('[data-error-role="' + m[2] + '"]') || row.querySelectorAll(".field-error")[m[2] === "name" ? 0 : 1],
                     input: row.querySelector('input[name="extra_' + m[2] + '"]') } : null;
    }
    var box = form.querySelector('[data-error-for="' + field + '"]');
    var input = form.elements.namedItem(field);
    if (input && input.length !== undefined && !input.tagName) {
      // A radio group: the chosen radio, else the first one on screen (other departments' are hidden).
      var radios = Array.prototype.slice.call(input);
      input = radios.filter(function (r) { return r.checked; })[0] ||
        radios.filter(function (r) { return !r.closest("[hidden]"); })[0] || radios[0];
    }
    if (!box && field.indexOf(".") !== -1) { return errorTarget(field.split(".").slice(0, -1).join(".")); }
    return box ? { box: box, input: input } : null;
  }

  function clearErrors() {
    $all(".field-error").forEach(function (el) { el.textContent = ""; el.hidden = true; });
    $all('[aria-invalid="true"]').forEach(function (el) { el.removeAttribute("aria-invalid"); });
    alertBox.hidden = true;
    alertBox.textContent = "";
  }

  // Shows errors next to their fields and in the live alert; returns the first invalid input.
  function showErrors(errors, headline, rowsFromApi) {
    clearErrors();
    var first = null;
    var list = document.createElement("ul");
    list.className = "error-list";
    errors.forEach(function (err) {
      var target = rowsFromApi ? errorTarget(err.field) : errorTargetLocal(err.field);
      if (target && target.box) {
        target.box.textContent = err.message;
        target.box.hidden = false;
      }
      if (target && target.input) {
        if (target.input.setAttribute) { target.input.setAttribute("aria-invalid", "true"); }
        if (!first) { first = { input: target.input, field: err.field }; }
      } else if (!first) {
        first = { input: null, field: err.field };
      }
      var li = document.createElement("li");
      var label = target && target.input ? fieldLabel(target.input) : "";
      // 「診療科を選んでください。」 already names its field: no 「診療科：」 in front of it.
      li.textContent = (label && err.message.indexOf(label) === -1 ? label + "：" : "") + err.message;
      li.setAttribute("data-error-item", err.field);
      list.appendChild(li);
    });
    var head = document.createElement("p");
    head.textContent = headline || "入力内容を確認してください。";
    alertBox.appendChild(head);
    if (errors.length) { alertBox.appendChild(list); }
    alertBox.hidden = false;
    return first;
  }

  function errorTargetLocal(field) {
    var m = /^extra_fields\.(\d+)\.(name|value)$/.exec(field);
    if (m) {
      var row = $all("[data-extra-row]", rowsList)[parseInt(m[1], 10)];
      if (!row) { return null; }
      return { box: row.querySelectorAll(".field-error")[m[2] === "name" ? 0 : 1],
               input: row.querySelector('input[name="extra_' + m[2] + '"]') };
    }
    return errorTarget(field);
  }

  function focusFirst(first) {
    if (!first) { return; }
    var step = stepOfField(first.field);
    if (step !== current) { showStep(step, false); }
    if (first.input && first.input.focus) { first.input.focus(); } else { alertBox.focus(); }
  }

  // ------------------------------------------------------------------------------------------ summary
  function addSummaryGroup(step, title, rows) {
    var group = document.createElement("section");
    group.className = "confirm__group";
    var head = document.createElement("div");
    head.className = "confirm__head";
    var h = document.createElement("h3");
    h.textContent = title;
    var edit = document.createElement("button");
    edit.type = "button";
    edit.className = "btn btn--small";
    edit.textContent = "編集";
    edit.setAttribute("aria-label", title + "を編集");
    edit.setAttribute("data-goto-step", String(step));
    head.appendChild(h);
    head.appendChild(edit);
    group.appendChild(head);
    var dl = document.createElement("dl");
    dl.className = "confirm__list";
    rows.forEach(function (row) {
      var dt = document.createElement("dt");
      dt.textContent = row[0];
      var dd = document.createElement("dd");
      dd.textContent = row[1] || "自動で設定";
      if (!row[1]) { dd.className = "muted"; }
      dl.appendChild(dt);
      dl.appendChild(dd);
    });
    group.appendChild(dl);
    summary.appendChild(group);
  }

  function buildSummary() {
    while (summary.firstChild) { summary.removeChild(summary.firstChild); }
    addSummaryGroup(1, "診療科", [["診療科", labelOfRadio("department") || "未選択"]]);
    addSummaryGroup(2, "主訴", [["主訴", labelOfRadio("chief_complaint") || "未選択"]]);
    addSummaryGroup(3, "作成目的", [["作成目的", labelOfRadio("purpose") || "未選択"]]);
    var mode = radioValue("setting_type");
    var rows = [["設定方法", labelOfRadio("setting_type")]];
    if (mode === "patient_type") { rows.push(["患者タイプ", labelOfRadio("patient_type") || "未選択"]); }
    if (mode === "input") {
      var age = fieldValue("profile.age");
      var months = parseInt(fieldValue("profile.age_months") || "0", 10);
      profileNames().forEach(function (name) {
        if (name === "profile.age_months") { return; }
        var fs = form.querySelector('[data-field="' + name + '"]');
        var legend = fs && fs.querySelector("legend");
        var label = name === "profile.age" ? "年齢" :
          (legend ? legend.firstChild.textContent.trim() : fieldLabel(form.elements.namedItem(name)));
        var value = name === "profile.age" ? (age === "" ? "" : age + "歳" + (months ? months + "ヶ月" : "")) :
          profileDisplay(name);
        rows.push([label, value]);
      });
    }
    addSummaryGroup(4, "ペルソナの項目", rows);
    var extraRowsOut = $all('input[name^="extras."]').map(function (input) {
      return [fieldLabel(input), input.value.trim()];
    });
    extraRows().forEach(function (r) { if (r.name || r.value) { extraRowsOut.push([r.name || "（項目名なし）", r.value]); } });
    addSummaryGroup(5, "追加項目", extraRowsOut);
    checkWarnings();
  }

  // Contradictions in what was typed (POST /api/personas/check): shown as warnings; creating stays possible.
  var warnBox = document.getElementById("confirm-warnings");
  function checkWarnings() {
    if (!warnBox || !window.mpPostJson) { return; }
    warnBox.hidden = true;
    window.mpPostJson("/api/personas/check", collect()).then(function (result) {
      var list = (result.status === 200 && result.data && result.data.warnings) || [];
      var ul = warnBox.querySelector("ul");
      while (ul.firstChild) { ul.removeChild(ul.firstChild); }
      list.forEach(function (w) { var li = document.createElement("li"); li.textContent = w.message; ul.appendChild(li); });
      warnBox.hidden = list.length === 0;
    }).catch(function () { /* warnings are advisory */ });
  }

  summary.addEventListener("click", function (event) {
    var btn = event.target.closest("[data-goto-step]");
    if (btn) { showStep(parseInt(btn.getAttribute("data-goto-step"), 10), true); }
  });

  // ------------------------------------------------------------------------------------------ persistence
  function snapshot() {
    var data = { fields: {}, rows: [], step: current, maxReached: maxReached };
    $all("input, select, textarea").forEach(function (el) {
      if (!el.name || el.name === "csrf_token" || el.name === "extra_name" || el.name === "extra_value") { return; }
      if (el.type === "radio") { if (el.checked) { data.fields[el.name] = el.value; } return; }
      data.fields[el.name] = el.value;
    });
    data.rows = extraRows().map(function (r) { return [r.name, r.value]; });
    return data;
  }

  function save() {
    try { window.sessionStorage.setItem(STORE_KEY, JSON.stringify(snapshot())); } catch (e) { /* storage off */ }
  }

  function restore() {
    var raw = null;
    try { raw = window.sessionStorage.getItem(STORE_KEY); } catch (e) { return false; }
    if (!raw) { return false; }
    var data;
    try { data = JSON.parse(raw); } catch (e) { return false; }
    if (!data || typeof data.fields !== "object") { return false; }
    Object.keys(data.fields).forEach(function (name) {
      var value = String(data.fields[name]);
      var radios = $all('input[type="radio"][name="' + name.replace(/"/g, "") + '"]');
      if (radios.length) {
        radios.forEach(function (r) { r.checked = r.value === value; });
        return;
      }
      var el = form.elements.namedItem(name);
      if (el && el.tagName) { el.value = value; }
    });
    if (Array.isArray(data.rows)) {
      $all("[data-extra-row]", rowsList).forEach(function (row) { row.parentNode.removeChild(row); });
      data.rows.forEach(function (r) { addRow(String(r[0] || ""), String(r[1] || ""), false); });
      if (!data.rows.length) { addRow("", "", false); }
    }
    maxReached = Math.max(1, Math.min(STEP_COUNT, parseInt(data.maxReached, 10) || 1));
    current = Math.max(1, Math.min(maxReached, parseInt(data.step, 10) || 1));
    return true;
  }

  // An error goes away as soon as its field is fixed: next to the field, in the alert, and the alert itself
  // when nothing is left in it.
  function clearFieldError(el) {
    var name = el.name || "";
    if (!name) { return; }
    var field = name;
    if (name === "extra_name" || name === "extra_value") {
      var row = el.closest("[data-extra-row]");
      var box = row && row.querySelector('[data-error-role="' + name.slice(6) + '"]');
      if (box) { box.textContent = ""; box.hidden = true; }
      el.removeAttribute("aria-invalid");
      var index = $all("[data-extra-row]", rowsList).indexOf(row);
      field = "extra_fields." + index + "." + name.slice(6);
    } else {
      var fieldBox = form.querySelector('[data-error-for="' + name + '"]');
      if (fieldBox) { fieldBox.textContent = ""; fieldBox.hidden = true; }
      $all('[name="' + name + '"][aria-invalid]').forEach(function (input) { input.removeAttribute("aria-invalid"); });
    }
    $all("[data-error-item]", alertBox).forEach(function (li) {
      if (li.getAttribute("data-error-item") === field) { li.parentNode.removeChild(li); }
    });
    var left = alertBox.querySelectorAll("[data-error-item]").length;
    if (!left && alertBox.querySelector(".error-list")) { alertBox.hidden = true; alertBox.textContent = ""; }
  }

  // ------------------------------------------------------------------------------------------ events
  form.addEventListener("input", function (event) {
    clearFieldError(event.target);
    save();
  });
  form.addEventListener("change", function (event) {
    clearFieldError(event.target);
    var name = event.target.name;
    if (name === "department") { syncComplaints(); }
    if (name === "setting_type") { syncMode(); }
    if (name === "profile.age") { syncMonths(); }
    save();
  });

  nextBtn.addEventListener("click", function () {
    var errors = validateStep(current);
    if (errors.length) { focusFirst(showErrors(errors)); return; }
    clearErrors();
    showStep(current + 1, true);
  });
  prevBtn.addEventListener("click", function () {
    clearErrors();
    showStep(current - 1, true);
  });
  stepper.addEventListener("click", function (event) {
    var link = event.target.closest("a");
    if (!link) { return; }
    event.preventDefault();
    var n = parseInt(link.parentNode.getAttribute("data-stepper"), 10);
    if (n <= maxReached) { clearErrors(); showStep(n, true); }
  });

  form.addEventListener("submit", function (event) {
    event.preventDefault();
    if (submitting) { return; }
    if (current < STEP_COUNT) { nextBtn.click(); return; }
    var errors = validateAll();
    if (errors.length) { focusFirst(showErrors(errors)); return; }
    clearErrors();
    // 「まとめて作成する」 creates a persona set (POST /api/persona-sets) with the same inputs.
    var batch = !!(event.submitter && event.submitter.hasAttribute("data-batch-submit"));
    var button = batch ? event.submitter : submitBtn;
    var buttonText = button.textContent;
    var body = collect();
    if (batch) {
      body.count = parseInt(document.getElementById("set-count").value, 10);
      body.vary = document.getElementById("set-vary").value;
    }
    submitting = true;
    button.disabled = true;
    button.textContent = "送信中…";
    form.setAttribute("aria-busy", "true");
    window.mpPostJson(batch ? "/api/persona-sets" : "/api/personas", body).then(function (result) {
      if (result.status === 202 || result.status === 201 || result.status === 200) {
        try { window.sessionStorage.removeItem(STORE_KEY); } catch (e) { /* ignore */ }
        window.location.assign((batch ? "/persona-sets/" : "/personas/") + encodeURIComponent(result.data.id));
        return;
      }
      var err = (result.data && result.data.error) || {};
      if (result.status === 401) {
        showErrors([], "ログインの有効期限が切れました。入力内容は保存されています。再度ログインしてからもう一度お試しください。");
      } else {
        focusFirst(showErrors(err.fields || [], err.message || "ペルソナの作成を開始できませんでした。", true));
        if (!(err.fields || []).length) { alertBox.focus(); }
      }
      done();
    }).catch(function () {
      showErrors([], "通信に失敗しました。ネットワーク接続を確認して、もう一度お試しください。");
      alertBox.focus();
      done();
    });
    function done() {
      submitting = false;
      button.disabled = false;
      button.textContent = buttonText;
      form.removeAttribute("aria-busy");
    }
  });

  var resetBtn = document.getElementById("wizard-reset");
  resetBtn.hidden = false;
  resetBtn.addEventListener("click", function () {
    if (!window.confirm("入力した内容をすべて消して、最初からやり直します。よろしいですか？")) { return; }
    try { window.sessionStorage.removeItem(STORE_KEY); } catch (e) { /* ignore */ }
    var params = new URLSearchParams(window.location.search);
    params.delete("source");
    var query = params.toString();
    window.location.assign(window.location.pathname + (query ? "?" + query : ""));
  });

  // ------------------------------------------------------------------------------------------ start
  alertBox.setAttribute("tabindex", "-1");
  var prefilled = form.getAttribute("data-prefilled") === "true";
  if (prefilled) {
    try { window.sessionStorage.removeItem(STORE_KEY); } catch (e) { /* ignore */ }
    maxReached = STEP_COUNT;
  } else {
    restore();
  }
  renumberRows();
  syncComplaints();
  syncMode();
  syncMonths();
  showStep(prefilled ? (alertBox.hidden ? STEP_COUNT : 1) : current, false);
  if (!alertBox.hidden && prefilled) {
    var firstInvalid = form.querySelector('[aria-invalid="true"]');
    if (firstInvalid) {
      var f = firstInvalid.name || "";
      showStep(stepOfField(f), false);
      firstInvalid.focus();
    }
  }
})();
