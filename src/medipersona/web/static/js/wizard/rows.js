// The wizard's free rows (自由項目): add, remove, renumber, read.
import { $all, MAX_EXTRA_ROWS, els } from "./form.js";

var rowCounter = 1000;

export function renumberRows() {
  var rows = $all("[data-extra-row]", els.rowsList);
  rows.forEach(function (row, i) {
    var label = "自由項目" + (i + 1);
    row.setAttribute("aria-label", label);
    var remove = row.querySelector("[data-remove-row]");
    remove.hidden = false;
    remove.setAttribute("aria-label", label + "を削除");
  });
  els.addRowBtn.disabled = rows.length >= MAX_EXTRA_ROWS;
}

export function addRow(name, value, focus) {
  var rows = $all("[data-extra-row]", els.rowsList);
  if (rows.length >= MAX_EXTRA_ROWS) { return null; }
  var frag = els.rowTemplate.content.cloneNode(true);
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
  els.rowsList.appendChild(row);
  renumberRows();
  if (focus) { row.querySelector('input[name="extra_name"]').focus(); }
  return row;
}

export function removeAllRows() {
  $all("[data-extra-row]", els.rowsList).forEach(function (row) { row.parentNode.removeChild(row); });
}

export function extraRows() {
  return $all("[data-extra-row]", els.rowsList).map(function (row) {
    return {
      row: row,
      name: row.querySelector('input[name="extra_name"]').value.trim(),
      value: row.querySelector('input[name="extra_value"]').value.trim()
    };
  });
}

// The add and remove buttons; onChange runs after either (the wizard saves its draft).
export function bindRows(onChange) {
  var rowsList = els.rowsList;
  els.addRowBtn.addEventListener("click", function () {
    if (addRow("", "", true)) {
      els.rowsStatus.textContent = "自由項目を追加しました（" + $all("[data-extra-row]", rowsList).length + "件）。";
      onChange();
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
    els.rowsStatus.textContent = "自由項目を削除しました（残り" + rows.length + "件）。";
    onChange();
  });
}
