// The wizard's checks before each step and before sending, and the errors shown next to the fields and in the
// live alert (the API's field errors use the same display).
import {
  $all, LIMITS, STEP_COUNT, complaintDepartment, els, fieldLabel, fieldValue, form, radioValue
} from "./form.js";
import { extraRows } from "./rows.js";

// The step that holds a field (API error paths included).
export function stepOfField(field) {
  if (field === "department") { return 1; }
  if (field === "chief_complaint") { return 2; }
  if (field === "purpose") { return 3; }
  if (field === "setting_type" || field === "patient_type" || field.indexOf("profile") === 0) { return 4; }
  if (field.indexOf("extras") === 0 || field.indexOf("extra_fields") === 0) { return 5; }
  return 6;
}

export function validateStep(n) {
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

export function validateAll() {
  var errors = [];
  for (var n = 1; n < STEP_COUNT; n++) { errors = errors.concat(validateStep(n)); }
  return errors;
}

// ------------------------------------------------------------------------------------------ error display
function errorTarget(field) {
  var m = /^extra_fields\.(\d+)\.(name|value)$/.exec(field);
  if (m) {
    var row = $all("[data-extra-row]", els.rowsList).filter(function (r) {
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

function errorTargetLocal(field) {
  var m = /^extra_fields\.(\d+)\.(name|value)$/.exec(field);
  if (m) {
    var row = $all("[data-extra-row]", els.rowsList)[parseInt(m[1], 10)];
    if (!row) { return null; }
    return { box: row.querySelectorAll(".field-error")[m[2] === "name" ? 0 : 1],
             input: row.querySelector('input[name="extra_' + m[2] + '"]') };
  }
  return errorTarget(field);
}

export function clearErrors() {
  $all(".field-error").forEach(function (el) { el.textContent = ""; el.hidden = true; });
  $all('[aria-invalid="true"]').forEach(function (el) { el.removeAttribute("aria-invalid"); });
  els.alertBox.hidden = true;
  els.alertBox.textContent = "";
}

// Shows errors next to their fields and in the live alert; returns the first invalid input.
export function showErrors(errors, headline, rowsFromApi) {
  var alertBox = els.alertBox;
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

// An error goes away as soon as its field is fixed: next to the field, in the alert, and the alert itself
// when nothing is left in it.
export function clearFieldError(el) {
  var alertBox = els.alertBox;
  var name = el.name || "";
  if (!name) { return; }
  var field = name;
  if (name === "extra_name" || name === "extra_value") {
    var row = el.closest("[data-extra-row]");
    var box = row && row.querySelector('[data-error-role="' + name.slice(6) + '"]');
    if (box) { box.textContent = ""; box.hidden = true; }
    el.removeAttribute("aria-invalid");
    var index = $all("[data-extra-row]", els.rowsList).indexOf(row);
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
