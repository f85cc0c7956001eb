"""A server-rendered SVG tile map of Wales: one square tile per local authority.

Pure function, no Flask app needed: the caller passes already-translated strings.

The site's Content-Security-Policy forbids inline styles, so everything is drawn with SVG
presentation attributes (``fill``, ``stroke``, ``font-size``...); there is no ``style``
attribute and no ``<style>`` element. The ``<svg>`` has ``width="100%"`` and a ``viewBox``, so
it scales with its container; the class ``tilemap`` is there for the site's stylesheet (e.g. to
cap ``max-width``).

Each tile's accessible name (its ``<title>``, also shown as a tooltip) is the local authority's
name in the page's language with its state; the three-letter code drawn on the tile is an
English abbreviation, so it is hidden from assistive technology (``aria-hidden``).

Meaning never rests on colour alone: each coverage state also has its own mark, repeated in the
legend inside the SVG:

* ``covered``: solid dark blue fill with a white tick;
* ``partly``: diagonal hatching with a solid amber outline (the code sits on a light plate);
* ``missing``: white fill with a dashed grey outline.

Colours meet 3:1 against white for the marks and 4.5:1 for text on its own background.
"""

from __future__ import annotations

import re
from collections.abc import Mapping

from markupsafe import Markup, escape

from surveyapp.reference import local_authorities

COVERAGE_STATES = ("covered", "partly", "missing")

# (col, row), north at the top. Rough geography squeezed onto a 6 x 6 grid: the north coast on
# row 0-1 (Anglesey kept apart as an island), the narrow "waist" of Ceredigion and Powys on
# row 2, then three rows for the south from Pembrokeshire (west) to Gwent (south-east).
#
#        0    1    2    3    4    5
#   0         ANG       CNW  FLN
#   1              GWN  DEN  WRX
#   2              CGN  POW
#   3    PEM  CMN  NTL  MTY  BGW  MON
#   4         SWA  BGE  RCT  CAY  TOF
#   5                   VGL  CRF  NWP
GRID: dict[str, tuple[int, int]] = {
    "ANG": (1, 0),
    "CNW": (3, 0),
    "FLN": (4, 0),
    "GWN": (2, 1),
    "DEN": (3, 1),
    "WRX": (4, 1),
    "CGN": (2, 2),
    "POW": (3, 2),
    "PEM": (0, 3),
    "CMN": (1, 3),
    "NTL": (2, 3),
    "MTY": (3, 3),
    "BGW": (4, 3),
    "MON": (5, 3),
    "SWA": (1, 4),
    "BGE": (2, 4),
    "RCT": (3, 4),
    "CAY": (4, 4),
    "TOF": (5, 4),
    "VGL": (3, 5),
    "CRF": (4, 5),
    "NWP": (5, 5),
}

TILE = 64  # side of a tile
GAP = 6  # space between tiles
MARGIN = 16
LEGEND_SAMPLE = 24
LEGEND_ROW = 34
LEGEND_GAP = 22  # between the map and the legend

WHITE = "#ffffff"
TEXT_DARK = "#1a1a1a"

# Per state: fill, outline, mark colour (tick / hatching), label text colour, label background
# (the colour the text actually sits on, for the contrast check), dashed outline or not.
STATE_STYLES: dict[str, dict[str, str]] = {
    "covered": {
        "fill": "#1d4e89", "stroke": "#1d4e89", "mark": WHITE,
        "text": WHITE, "text_bg": "#1d4e89", "dasharray": "",
    },
    "partly": {
        "fill": "#fff4dc", "stroke": "#9a4a00", "mark": "#9a4a00",
        "text": TEXT_DARK, "text_bg": "#fff4dc", "dasharray": "",
    },
    "missing": {
        "fill": WHITE, "stroke": "#595959", "mark": "#595959",
        "text": TEXT_DARK, "text_bg": WHITE, "dasharray": "6 4",
    },
}

