// Persona wizard: turns the server-rendered form (/personas/new) into six steps.
// Progressive enhancement: without this script the form is one long page that posts to /personas/new.
// Never innerHTML with data: every text goes through textContent.
// ES modules, no build step: this file wires the events and starts the wizard; the parts are under wizard/:
// form.js (the form, its state and field readers), steps.js (steps, stepper, dependent parts), rows.js (free rows),
// validation.js (checks and error display), summary.js (last step), request.js (the API body), draft.js
// (sessionStorage).
import { forget, restore, save } from "./wizard/draft.js";
import { STEP_COUNT, els, form, state } from "./wizard/form.js";
import { collect } from "./wizard/request.js";
import { bindRows, renumberRows } from "./wizard/rows.js";
import { bindFilters, focusFirst, showStep, syncComplaints, syncMode, syncMonths } from "./wizard/steps.js";
import { bindSummary } from "./wizard/summary.js";
import { clearErrors, clearFieldError, showErrors, stepOfField, validateAll, validateStep } from "./wizard/validation.js";

function enhance() {
  var alertBox = els.alertBox;
  var nav = els.nav;
  var prevBtn = els.prevBtn;
  var nextBtn = els.nextBtn;
  var submitBtn = els.submitBtn;
  var submitting = false;

  form.classList.add("is-enhanced");
  Array.prototype.forEach.call(document.querySelectorAll("[data-js-only]"), function (el) {
    el.hidden = false; el.classList.remove("hidden");
  });
  Array.prototype.forEach.call(document.querySelectorAll("[data-no-js-note]"), function (el) { el.hidden = true; });
  nav.hidden = false;
  els.addRowBtn.hidden = false;
  // On the last step the submit button sits in the sticky bar (on a phone the summary is long); the no-JavaScript
  // page keeps it under the summary.
  nav.appendChild(submitBtn);
  submitBtn.classList.add("wizard-nav__submit");

  bindFilters();
  bindRows(save);
  bindSummary(function (step) { showStep(step, true); });

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
    var errors = validateStep(state.current);
    if (errors.length) { focusFirst(showErrors(errors)); return; }
    clearErrors();
    showStep(state.current + 1, true);
  });
  prevBtn.addEventListener("click", function () {
    clearErrors();
    showStep(state.current - 1, true);
  });
  els.stepper.addEventListener("click", function (event) {
    var link = event.target.closest("a");
    if (!link) { return; }
    event.preventDefault();
    var n = parseInt(link.parentNode.getAttribute("data-stepper"), 10);
    if (n <= state.maxReached) { clearErrors(); showStep(n, true); }
  });

  form.addEventListener("submit", function (event) {
    event.preventDefault();
    if (submitting) { return; }
    if (state.current < STEP_COUNT) { nextBtn.click(); return; }
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
        forget();
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
    forget();
    var params = new URLSearchParams(window.location.search);
    params.delete("source");
    var query = params.toString();
    window.location.assign(window.location.pathname + (query ? "?" + query : ""));
  });

  // ------------------------------------------------------------------------------------------ start
  alertBox.setAttribute("tabindex", "-1");
  var prefilled = form.getAttribute("data-prefilled") === "true";
  if (prefilled) {
    forget();
    state.maxReached = STEP_COUNT;
  } else {
    restore();
  }
  renumberRows();
  syncComplaints();
  syncMode();
  syncMonths();
  showStep(prefilled ? (alertBox.hidden ? STEP_COUNT : 1) : state.current, false);
  if (!alertBox.hidden && prefilled) {
    var firstInvalid = form.querySelector('[aria-invalid="true"]');
    if (firstInvalid) {
      var f = firstInvalid.name || "";
      showStep(stepOfField(f), false);
      firstInvalid.focus();
    }
  }
}

if (form) { enhance(); }
