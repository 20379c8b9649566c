// The wizard's six steps: showing one, the stepper, and the parts that depend on earlier answers (the chosen
// department's complaints, the setting mode's panel, months at age 100, the tile filters).
import { $, $all, STEP_COUNT, complaintDepartment, els, form, labelOfRadio, radioValue, state } from "./form.js";
import { save } from "./draft.js";
import { buildSummary } from "./summary.js";
import { stepOfField } from "./validation.js";

function updateStepper() {
  $all("[data-stepper]", els.stepper).forEach(function (li) {
    var n = parseInt(li.getAttribute("data-stepper"), 10);
    var link = li.querySelector("a");
    li.classList.toggle("is-current", n === state.current);
    li.classList.toggle("is-done", n < state.current || n <= state.maxReached && n !== state.current);
    li.classList.toggle("is-locked", n > state.maxReached);
    if (n === state.current) { link.setAttribute("aria-current", "step"); } else { link.removeAttribute("aria-current"); }
    // Locked steps are not in the Tab order (they cannot be opened yet).
    if (n > state.maxReached) { link.setAttribute("aria-disabled", "true"); link.tabIndex = -1; } else {
      link.removeAttribute("aria-disabled"); link.removeAttribute("tabindex");
    }
  });
}

export function showStep(n, moveFocus) {
  var current = state.current = Math.max(1, Math.min(STEP_COUNT, n));
  if (current > state.maxReached) { state.maxReached = current; }
  els.steps.forEach(function (section) {
    section.hidden = parseInt(section.getAttribute("data-step"), 10) !== current;
  });
  els.prevBtn.hidden = current === 1;
  els.nextBtn.hidden = current === STEP_COUNT;
  els.submitBtn.hidden = current !== STEP_COUNT;
  els.posLabel.textContent = current + " / " + STEP_COUNT;
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

// Opens the step of the first invalid field (see validation.showErrors) and focuses it, else the alert.
export function focusFirst(first) {
  if (!first) { return; }
  var step = stepOfField(first.field);
  if (step !== state.current) { showStep(step, false); }
  if (first.input && first.input.focus) { first.input.focus(); } else { els.alertBox.focus(); }
}

// ------------------------------------------------------------------------------------------ dependent parts
export function syncComplaints() {
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

export function syncMode() {
  var mode = radioValue("setting_type") || "patient_type";
  $all("[data-mode-panel]").forEach(function (panel) {
    panel.hidden = panel.getAttribute("data-mode-panel") !== mode;
  });
}

export function syncMonths() {
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

export function bindFilters() {
  $all("[data-filter-target]").forEach(function (input) {
    input.addEventListener("input", function () { filterTiles(input); });
    // The filter boxes are not form data.
    input.removeAttribute("name");
  });
}