_ID_RE = re.compile(r"[A-Za-z][A-Za-z0-9_-]*\Z")


def _attrs(**attrs: object) -> str:
    """``key="value"`` pairs, escaped, in the given order; ``_`` in names becomes ``-``."""
    return " ".join(f'{k.rstrip("_").replace("_", "-")}="{escape(str(v))}"'
                    for k, v in attrs.items())


def _hatch(x: int, y: int, size: int, spacing: int, colour: str) -> str:
    """Diagonal lines (bottom-left to top-right) clipped by hand to the square at (x, y)."""
    lines = []
    for u in range(spacing, 2 * size, spacing):
        if u <= size:
            x1, y1, x2, y2 = x, y + u, x + u, y
        else:
            x1, y1, x2, y2 = x + u - size, y + size, x + size, y + u - size
        lines.append(f"<line {_attrs(x1=x1, y1=y1, x2=x2, y2=y2)}/>")
    return (f'<g class="tilemap-hatch" {_attrs(stroke=colour, stroke_width=2)}>'
            + "".join(lines) + "</g>")


def _tick(x: int, y: int, size: int, colour: str) -> str:
    """A tick in the top-right corner of the square at (x, y), scaled to its size."""
    k = size / TILE
    ox, oy = x + size - 22 * k, y + 13 * k

    def n(v: float) -> str:
        return f"{v:.2f}".rstrip("0").rstrip(".")

    d = f"M{n(ox)} {n(oy)} l{n(5 * k)} {n(5 * k)} l{n(9 * k)} {n(-10 * k)}"
    return (f'<path class="tilemap-tick" {_attrs(d=d, fill="none", stroke=colour)} '
            f'{_attrs(stroke_width=n(max(2.0, 3 * k)), stroke_linecap="round")} '
            f'{_attrs(stroke_linejoin="round")}/>')


