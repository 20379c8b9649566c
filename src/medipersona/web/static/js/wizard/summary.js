// The wizard's last step: a summary of what was chosen (each group with an 編集 button back to its step) and the
// contradictions found by POST /api/personas/check, shown as warnings (creating stays possible).
import {
  $all, els, fieldLabel, fieldValue, form, labelOfRadio, profileDisplay, profileNames, radioValue
} from "./form.js";
import { collect } from "./request.js";
import { extraRows } from "./rows.js";

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
  els.summary.appendChild(group);
}

export function buildSummary() {
  var summary = els.summary;
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
function checkWarnings() {
  var warnBox = els.warnBox;
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

// The 編集 buttons: onGoto(step) opens that step.
export function bindSummary(onGoto) {
  els.summary.addEventListener("click", function (event) {
    var btn = event.target.closest("[data-goto-step]");
    if (btn) { onGoto(parseInt(btn.getAttribute("data-goto-step"), 10)); }
  });
}
