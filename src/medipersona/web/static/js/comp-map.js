// Competitor maps on Leaflet (served by the app from the XStatic-Leaflet package; tiles from the configured
// basemap only). window.mpCompMap.basemap(el) makes a map with the basemap and its attribution (shared with the
// form's position picker); the result page's map shows the clinic, the radius circle and numbered competitor
// markers whose numbers match the table, each with a popup. Data is only ever written with textContent.
(function () {
  "use strict";

  var JAPAN = { lat: 36.2, lng: 138.25, zoom: 5 };

  function escapeHtml(text) {
    return String(text || "").replace(/[&<>"']/g, function (c) {
      return { "&": "&amp;", "<": "&lt;", ">": "&gt;", '"': "&quot;", "'": "&#39;" }[c];
    });
  }

  // Leaflet writes attributions as HTML: ours is built from escaped settings, never from user data.
  function attributionHtml(el) {
    var text = escapeHtml(el.getAttribute("data-attribution"));
    var url = el.getAttribute("data-attribution-url") || "";
    return /^https?:\/\//.test(url) ? '<a href="' + escapeHtml(url) + '" rel="noopener noreferrer" target="_blank">' + text + "</a>" : text;
  }

  function basemap(el, view) {
    var map = window.L.map(el, { scrollWheelZoom: false, attributionControl: true });
    map.attributionControl.setPrefix('<a href="https://leafletjs.com/" rel="noopener noreferrer" target="_blank">Leaflet</a>');
    window.L.tileLayer(el.getAttribute("data-tile-url"), {
      attribution: attributionHtml(el), maxZoom: 18, minZoom: 5, crossOrigin: false
    }).addTo(map);
    var v = view || JAPAN;
    map.setView([v.lat, v.lng], v.zoom);
    return map;
  }

  function clinicIcon() {
    var pin = document.createElement("span");
    pin.className = "comp-pin comp-pin--clinic";
    pin.textContent = "自";
    return window.L.divIcon({ html: pin, className: "comp-pin-wrap", iconSize: [30, 30], iconAnchor: [15, 15], popupAnchor: [0, -14] });
  }

  function numberIcon(number) {
    var pin = document.createElement("span");
    pin.className = "comp-pin";
    pin.textContent = number;
    return window.L.divIcon({ html: pin, className: "comp-pin-wrap", iconSize: [26, 26], iconAnchor: [13, 13], popupAnchor: [0, -12] });
  }

  function row(parent, label, value, href) {
    if (!value || value === "—") { return; }
    var p = document.createElement("p");
    p.className = "comp-popup__row";
    var b = document.createElement("span");
    b.className = "comp-popup__label";
    b.textContent = label;
    p.appendChild(b);
    var v;
    if (href) {
      v = document.createElement("a");
      v.href = href;
      if (/^https?:/.test(href)) { v.rel = "noopener noreferrer nofollow"; v.target = "_blank"; }
    } else {
      v = document.createElement("span");
    }
    v.textContent = value;
    p.appendChild(v);
    parent.appendChild(p);
  }

  function popup(c) {
    var box = document.createElement("div");
    box.className = "comp-popup";
    var title = document.createElement("p");
    title.className = "comp-popup__title";
    title.textContent = c.number + ". " + c.name;
    box.appendChild(title);
    row(box, "距離", c.distance);
    row(box, "評価", c.rating === "—" ? "" : c.rating + "（口コミ" + c.reviews + "）");
    row(box, "電話", c.phone, c.tel);
    row(box, "診療時間", c.hours);
    row(box, "サイト", c.website ? "ウェブサイトを開く" : "", c.website);
    return box;
  }

  function resultMap(el) {
    var map = null;
    var layer = null;
    function draw(data) {
      var clinic = data.clinic || {};
      if (typeof clinic.lat !== "number" || typeof clinic.lng !== "number") { return false; }
      if (!map) {
        el.hidden = false; // Leaflet measures its box: show it before the map is made
        var img = document.getElementById("comp-map");
        if (img) { img.hidden = true; }
        map = basemap(el, { lat: clinic.lat, lng: clinic.lng, zoom: 14 });
      }
      if (layer) { layer.remove(); }
      layer = window.L.layerGroup().addTo(map);
      var circle = window.L.circle([clinic.lat, clinic.lng], {
        radius: data.radius_m, color: "#1f4e79", weight: 2, fillOpacity: 0.06, interactive: false
      }).addTo(layer);
      var own = document.createElement("p");
      own.className = "comp-popup__title";
      own.textContent = "自院: " + (clinic.name || "");
      window.L.marker([clinic.lat, clinic.lng], { icon: clinicIcon(), title: "自院", zIndexOffset: 1000, keyboard: true })
        .bindPopup(own).addTo(layer);
      (data.competitors || []).forEach(function (c) {
        window.L.marker([c.lat, c.lng], { icon: numberIcon(c.number), title: c.number + ". " + c.name, keyboard: true })
          .bindPopup(popup(c)).addTo(layer);
      });
      map.fitBounds(circle.getBounds(), { padding: [8, 8] });
      el.setAttribute("data-markers", String((data.competitors || []).length));
      return true;
    }
    function load() {
      return fetch(el.getAttribute("data-points-url"), { credentials: "same-origin", headers: { "Accept": "application/json" } })
        .then(function (r) { if (!r.ok) { throw new Error(String(r.status)); } return r.json(); })
        .then(draw);
    }
    return { load: load };
  }

  window.mpCompMap = { basemap: basemap, JAPAN: JAPAN };

  var el = document.getElementById("comp-leaflet");
  if (!el || !window.L) { return; }
  var live = resultMap(el);
  function refresh() {
    return live.load().then(function (drawn) {
      var caption = document.getElementById("comp-map-caption");
      if (drawn && caption) { caption.textContent = caption.getAttribute("data-live-caption"); }
    }).catch(function () { /* the SVG map stays */ });
  }
  refresh();
  // The result page redraws the markers when the competitors step finishes (competitors.js).
  window.mpCompMap.refresh = refresh;
})();
