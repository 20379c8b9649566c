// Editing on the persona page: a section's text in place, and the profile, extras and notes forms. After a save
// the server-rendered parts are re-read (one rendering path, all escaping done by the server's templates).
import { $all, fetchPersona, jsonResult, page } from "./page.js";
import { applyStale, showSectionText } from "./view.js";

// Re-read server-rendered parts (profile, name, extras) after the job or an edit wrote them.
export function refreshFromServer(ids) {
  return fetch(window.location.pathname, { credentials: "same-origin", headers: { "Accept": "text/html" } })
    .then(function (r) { return r.ok ? r.text() : null; })
    .then(function (html) {
      if (!html) { return; }
      var doc = new DOMParser().parseFromString(html, "text/html");
      ids.forEach(function (eid) {
        var fresh = doc.getElementById(eid);
        var old = document.getElementById(eid);
        if (fresh && old) { old.parentNode.replaceChild(document.importNode(fresh, true), old); }
      });
      var img = doc.getElementById("persona-image");
      if (img && img.getAttribute("alt")) { page.el.image.setAttribute("alt", img.getAttribute("alt")); }
      document.title = (doc.title || document.title);
      bindEditors();
    })
    .catch(function () { /* the page still shows the streamed text */ });
}

function refreshStale() {
  fetchPersona()
    .then(function (p) { if (p && Array.isArray(p.stale_sections)) { applyStale(p.stale_sections); } })
    .catch(function () { /* the next page load shows it */ });
}

// ------------------------------------------------------------------------------------------ edit a section
function openSectionEditor(key) {
  var s = page.sections[key];
  if (s.el.querySelector(".persona-section__editor")) { return; }
  var editor = document.createElement("form");
  editor.className = "form persona-section__editor";
  editor.noValidate = true;
  var label = document.createElement("label");
  label.className = "visually-hidden";
  label.textContent = s.label + "の文章";
  var area = document.createElement("textarea");
  area.id = "section-edit-" + key;
  label.htmlFor = area.id;
  area.maxLength = 2000;
  area.value = s.text;
  var error = document.createElement("p");
  error.className = "field-error";
  error.hidden = true;
  var row = document.createElement("div");
  row.className = "btn-row";
  var save = document.createElement("button");
  save.type = "submit";
  save.className = "btn btn--primary";
  save.textContent = "保存";
  var cancel = document.createElement("button");
  cancel.type = "button";
  cancel.className = "btn";
  cancel.textContent = "キャンセル";
  row.appendChild(save);
  row.appendChild(cancel);
  [label, area, error, row].forEach(function (el) { editor.appendChild(el); });
  s.textEl.hidden = true;
  s.textEl.parentNode.insertBefore(editor, s.textEl.nextSibling);
  area.focus();
  function close() {
    editor.parentNode.removeChild(editor);
    s.textEl.hidden = false;
    s.el.querySelector("[data-edit-section]").focus();
  }
  cancel.addEventListener("click", close);
  editor.addEventListener("submit", function (event) {
    event.preventDefault();
    var text = area.value.trim();
    if (!text) { error.textContent = "文章を空にすることはできません。"; error.hidden = false; area.focus(); return; }
    var body = { sections: {} };
    body.sections[key] = text;
    save.disabled = true;
    window.mpFetch(page.api, { method: "PATCH", headers: { "Content-Type": "application/json", "Accept": "application/json" },
                               body: JSON.stringify(body) })
      .then(jsonResult)
      .then(function (res) {
        save.disabled = false;
        if (!res.ok) {
          var err = (res.data && res.data.error) || {};
          error.textContent = ((err.fields || [])[0] || {}).message || err.message || "保存できませんでした。";
          error.hidden = false;
          area.focus();
          return;
        }
        var stored = (res.data.sections || {})[key] || text;
        showSectionText(key, stored, false);
        close();
        s.statusEl.classList.remove("is-error");
        s.statusEl.textContent = "保存しました。";
        applyStale(res.data.stale_sections || []);
      })
      .catch(function () {
        save.disabled = false;
        error.textContent = "通信に失敗しました。もう一度お試しください。";
        error.hidden = false;
      });
  });
}

export function bindSectionEditors() {
  document.addEventListener("click", function (event) {
    var btn = event.target.closest && event.target.closest("[data-edit-section]");
    if (btn && !page.regenerating) { openSectionEditor(btn.getAttribute("data-edit-section")); }
  });
}

// ------------------------------------------------------------------------------------------ in-place edits
// One pattern for the profile and the extras: a server-rendered <form hidden> next to the <dl>; PATCH the
// persona; on success re-read the server-rendered parts (escaped by the templates) and announce it.
var EDITORS = [
  { form: "profile-form", list: "profile-list", button: "profile-edit", status: "profile-status",
    title: "profile-form-title", prefix: "profile.", saved: "プロフィールを保存しました。",
    build: buildProfile, refresh: ["persona-head", "profile-list", "profile-notes", "profile-form"] },
  { form: "extras-form", list: "extras-list", button: "extras-edit", status: "extras-status",
    title: "extras-form-title", prefix: "", saved: "その他の特徴を保存しました。",
    build: buildExtras, refresh: ["extras-list", "profile-notes", "extras-form"] },
  { form: "notes-form", list: "notes-view", button: "notes-edit", status: "notes-status",
    title: "notes-form-title", prefix: "", saved: "メモ・タグを保存しました。",
    build: buildNotes, refresh: ["notes-view", "notes-form"] }
];