def _shape(state: str, x: int, y: int, size: int) -> str:
    """The square for ``state`` with its mark; used by the tiles and the legend alike."""
    st = STATE_STYLES[state]
    rect = {"x": x, "y": y, "width": size, "height": size, "rx": max(2, size // 12),
            "fill": st["fill"], "stroke": st["stroke"], "stroke_width": 2}
    if st["dasharray"]:
        rect["stroke_dasharray"] = st["dasharray"]
    parts = []
    if state == "partly":
        # Outline drawn after the hatching so the hatch ends are covered.
        parts.append(f"<rect {_attrs(**{**rect, 'stroke': 'none'})}/>")
        parts.append(_hatch(x, y, size, 8 if size >= 40 else 6, st["mark"]))
        parts.append(f"<rect {_attrs(**{**rect, 'fill': 'none'})}/>")
    else:
        parts.append(f'<rect class="tilemap-shape" {_attrs(**rect)}/>')
    if state == "covered":
        parts.append(_tick(x, y, size, st["mark"]))
    return "".join(parts)


def _validate(coverage: Mapping[str, str], labels: Mapping[str, str]) -> None:
    known = set(local_authorities())
    unknown = sorted(set(coverage) - known)
    if unknown:
        raise ValueError(f"Unknown local authority codes: {', '.join(unknown)}")
    missing = sorted(known - set(coverage))
    if missing:
        raise ValueError(f"No coverage given for: {', '.join(missing)}")
    bad = sorted(code for code, state in coverage.items() if state not in COVERAGE_STATES)
    if bad:
        raise ValueError(f"Coverage state must be one of {COVERAGE_STATES}; bad for: "
                         f"{', '.join(bad)}")
    no_label = [state for state in COVERAGE_STATES if state not in labels]
    if no_label:
        raise ValueError(f"No legend label for: {', '.join(no_label)}")


def render_tilemap(
    coverage: Mapping[str, str],
    *,
    locale: str,
    title: str,
    description: str,
    labels: Mapping[str, str],
    id_prefix: str = "tilemap",
) -> Markup:
    """Render the tile map as an inline ``<svg>`` (deterministic: same input, same string).

    ``coverage`` maps every one of the 22 codes to a state in ``COVERAGE_STATES``; ``labels``
    maps each state to its translated legend text; ``title`` and ``description`` are already
    translated. Tile names use ``name_cy`` when ``locale == "cy"``, else ``name_en``.
    ``id_prefix`` keeps the ``<title>``/``<desc>`` ids unique if a page holds two maps.
    Raises ``ValueError`` for unknown or missing codes, unknown states or missing labels.
    """
    _validate(coverage, labels)
    if not _ID_RE.match(id_prefix):
        raise ValueError("id_prefix must be a plain identifier")
    las = local_authorities()
    pitch = TILE + GAP
    cols = max(c for c, _ in GRID.values()) + 1
    rows = max(r for _, r in GRID.values()) + 1
    map_w, map_h = cols * pitch - GAP, rows * pitch - GAP
    width = map_w + 2 * MARGIN
    legend_y = MARGIN + map_h + LEGEND_GAP
    height = legend_y + len(COVERAGE_STATES) * LEGEND_ROW - (LEGEND_ROW - LEGEND_SAMPLE) + MARGIN
    title_id, desc_id = f"{id_prefix}-title", f"{id_prefix}-desc"

    out = [
        f'<svg xmlns="http://www.w3.org/2000/svg" class="tilemap" '
        f'{_attrs(viewBox=f"0 0 {width} {height}", width="100%")} '
        f'preserveAspectRatio="xMidYMid meet" role="img" '
        f'{_attrs(aria_labelledby=f"{title_id} {desc_id}")}>',
        f'<title {_attrs(id=title_id)}>{escape(title)}</title>',
        f'<desc {_attrs(id=desc_id)}>{escape(description)}</desc>',
        f'<rect {_attrs(x=0, y=0, width=width, height=height, fill=WHITE)}/>',
        '<g class="tilemap-tiles">',
    ]
    for code in sorted(GRID, key=lambda c: (GRID[c][1], GRID[c][0])):
        col, row = GRID[code]
        state = coverage[code]
        st = STATE_STYLES[state]
        x, y = MARGIN + col * pitch, MARGIN + row * pitch
        cx, cy = x + TILE // 2, y + TILE // 2
        name = las[code].name(locale)
        out.append(f'<g class="tilemap-tile" {_attrs(data_code=code, data_state=state)}>')
        out.append(f"<title>{escape(name)}: {escape(labels[state])}</title>")
        out.append(_shape(state, x, y, TILE))
        if state == "partly":  # light plate so the code reads over the hatching
            out.append(f'<rect {_attrs(x=cx - 22, y=cy - 12, width=44, height=24, rx=3)} '
                       f'{_attrs(fill=st["text_bg"])}/>')
        # The code ("RCT") is an English abbreviation for the eye only: the tile's name, for
        # assistive technology and as a tooltip, is the authority's name in the page's language.
        out.append(f'<text {_attrs(x=cx, y=cy + 6, text_anchor="middle", font_size=17)} '
                   f'{_attrs(font_weight="bold", fill=st["text"], aria_hidden="true")}>{escape(code)}</text>')
        out.append("</g>")
    out.append("</g>")

    out.append('<g class="tilemap-legend">')
    for i, state in enumerate(COVERAGE_STATES):
        y = legend_y + i * LEGEND_ROW
        out.append(f'<g class="tilemap-legend-item" {_attrs(data_state=state)}>')
        out.append(_shape(state, MARGIN, y, LEGEND_SAMPLE))
        out.append(f'<text {_attrs(x=MARGIN + LEGEND_SAMPLE + 10, y=y + LEGEND_SAMPLE // 2 + 6)} '
                   f'{_attrs(font_size=16, fill=TEXT_DARK)}>{escape(labels[state])}</text>')
        out.append("</g>")
    out.append("</g></svg>")
    return Markup("".join(out))
