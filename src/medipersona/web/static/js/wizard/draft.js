// The wizard's draft in sessionStorage: every change is saved, a reload restores fields, rows and step.
import { $all, STEP_COUNT, form, state } from "./form.js";
import { addRow, extraRows, removeAllRows } from "./rows.js";

var STORE_KEY = "mp.wizard.v1";

function snapshot() {
  var data = { fields: {}, rows: [], step: state.current, maxReached: state.maxReached };
  $all("input, select, textarea").forEach(function (el) {
    if (!el.name || el.name === "csrf_token" || el.name === "extra_name" || el.name === "extra_value") { return; }
    if (el.type === "radio") { if (el.checked) { data.fields[el.name] = el.value; } return; }
    data.fields[el.name] = el.value;
  });
  data.rows = extraRows().map(function (r) { return [r.name, r.value]; });
  return data;
}

export function save() {
  try { window.sessionStorage.setItem(STORE_KEY, JSON.stringify(snapshot())); } catch (e) { /* storage off */ }
}

export function forget() {
  try { window.sessionStorage.removeItem(STORE_KEY); } catch (e) { /* ignore */ }
}

// Restores the saved draft into the form and `state`; false when there is none.
export function restore() {
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
    removeAllRows();
    data.rows.forEach(function (r) { addRow(String(r[0] || ""), String(r[1] || ""), false); });
    if (!data.rows.length) { addRow("", "", false); }
  }
  state.maxReached = Math.max(1, Math.min(STEP_COUNT, parseInt(data.maxReached, 10) || 1));
  state.current = Math.max(1, Math.min(state.maxReached, parseInt(data.step, 10) || 1));
  return true;
}

