// /admin/keywords: check the file size before uploading and show progress (the form works without this).
(function () {
  "use strict";
  var form = document.getElementById("kw-upload-form");
  if (!form) { return; }
  var input = document.getElementById("kw-file");
  var error = document.getElementById("kw-file-error");
  var button = document.getElementById("kw-submit");
  var progress = document.getElementById("kw-progress");
  var maxBytes = parseInt(form.getAttribute("data-max-bytes") || "0", 10);

  function showError(message) {
    error.textContent = message;
    error.hidden = !message;
  }

  function check() {
    var file = input.files && input.files[0];
    if (!file) { showError(""); return true; }
    var name = file.name.toLowerCase();
    if (!/\.(csv|zip|tsv|txt)$/.test(name)) {
      showError("CSVファイル（.csv）かZIPファイル（.zip）を選んでください。");
      return false;
    }
    if (maxBytes && file.size > maxBytes) {
      showError("ファイルが大きすぎます（" + Math.round(file.size / 1048576) + "MB、上限" +
        Math.round(maxBytes / 1048576) + "MB）。ZIPに圧縮するか、診療科ごとに分けて取り込んでください。");
      return false;
    }
    showError("");
    return true;
  }

  input.addEventListener("change", check);
  form.addEventListener("submit", function (event) {
    if (!check()) { event.preventDefault(); input.focus(); return; }
    button.disabled = true;
    progress.hidden = false;
  });
})();
