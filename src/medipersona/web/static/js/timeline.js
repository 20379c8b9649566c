// Timeline tab of the persona page: the keyword timeline chart (SVG from the server, shown as an image),
// its summary and a data table, and the analysis (心理変化の分析 / 隠れたニーズ / マーケティング提案),
// generated on demand as a job and streamed over Server-Sent Events. textContent only.
import { eventStream } from "./sse.js";

(function () {
  "use strict";
  var root = document.getElementById("persona");
  var tl = document.getElementById("timeline-root");
  if (!root || !tl) { return; }

  var id = root.getAttribute("data-persona-id");
  var api = "/api/personas/" + encodeURIComponent(id);
  var chartBox = document.getElementById("timeline-chart");
  var summaryBox = document.getElementById("timeline-summary");
  var button = document.getElementById("analysis-generate");
  var statusEl = document.getElementById("analysis-status");
  var body = document.getElementById("analysis-body");
  var intro = document.getElementById("analysis-intro");
  var meta = document.getElementById("analysis-meta");
  var parts = {};
  Array.prototype.forEach.call(body.querySelectorAll("[data-analysis]"), function (el) {
    parts[el.getAttribute("data-analysis")] = el.querySelector("[data-analysis-text]");
  });
  var loaded = false;
  var source = null;
  var analysisStatus = root.getAttribute("data-timeline-status") || "idle";

  function el(tag, text, className) {
    var node = document.createElement(tag);
    if (text !== undefined && text !== null) { node.textContent = String(text); }
    if (className) { node.className = className; }
    return node;
  }
  function clear(node) { while (node.firstChild) { node.removeChild(node.firstChild); } }
  function getJSON(url) {
    return fetch(url, { credentials: "same-origin", headers: { "Accept": "application/json" } })
      .then(function (r) {
        return r.json().catch(function () { return {}; }).then(function (d) { return { ok: r.ok, status: r.status, data: d }; });
      });
  }
  function dayLabel(day) {
    if (day === null || day === undefined) { return "—"; }
    var d = Math.round(day);
    if (d === 0) { return "検索当日"; }
    return d < 0 ? "検索の" + (-d) + "日前" : "検索の" + d + "日後";
  }

  // ------------------------------------------------------------------------------------------ chart + summary
  function load() {
    if (loaded) { return; }
    loaded = true;
    var params = new URLSearchParams({
      department: root.getAttribute("data-department"),
      chief_complaint: root.getAttribute("data-chief-complaint")
    });
    var gender = root.getAttribute("data-gender");
    var age = root.getAttribute("data-age");
    if (gender === "male" || gender === "female") { params.set("gender", gender); }
    if (/^\d+$/.test(age || "")) { params.set("age", age); }
    getJSON("/api/keywords/timeline?" + params.toString()).then(function (res) {
      clear(chartBox);
      if (!res.ok) {
        var msg = (res.data && res.data.error && res.data.error.message) || "キーワードデータを読み込めませんでした。";
        chartBox.appendChild(el("p", msg, "alert alert--warn"));
        return;
      }
      renderChart(res.data);
      renderSummary(res.data);
    }).catch(function () {
      clear(chartBox);
      chartBox.appendChild(el("p", "通信に失敗しました。ページを再読み込みしてください。", "alert alert--error"));
    });
  }

  function renderChart(data) {
    var img = document.createElement("img");
    img.className = "timeline__img";
    img.width = 960;
    img.height = 540;
    img.alt = "検索タイムラインの散布図。横軸は主訴の検索からの日数（マイナスは検索前）、縦軸は重複ボリューム。" +
      "青は検索前、赤は検索後のキーワード。同じ内容を下の表でも確認できます。";
    img.src = api + "/timeline/chart.svg";
    img.onerror = function () { clear(chartBox); chartBox.appendChild(el("p", "グラフを表示できませんでした。", "alert alert--warn")); };
    // On a phone the chart keeps a readable size and scrolls sideways in its own box (keyboard too), with a cue.
    var scroller = el("div", null, "timeline__chart-scroll");
    scroller.tabIndex = 0;
    scroller.setAttribute("role", "region");
    scroller.setAttribute("aria-label", "検索タイムラインのグラフ（横にスクロールできます）");
    scroller.appendChild(img);
    chartBox.appendChild(el("p", "← グラフは横にスクロールできます →", "timeline__scroll-cue"));
    chartBox.appendChild(scroller);
    var full = el("a", "グラフを拡大して開く", "timeline__open");
    full.href = img.src;
    full.target = "_blank";
    full.rel = "noopener";
    chartBox.appendChild(full);
    var legend = el("p", null, "muted timeline__legend");
    legend.appendChild(el("span", "● 検索前", "timeline__before"));
    legend.appendChild(document.createTextNode("　"));
    legend.appendChild(el("span", "● 検索後", "timeline__after"));
    var f = data.filters || {};
    var filters = [];
    if (f.gender) { filters.push(f.gender === "female" ? "女性" : "男性"); }
    if (f.age_band_label) { filters.push(f.age_band_label); }
    legend.appendChild(document.createTextNode("　絞り込み：" + (filters.length ? filters.join("・") : "なし")));
    if (f.step && f.step !== "band" && f.step_label) {
      legend.appendChild(document.createTextNode("（データが少ないため" + f.step_label + "）"));
    }
    if (data.dataset && data.dataset.is_sample) {
      legend.appendChild(document.createTextNode("　"));
      legend.appendChild(el("span", "架空のサンプルデータ", "badge"));
    }
    chartBox.appendChild(legend);
  }

  function renderSummary(data) {
    clear(summaryBox);
    var s = data.summary || {};
    var card = el("section", null, "card");
    card.appendChild(el("h3", "概要"));
    var dl = el("dl", null, "timeline__stats");
    [["キーワード数", (s.total || 0) + "件"],
     ["検索前", (s.before_count || 0) + "件"],
     ["検索後", (s.after_count || 0) + "件"],
     ["ピーク", dayLabel(s.peak_day)],
     ["緊急度", s.urgency ? s.urgency.label : "—"]].forEach(function (row) {
      var div = el("div");
      div.appendChild(el("dt", row[0]));
      div.appendChild(el("dd", row[1]));
      dl.appendChild(div);
    });
    card.appendChild(dl);
    if (s.urgency && s.urgency.description) { card.appendChild(el("p", s.urgency.description, "muted")); }
    summaryBox.appendChild(card);

    var cats = el("section", null, "card");
    cats.appendChild(el("h3", "キーワードの分類（検索前・後の件数）"));
    var wrap = el("div", null, "table-wrap");
    var table = el("table", null, "table");
    var head = el("thead");
    var hr = el("tr");
    ["分類", "検索前", "検索後"].forEach(function (h) { var th = el("th", h); th.scope = "col"; hr.appendChild(th); });
    head.appendChild(hr);
    table.appendChild(head);
    var tb = el("tbody");
    var before = s.categories_before || {};
    var after = s.categories_after || {};
    Object.keys(before).forEach(function (cat) {
      var tr = el("tr");
      var th = el("th", cat);
      th.scope = "row";
      tr.appendChild(th);
      tr.appendChild(el("td", before[cat] || 0));
      tr.appendChild(el("td", after[cat] || 0));
      tb.appendChild(tr);
    });
    table.appendChild(tb);
    wrap.appendChild(table);
    cats.appendChild(wrap);
    summaryBox.appendChild(cats);

    // The chart's data as a table (screen readers, exact numbers).
    var series = (data.series || []).slice().sort(function (a, b) { return b.overlap - a.overlap; }).slice(0, 30);
    if (series.length) {
      var details = el("details", null, "timeline__table card");
      details.appendChild(el("summary", "上位キーワードの一覧（表）"));
      var w2 = el("div", null, "table-wrap");
      var t2 = el("table", null, "table");
      var h2 = el("tr");
      ["キーワード", "時期", "検索時間差（日）", "重複ボリューム", "分類"].forEach(function (h) {
        var th = el("th", h); th.scope = "col"; h2.appendChild(th);
      });
      var thead2 = el("thead");
      thead2.appendChild(h2);
      t2.appendChild(thead2);
      var tb2 = el("tbody");
      series.forEach(function (p) {
        var tr = el("tr");
        tr.appendChild(el("td", p.keyword));
        tr.appendChild(el("td", p.days < 0 ? "検索前" : "検索後", p.days < 0 ? "timeline__before" : "timeline__after"));
        tr.appendChild(el("td", Math.round(p.days * 10) / 10));
        tr.appendChild(el("td", Number(p.overlap).toLocaleString("ja-JP")));
        tr.appendChild(el("td", p.category));
        tb2.appendChild(tr);
      });
      t2.appendChild(tb2);
      w2.appendChild(t2);
      details.appendChild(w2);
      summaryBox.appendChild(details);
    }
  }

  // ------------------------------------------------------------------------------------------ analysis
  function showAnalysis(analysis) {
    Object.keys(parts).forEach(function (key) {
      if (typeof analysis[key] === "string") { parts[key].textContent = analysis[key]; }
    });
    var m = analysis.meta || {};
    var notes = [];
    if (m.is_offline) { notes.push("オフライン生成（AI未使用）"); }
    if (m.is_sample_data) { notes.push("架空のサンプルデータに基づく分析です"); }
    meta.textContent = notes.join(" ・ ");
    body.hidden = false;
    intro.hidden = true;
  }

  function setBusy(busy) {
    button.disabled = busy;
    body.setAttribute("aria-busy", busy ? "true" : "false");
  }

  function closeStream() { if (source) { source.close(); source = null; } }

  function stream(url) {
    closeStream();
    setBusy(true);
    statusEl.classList.remove("is-error");
    statusEl.textContent = "分析を生成しています…";
    var texts = {};
    var previous = {};
    Object.keys(parts).forEach(function (k) { previous[k] = parts[k].textContent; });
    var hadPrevious = !body.hidden && Object.keys(previous).some(function (k) { return previous[k]; });
    source = eventStream(url || api + "/timeline-analysis/events", {
      events: {
        status: function (d) {
          if (d.status === "running") {
            texts = {};
            Object.keys(parts).forEach(function (k) { parts[k].textContent = ""; });
          }
        },
        delta: function (d) {
          if (!parts[d.section]) { return; }
          var current = texts[d.section] || "";
          var offset = typeof d.offset === "number" ? Math.min(d.offset, current.length) : current.length;
          texts[d.section] = current.slice(0, offset) + d.text;
          parts[d.section].textContent = texts[d.section];
          body.hidden = false;
          intro.hidden = true;
        },
        done: function (d) {
          closeStream();
          if (d.analysis) { showAnalysis(d.analysis); }
          analysisStatus = "done";
          statusEl.textContent = "分析が完了しました。";
          button.textContent = "分析をやり直す";
          setBusy(false);
        },
        // A dropped connection is not an error here: EventSource reconnects and resumes (Last-Event-ID).
        error: function (d) {
          closeStream();
          analysisStatus = "failed";
          // A failed re-run keeps the previous analysis (stored next to the error): show it again.
          if (hadPrevious) { Object.keys(parts).forEach(function (k) { parts[k].textContent = previous[k]; }); }
          statusEl.classList.add("is-error");
          statusEl.textContent = (d.message || "タイムライン分析に失敗しました。") + " もう一度お試しください。";
          button.textContent = "もう一度分析する";
          setBusy(false);
        }
      },
      onUnsupported: function () {
        statusEl.textContent = "分析を生成しています。ページを再読み込みすると結果を表示できます。";
        setBusy(false);
      }
    });
  }

  button.addEventListener("click", function () {
    if (root.getAttribute("data-status") !== "done") {
      statusEl.classList.add("is-error");
      statusEl.textContent = "ペルソナの生成が完了してから分析できます。";
      return;
    }
    setBusy(true);
    statusEl.classList.remove("is-error");
    statusEl.textContent = "分析を開始しています…";
    window.mpFetch(api + "/timeline-analysis", { method: "POST", headers: { "Accept": "application/json" } })
      .then(function (r) {
        return r.json().catch(function () { return {}; }).then(function (d) { return { ok: r.ok, data: d }; });
      })
      .then(function (res) {
        if (!res.ok) {
          statusEl.classList.add("is-error");
          statusEl.textContent = (res.data && res.data.error && res.data.error.message) || "分析を開始できませんでした。";
          setBusy(false);
          return;
        }
        stream(res.data.events_url);
      })
      .catch(function () {
        statusEl.classList.add("is-error");
        statusEl.textContent = "通信に失敗しました。もう一度お試しください。";
        setBusy(false);
      });
  });

  function open() {
    load();
    if ((analysisStatus === "queued" || analysisStatus === "running") && !source) { stream(null); }
  }

  if (analysisStatus === "done") { button.textContent = "分析をやり直す"; }
  if (analysisStatus === "failed") { button.textContent = "もう一度分析する"; }
  document.addEventListener("mp:timeline-open", open);
  if (!document.getElementById("panel-timeline").hidden) { open(); }
})();
