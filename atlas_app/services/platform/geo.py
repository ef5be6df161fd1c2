"""Coordinates: WGS84 (latitude, longitude, as phones and maps give them) and British National Grid (easting,
northing in metres, as the gazetteer gives them), converted with pyproj (EPSG:4326 <-> EPSG:27700)."""

from __future__ import annotations

import math
from functools import lru_cache

from pyproj import Transformer

from atlas_app.services.platform.errors import ValidationFailed

# Great Britain with its islands, generously: anything outside is not a place a council here looks after.
GB_LAT = (49.0, 61.5)
GB_LNG = (-9.0, 2.5)


@lru_cache(maxsize=1)
def _to_bng() -> Transformer:
    return Transformer.from_crs("EPSG:4326", "EPSG:27700", always_xy=True)


@lru_cache(maxsize=1)
def _to_wgs84() -> Transformer:
    return Transformer.from_crs("EPSG:27700", "EPSG:4326", always_xy=True)


def to_bng(latitude: float, longitude: float) -> tuple[float, float]:
    """(easting, northing) for a WGS84 point."""
    easting, northing = _to_bng().transform(longitude, latitude)
    return round(easting, 1), round(northing, 1)


def to_wgs84(easting: float, northing: float) -> tuple[float, float]:
    """(latitude, longitude) for a British National Grid point."""
    longitude, latitude = _to_wgs84().transform(easting, northing)
    return round(latitude, 7), round(longitude, 7)


def distance_m(a: tuple[float, float], b: tuple[float, float]) -> float:
    """Metres between two grid points."""
    return math.hypot(a[0] - b[0], a[1] - b[1])


def parse_lat_lng(latitude, longitude, field: str = "location") -> tuple[float, float]:
    """A WGS84 point in Great Britain from form or API text, or a clear refusal."""
    try:
        lat, lng = float(str(latitude).strip()), float(str(longitude).strip())
    except (TypeError, ValueError):
        raise ValidationFailed("The location must be a latitude and longitude.", {field: "invalid"}) from None
    if not (math.isfinite(lat) and math.isfinite(lng)):
        raise ValidationFailed("The location must be a latitude and longitude.", {field: "invalid"})
    if not (GB_LAT[0] <= lat <= GB_LAT[1] and GB_LNG[0] <= lng <= GB_LNG[1]):
        raise ValidationFailed("That location is not in Great Britain.", {field: "outside"})
    return lat, lng
