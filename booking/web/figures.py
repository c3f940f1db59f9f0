"""Pictures the pages draw on the server, with no outside service: the learning map as an SVG of
numbered venue points, and QR codes of calendar addresses. Pure functions of their input."""

import math
from collections.abc import Sequence
from dataclasses import dataclass
from io import BytesIO

import segno
from markupsafe import Markup, escape

MAP_WIDTH, MAP_HEIGHT, MARGIN = 640, 420, 30


@dataclass(frozen=True, slots=True)
class Point:
    number: int
    latitude: float
    longitude: float


def map_svg(points: Sequence[Point], title: str, description: str) -> Markup:
    """The points on an equirectangular projection (longitude scaled by the cosine of the mean
    latitude), numbered like the list beside the map. An image, not a control: the list holds
    the links, so nobody needs to hit a small dot or drag anything."""
    if not points:
        return Markup("")
    lats = [p.latitude for p in points]
    lons = [p.longitude for p in points]
    squeeze = math.cos(math.radians(sum(lats) / len(lats)))
    span_x = max((max(lons) - min(lons)) * squeeze, 1e-6)
    span_y = max(max(lats) - min(lats), 1e-6)
    scale = min((MAP_WIDTH - 2 * MARGIN) / span_x, (MAP_HEIGHT - 2 * MARGIN) / span_y)
    left = (MAP_WIDTH - span_x * scale) / 2
    top = (MAP_HEIGHT - span_y * scale) / 2
    marks = []
    for point in sorted(points, key=lambda p: -p.number):  # low numbers drawn last, on top
        x = left + (point.longitude - min(lons)) * squeeze * scale
        y = top + (max(lats) - point.latitude) * scale
        marks.append(
            f'<g transform="translate({x:.1f} {y:.1f})"><circle r="13" fill="#0b5394" stroke="#ffffff" '
            f'stroke-width="2"/><text y="5" text-anchor="middle" font-size="14" font-weight="700" '
            f'fill="#ffffff">{point.number}</text></g>'
        )
    return Markup(
        f'<svg class="map" viewBox="0 0 {MAP_WIDTH} {MAP_HEIGHT}" role="img" aria-labelledby="map-title map-desc" '
        f'xmlns="http://www.w3.org/2000/svg"><title id="map-title">{escape(title)}</title>'
        f'<desc id="map-desc">{escape(description)}</desc><g aria-hidden="true">{"".join(marks)}</g></svg>'
    )


def qr_svg(address: str, label: str) -> Markup:
    """A QR code of ``address`` as inline SVG, named for screen readers."""
    code = segno.make(address, error="m")
    out = BytesIO()
    code.save(
        out,
        kind="svg",
        scale=4,
        border=2,
        xmldecl=False,
        svgns=True,
        title=None,
        desc=None,
        svgclass=None,
        lineclass=None,
        omitsize=True,
    )
    svg = out.getvalue().decode()
    return Markup(svg.replace("<svg ", f'<svg role="img" aria-label="{escape(label)}" ', 1))
