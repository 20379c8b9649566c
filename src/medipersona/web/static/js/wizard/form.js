// The persona wizard's form, its elements, the wizard's state and the field readers shared by wizard.js and the
// modules under wizard/. `form` is null on other pages (wizard.js then does nothing).
export var form = document.getElementById("wizard");

export var STEP_COUNT = 6;
export var MAX_EXTRA_ROWS = 20;
export var LIMITS = { name: 50, text: 100, long: 200, extraName: 50, extraValue: 200 };

// current: the step shown; maxReached: the furthest step opened (steps up to it can be opened from the stepper).
export var state = { current: 1, maxReached: 1 };

export var els = form ? {
  steps: Array.prototype.slice.call(form.querySelectorAll(".wizard-step")),
  alertBox: document.getElementById("wizard-alert"),
  nav: document.getElementById("wizard-nav"),
  prevBtn: form.querySelector("[data-wizard-prev]"),
  nextBtn: form.querySelector("[data-wizard-next]"),
  posLabel: document.getElementById("wizard-pos"),
  submitBtn: document.getElementById("wizard-submit"),
  rowsList: document.getElementById("extra-rows"),
  rowTemplate: document.getElementById("extra-row-template"),
  addRowBtn: document.getElementById("add-extra-row"),
  rowsStatus: document.getElementById("extra-rows-status"),
  summary: document.getElementById("confirm-summary"),
  stepper: document.getElementById("wizard-stepper"),
  warnBox: document.getElementById("confirm-warnings")
} : null;

// ------------------------------------------------------------------------------------------ small helpers
export function $(selector, root) { return (root || form).querySelector(selector); }
export function $all(selector, root) { return Array.prototype.slice.call((root || form).querySelectorAll(selector)); }

export function radioValue(name) {
  var el = form.querySelector('input[type="radio"][name="' + name + '"]:checked');
  return el ? el.value : "";
}

export function fieldValue(name) {
  var el = form.elements.namedItem(name);
  if (!el) { return ""; }
  if (el instanceof RadioNodeList || (el.length !== undefined && !el.tagName)) { return radioValue(name); }
  if (el.type === "radio") { return el.checked ? el.value : ""; }
  return (el.value || "").trim();
}

export function labelOfRadio(name) {
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

export function fieldLabel(el) {
  if (!el) { return ""; }
  if (el.id) {
    var label = document.querySelector('label[for="' + el.id + '"]');
    if (label) { return label.textContent.trim(); }
  }
  var fs = el.closest("fieldset");
  var legend = fs && fs.querySelector("legend");
  return legend ? legend.firstChild.textContent.trim() : "";
}

export function complaintDepartment(radio) {
  var group = radio.closest(".complaint-group");
  return group ? group.getAttribute("data-department") : "";
}

// The profile fields in page order, as the server rendered them from the catalog labels.
export function profileNames() {
  var names = [];
  $all('[name^="profile."]').forEach(function (el) {
    if (names.indexOf(el.name) === -1) { names.push(el.name); }
  });
  return names;
}

export function profileDisplay(name) {
  var el = form.elements.namedItem(name);
  if (!el) { return ""; }
  if (!el.tagName || el.type === "radio") {
    var checked = form.querySelector('input[name="' + name + '"]:checked');
    return checked && checked.value ? checked.parentNode.textContent.trim() : "";
  }
  if (el.tagName === "SELECT") { return optionLabel(name); }
  return (el.value || "").trim();
}
