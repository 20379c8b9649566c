// The request body of POST /api/personas (and /api/persona-sets, /api/personas/check) from the wizard's fields.
// Mirrors wizard_pages.form_to_request (the no-JavaScript path) and the API schema of POST /api/personas.
import { $all, fieldValue, profileNames, radioValue } from "./form.js";
import { extraRows } from "./rows.js";

export function collect() {
  var body = {
    department: radioValue("department"),
    chief_complaint: radioValue("chief_complaint"),
    purpose: radioValue("purpose"),
    setting_type: radioValue("setting_type") || "auto"
  };
  if (body.setting_type === "patient_type" && radioValue("patient_type")) {
    body.patient_type = radioValue("patient_type");
  }
  if (body.setting_type === "input") {
    var profile = {};
    profileNames().forEach(function (name) {
      var key = name.slice(8);
      if (key === "age" || key === "age_months") { return; }
      var value = fieldValue(name);
      if (value) { profile[key] = value; }
    });
    var age = fieldValue("profile.age");
    if (age !== "") {
      profile.age = parseInt(age, 10);
      var months = parseInt(fieldValue("profile.age_months") || "0", 10);
      if (months) { profile.age_months = months; }
    }
    if (Object.keys(profile).length) { body.profile = profile; }
  }
  var extras = {};
  $all('input[name^="extras."]').forEach(function (input) {
    var value = input.value.trim();
    if (value) { extras[input.name.slice(7)] = value; }
  });
  if (Object.keys(extras).length) { body.extras = extras; }
  var rows = extraRows().filter(function (r) { return r.name || r.value; })
    .map(function (r) { return { name: r.name, value: r.value }; });
  if (rows.length) { body.extra_fields = rows; }
  return body;
}
