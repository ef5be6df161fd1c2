// The map of residents' reports: Leaflet (BSD-2-Clause) behind a narrow, serialisable API. It draws the
// organisation's tiles, an optional pin the user drops (by tapping the map, or with the "drop the pin at the centre"
// button after moving the map with the arrow keys), and report markers; it tells the server the visible box after
// each move, so only the reports in view are sent. The server decides everything else.
import React, { useEffect, useRef } from "react";
import L from "leaflet";
import "leaflet/dist/leaflet.css";

const GB = [[49.8, -8.7], [60.9, 1.9]];
const STATUS_COLOURS = { received: "#1d4ed8", with_team: "#6b21a8", in_progress: "#92400e" };

function pinIcon() {
  return L.divIcon({
    className: "atlas-map-pin",
    html: '<svg width="28" height="40" viewBox="0 0 28 40" aria-hidden="true" focusable="false">' +
      '<path d="M14 0C6.3 0 0 6.3 0 14c0 10.5 14 26 14 26s14-15.5 14-26C28 6.3 21.7 0 14 0z" fill="#b91c1c" ' +
      'stroke="#fff" stroke-width="2"/><circle cx="14" cy="14" r="5" fill="#fff"/></svg>',
    iconSize: [28, 40],
    iconAnchor: [14, 40],
  });
}

function boxOf(map) {
  const b = map.getBounds();
  return { west: b.getWest(), south: b.getSouth(), east: b.getEast(), north: b.getNorth(), zoom: map.getZoom() };
}

export function ReportMap({ tileUrl, attribution, area, pin, markers, pickable, label, pickLabel, height,
                            onPick, onView }) {
  const box = useRef(null);
  const mapRef = useRef(null);
  const pinRef = useRef(null);
  const layerRef = useRef(null);
  const handlers = useRef({ onPick, onView });
  handlers.current = { onPick, onView };

  useEffect(() => {
    const map = L.map(box.current, { keyboard: true, zoomControl: true, attributionControl: true });
    map.attributionControl.setPrefix('<a href="https://leafletjs.com">Leaflet</a>');
    L.tileLayer(tileUrl, { attribution: attribution || "", maxZoom: 19, minZoom: 5 }).addTo(map);
    if (area && area.length === 4) {
      map.fitBounds([[area[0], area[1]], [area[2], area[3]]], { padding: [8, 8] });
    } else {
      map.fitBounds(GB);
    }
    layerRef.current = L.layerGroup().addTo(map);
    if (pickable) {
      map.on("click", (e) => {
        if (handlers.current.onPick) handlers.current.onPick(e.latlng.lat, e.latlng.lng);
      });
    }
    map.on("moveend", () => {
      if (handlers.current.onView) handlers.current.onView(boxOf(map));
    });
    mapRef.current = map;
    if (handlers.current.onView) handlers.current.onView(boxOf(map));
    return () => { map.remove(); mapRef.current = null; pinRef.current = null; };
  }, [tileUrl]);

  useEffect(() => {
    const map = mapRef.current;
    if (!map) return;
    if (pin && pin.length === 2) {
      if (pinRef.current) pinRef.current.setLatLng(pin);
      else pinRef.current = L.marker(pin, { icon: pinIcon(), keyboard: false, interactive: false }).addTo(map);
      if (!map.getBounds().contains(pin)) map.panTo(pin);
    } else if (pinRef.current) {
      pinRef.current.remove();
      pinRef.current = null;
    }
  }, [pin && pin[0], pin && pin[1]]);

  useEffect(() => {
    const layer = layerRef.current;
    if (!layer) return;
    layer.clearLayers();
    (markers || []).forEach((m) => {
      const marker = L.circleMarker([m.lat, m.lng], {
        radius: 8, weight: 2, color: "#fff", fillOpacity: 0.9,
        fillColor: STATUS_COLOURS[m.status] || "#334155", dashArray: m.overdue ? "3 2" : null,
        className: "atlas-map-marker",
      });
      marker.bindTooltip(m.text || "");
      if (m.href) marker.on("click", () => { window.location.assign(m.href); });
      marker.addTo(layer);
    });
    if (box.current) box.current.setAttribute("data-markers", String((markers || []).length));
  }, [markers]);

  const dropAtCentre = () => {
    const map = mapRef.current;
    if (map && handlers.current.onPick) {
      const c = map.getCenter();
      handlers.current.onPick(c.lat, c.lng);
    }
  };

  return (
    <div className="atlas-map">
      <div ref={box} id="report-map-canvas" role="region" aria-label={label}
           style={{ height: `${height || 320}px`, width: "100%", border: "1px solid #64748b", borderRadius: "6px" }}
           data-markers="0" />
      {pickable ? (
        <button type="button" id="map-drop-centre" onClick={dropAtCentre}
                style={{ marginTop: "0.5em", minHeight: "44px", padding: "0 1em", fontSize: "1rem",
                         border: "2px solid #1e293b", borderRadius: "6px", background: "#fff", color: "#1e293b",
                         cursor: "pointer" }}>
          {pickLabel}
        </button>
      ) : null}
    </div>
  );
}