function buildNotes(form) {
  var tags = form.elements.namedItem("tags").value.split(/[、,，]/).map(function (t) { return t.trim(); })
    .filter(function (t) { return t; });
  return { body: { note: form.elements.namedItem("note").value.trim(), tags: tags }, errors: [] };
}

function buildProfile(form) {
  var profile = {};
  ["name", "gender", "prefecture", "municipality", "family", "occupation", "income", "hobby", "life_events"]
    .forEach(function (k) { var el = form.elements.namedItem(k); if (el) { profile[k] = el.value.trim(); } });
  profile.age = parseInt(form.elements.namedItem("age").value, 10);
  profile.age_months = parseInt(form.elements.namedItem("age_months").value || "0", 10);
  var errors = [];
  if (!profile.name) { errors.push({ field: "name", message: "名前を入力してください。" }); }
  if (profile.name.length > 50) { errors.push({ field: "name", message: "50文字以内で入力してください。" }); }
  if (profile.age < 15 && profile.income && profile.income !== "none") {
    errors.push({ field: "income", message: "15歳未満の場合、年収は「収入なし」を選んでください。" });
  }
  return { body: { profile: profile }, errors: errors };
}

function buildExtras(form) {
  var extras = {};
  $all("[data-extras-field]", form).forEach(function (input) {
    var value = input.value.trim();
    extras[input.name] = value ? value : null;
  });
  var rows = [];
  var errors = [];
  $all("[data-edit-row]", form).forEach(function (row, i) {
    var name = row.querySelector('[name="row_name"]').value.trim();
    var value = row.querySelector('[name="row_value"]').value.trim();
    if (value && !name) { errors.push({ field: "extra_fields." + i + ".name", message: "項目名を入力してください。" }); }
    if (name) { rows.push({ name: name, value: value }); }
  });
  return { body: { extras: extras, extra_fields: rows }, errors: errors };
}

// Binds the forms not bound yet (a re-read part brings new, unbound forms).
export function bindEditors() { EDITORS.forEach(bindEditor); }

function bindEditor(cfg) {
  var form = document.getElementById(cfg.form);
  var list = document.getElementById(cfg.list);
  var editBtn = document.getElementById(cfg.button);
  var statusEl = document.getElementById(cfg.status);
  if (!form || !editBtn || form.getAttribute("data-bound")) { return; }
  form.setAttribute("data-bound", "true");
  editBtn.hidden = page.status !== "done";
  function close(focusBtn) {
    form.hidden = true;
    list.hidden = false;
    editBtn.setAttribute("aria-expanded", "false");
    if (focusBtn) { editBtn.focus(); }
  }
  editBtn.onclick = function () {
    if (!form.hidden) { close(true); return; }
    form.hidden = false;
    list.hidden = true;
    editBtn.setAttribute("aria-expanded", "true");
    statusEl.textContent = "";
    document.getElementById(cfg.title).focus();
  };
  var cancel = form.querySelector("[data-edit-cancel]");
  if (cancel) { cancel.onclick = function () { close(true); }; }
  var age = form.elements.namedItem("age");
  var months = form.elements.namedItem("age_months");
  if (age && months) {
    var syncMonths = function () {
      if (age.value === "100") { months.value = "0"; months.disabled = true; } else { months.disabled = false; }
    };
    age.onchange = syncMonths;
    syncMonths();
  }
  form.onsubmit = function (event) {
    event.preventDefault();
    $all(".field-error", form).forEach(function (el) { el.textContent = ""; el.hidden = true; });
    $all('[aria-invalid="true"]', form).forEach(function (el) { el.removeAttribute("aria-invalid"); });
    var built = cfg.build(form);
    if (built.errors.length) { showFieldErrors(form, built.errors, statusEl); return; }
    statusEl.classList.remove("is-error");
    statusEl.textContent = "保存しています…";
    window.mpFetch(page.api, {
      method: "PATCH",
      headers: { "Content-Type": "application/json", "Accept": "application/json" },
      body: JSON.stringify(built.body)
    }).then(jsonResult).then(function (res) {
      if (!res.ok) {
        var err = (res.data && res.data.error) || {};
        showFieldErrors(form, (err.fields || []).map(function (f) {
          var field = String(f.field || "");
          return { field: cfg.prefix && field.indexOf(cfg.prefix) === 0 ? field.slice(cfg.prefix.length) : field,
                   message: f.message };
        }), statusEl, err.message);
        return;
      }
      refreshFromServer(cfg.refresh).then(function () {
        var st = document.getElementById(cfg.status);
        st.classList.remove("is-error");
        st.textContent = cfg.saved;
        var btn = document.getElementById(cfg.button);
        btn.hidden = false;
        btn.setAttribute("aria-expanded", "false");
        btn.focus();
        refreshStale();
      });
    }).catch(function () {
      statusEl.classList.add("is-error");
      statusEl.textContent = "通信に失敗しました。もう一度お試しください。";
    });
  };
}

function showFieldErrors(form, errors, statusEl, message) {
  var first = null;
  errors.forEach(function (err) {
    var box = form.querySelector('[data-error-for="' + err.field + '"]');
    var input = form.elements.namedItem(err.field) ||
      (box && box.parentNode.querySelector("input, select"));
    if (box) { box.textContent = err.message; box.hidden = false; }
    if (input && input.setAttribute) { input.setAttribute("aria-invalid", "true"); if (!first) { first = input; } }
  });
  statusEl.classList.add("is-error");
  statusEl.textContent = message || "入力内容を確認してください。";
  if (first) { first.focus(); }
}
