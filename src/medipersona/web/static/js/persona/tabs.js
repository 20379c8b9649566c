// The persona page's tabs (ペルソナ / タイムライン): arrow keys, Home/End, and #timeline in the address.
import { $all, page } from "./page.js";

export function initTabs() {
  var tablist = document.getElementById("persona-tabs");
  var tabs = $all('[role="tab"]', tablist);
  var panels = tabs.map(function (t) { return document.getElementById(t.getAttribute("aria-controls")); });
  $all("[data-no-js-note]").forEach(function (el) { el.hidden = true; });
  document.getElementById("timeline-root").hidden = false;
  tablist.hidden = false;

  function selectTab(index, focus) {
    tabs.forEach(function (tab, i) {
      var selected = i === index;
      tab.setAttribute("aria-selected", selected ? "true" : "false");
      tab.tabIndex = selected ? 0 : -1;
      panels[i].hidden = !selected;
    });
    if (focus) { tabs[index].focus(); }
    if (tabs[index].id === "tab-timeline") {
      document.dispatchEvent(new CustomEvent("mp:timeline-open", { detail: { personaId: page.id } }));
      if (window.history.replaceState) { window.history.replaceState(null, "", "#timeline"); }
    } else if (window.location.hash === "#timeline" && window.history.replaceState) {
      window.history.replaceState(null, "", window.location.pathname + window.location.search);
    }
  }
  tabs.forEach(function (tab, i) {
    tab.addEventListener("click", function () { selectTab(i, false); });
    tab.addEventListener("keydown", function (event) {
      var next = null;
      if (event.key === "ArrowRight") { next = (i + 1) % tabs.length; }
      if (event.key === "ArrowLeft") { next = (i - 1 + tabs.length) % tabs.length; }
      if (event.key === "Home") { next = 0; }
      if (event.key === "End") { next = tabs.length - 1; }
      if (next !== null) { event.preventDefault(); selectTab(next, true); }
    });
  });
  selectTab(window.location.hash === "#timeline" ? 1 : 0, false);
}
