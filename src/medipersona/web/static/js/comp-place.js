// The clinic's place on the competitor form: the address from the postal code as it is typed
// (GET /api/geo/postal/{code}, Japan Post data on the server), and the position by clicking the map (Leaflet
// picker; the marker can be dragged). The map starts at the postal code's municipality. Typing the latitude and
// longitude stays possible and moves the marker. Data is only ever written with textContent / input values.
(function () {
  "use strict";

  var form = document.getElementById("comp-form");
  if (!form) { return; }
  function field(name) { return form.elements[name]; }
  var postal = field("clinic.postal_code");
  var postalStatus = document.getElementById("c-postal-status");
  var picker = null;

  // ------------------------------------------------------------------------------------------ postal code
  var lastLooked = "";
  function digits(value) {
    return String(value || "").replace(/[０-９]/g, function (d) { return String.fromCharCode(d.charCodeAt(0) - 0xFEE0); })
      .replace(/[^0-9]/g, "");
  }

  function setIfEmpty(name, value) {
    var el = field(name);
    if (el && value && !el.value.trim()) { el.value = value; }
  }

  function lookup() {
    var code = digits(postal.value);
    if (code.length !== 7 || code === lastLooked) { return; }
    lastLooked = code;
    postalStatus.textContent = "住所を検索しています…";
    fetch("/api/geo/postal/" + code, { credentials: "same-origin", headers: { "Accept": "application/json" } })
      .then(function (r) { return r.json().catch(function () { return {}; }).then(function (b) { return { ok: r.ok, body: b }; }); })
      .then(function (res) {
        var b = res.body || {};
        if (!res.ok) {
          postalStatus.textContent = (b.error && b.error.message) || "住所を取得できませんでした。";
          return;
        }
        postal.value = b.postal_code;
        var address = field("clinic.address");
        var found = b.prefecture + b.city + (b.town || "");
        // Keep what the user typed after the town (番地・建物名) when the address already starts with it.
        if (!address.value.trim() || address.value.indexOf(b.prefecture + b.city) !== 0) { address.value = found; }
        setIfEmpty("population.area_code", b.municipality_code);
        setIfEmpty("population.area_name", b.city);
        postalStatus.textContent = "住所を入力しました：" + found +
          ((b.other_towns || []).length ? "（ほかに " + b.other_towns.join("、") + "）" : "") + "。番地以降を続けて入力してください。";
        if (picker && b.position) { picker.startAt(b.position); }
      })
      .catch(function () { postalStatus.textContent = "住所を取得できませんでした。通信状態を確認してください。"; });
  }

  if (postal && postalStatus) {
    postalStatus.hidden = false;
    postal.addEventListener("input", function () { if (digits(postal.value).length === 7) { lookup(); } });
    postal.addEventListener("change", lookup);
  }

  // ------------------------------------------------------------------------------------------ map picker
  var el = document.getElementById("comp-picker");
  if (!el || !window.L || !window.mpCompMap) { return; }
  var box = el.closest(".comp-picker");
  box.hidden = false;
  var status = document.getElementById("c-picker-status");
  var lat = field("clinic.lat");
  var lng = field("clinic.lng");
  var map = window.mpCompMap.basemap(el);
  var marker = null;
  var moved = false; // the user placed the clinic: a later postal code must not move the view away

  function round(v) { return Math.round(v * 1e6) / 1e6; }

  function place(latlng, fromInput) {
    if (!marker) {
      marker = window.L.marker(latlng, { draggable: true, title: "医院の位置", keyboard: true }).addTo(map);
      marker.on("dragend", function () { place(marker.getLatLng(), false); });
    } else {
      marker.setLatLng(latlng);
    }
    if (!fromInput) {
      lat.value = String(round(latlng.lat));
      lng.value = String(round(latlng.lng));
    }
    moved = true;
    status.textContent = "医院の位置を指定しました（緯度 " + round(latlng.lat) + "、経度 " + round(latlng.lng) + "）。";
  }

  map.on("click", function (event) { place(event.latlng, false); });

  function fromInputs() {
    var a = Number(lat.value), b = Number(lng.value);
    if (lat.value.trim() && lng.value.trim() && isFinite(a) && isFinite(b) && Math.abs(a) <= 90 && Math.abs(b) <= 180) {
      place(window.L.latLng(a, b), true);
      map.setView([a, b], Math.max(map.getZoom(), 15));
      return true;
    }
    return false;
  }
  lat.addEventListener("change", fromInputs);
  lng.addEventListener("change", fromInputs);

  picker = {
    startAt: function (position) {
      if (moved) { return; }
      if (position.bounds) { map.fitBounds(position.bounds); } else { map.setView([position.lat, position.lng], position.zoom || 14); }
      status.textContent = position.level === "municipality"
        ? "郵便番号の市区町村を表示しました。地図を拡大して医院の位置をクリックしてください。"
        : "郵便番号の都道府県を表示しました。地図を拡大して医院の位置をクリックしてください。";
    }
  };

  if (!fromInputs()) {
    status.textContent = "郵便番号を入力するか、地図を動かして医院の位置をクリックしてください。";
    if (digits(postal.value).length === 7) { lookup(); }
  }
})();
