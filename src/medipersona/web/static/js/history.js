// Persona history: narrows the 主訴 filter to the chosen 診療科. The page works without it
// (delete confirmation comes from app.js via data-confirm).
(function () {
  "use strict";
  // With JavaScript the browser's confirm dialog (app.js, data-confirm) asks; without it the server shows a
  // confirmation page instead.
  Array.prototype.forEach.call(document.querySelectorAll("[data-js-confirmed]"), function (el) { el.value = "1"; });
  var dep = document.getElementById("f-department");
  var comp = document.getElementById("f-complaint");
  if (!dep || !comp) { return; }
  function sync() {
    var chosen = dep.value;
    Array.prototype.forEach.call(comp.querySelectorAll("optgroup"), function (group) {
      var show = !chosen || group.getAttribute("data-department") === chosen;
      group.hidden = !show;
      group.disabled = !show;
    });
    var selected = comp.options[comp.selectedIndex];
    if (selected && selected.parentNode.tagName === "OPTGROUP" && selected.parentNode.disabled) { comp.value = ""; }
  }
  dep.addEventListener("change", sync);
  sync();
})();
