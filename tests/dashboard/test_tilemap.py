"""The SVG tile map of Wales: pure rendering, no Flask app needed."""

from __future__ import annotations

import xml.etree.ElementTree as ET

import pytest
from markupsafe import Markup

from surveyapp.dashboard.tilemap import COVERAGE_STATES, GRID, STATE_STYLES, render_tilemap
from surveyapp.reference import local_authorities

SVG = "{http://www.w3.org/2000/svg}"
LABELS = {"covered": "Covered", "partly": "Partly covered", "missing": "No responses"}
LABELS_CY = {"covered": "Wedi'i gwmpasu", "partly": "Yn rhannol", "missing": "Dim ymatebion"}


def mixed_coverage() -> dict[str, str]:
    return {code: COVERAGE_STATES[i % 3] for i, code in enumerate(sorted(GRID))}


def render(coverage=None, *, locale="en", title="Coverage", description="Map of Wales",
           labels=None) -> Markup:
    return render_tilemap(
        mixed_coverage() if coverage is None else coverage,
        locale=locale, title=title, description=description,
        labels=LABELS if labels is None else labels,
    )


def tiles(svg: str) -> dict[str, ET.Element]:
    root = ET.fromstring(svg)
    found = [g for g in root.iter(f"{SVG}g") if g.get("class") == "tilemap-tile"]
    return {g.get("data-code"): g for g in found}


def tile_title(tile: ET.Element) -> str:
    return tile.find(f"{SVG}title").text


def relative_luminance(colour: str) -> float:
    def channel(v: int) -> float:
        c = v / 255
        return c / 12.92 if c <= 0.03928 else ((c + 0.055) / 1.055) ** 2.4

    r, g, b = (int(colour[i:i + 2], 16) for i in (1, 3, 5))
    return 0.2126 * channel(r) + 0.7152 * channel(g) + 0.0722 * channel(b)


def contrast(a: str, b: str) -> float:
    la, lb = sorted((relative_luminance(a), relative_luminance(b)), reverse=True)
    return (la + 0.05) / (lb + 0.05)


# --- the grid -------------------------------------------------------------------------------

def test_grid_covers_exactly_the_22_authorities():
    assert set(GRID) == set(local_authorities())
    assert len(GRID) == 22


def test_grid_cells_are_unique():
    assert len(set(GRID.values())) == len(GRID)


def test_grid_is_roughly_geographic():
    col = {code: c for code, (c, _) in GRID.items()}
    row = {code: r for code, (_, r) in GRID.items()}
    assert row["ANG"] < row["PEM"]
    assert col["MON"] > col["PEM"]
    assert row["CRF"] > row["GWN"]
    assert row["ANG"] == min(row.values())  # north at the top
    assert col["PEM"] == min(col.values())  # Pembrokeshire furthest west
    assert col["ANG"] < col["FLN"] and col["ANG"] < col["WRX"]
    assert row["FLN"] < row["WRX"] < row["POW"] < row["MON"]
    assert col["CGN"] < col["POW"]
    for gwent in ("MON", "NWP", "TOF", "BGW", "CAY"):
        assert col[gwent] > col["SWA"] and row[gwent] > row["POW"]
    assert row["CRF"] == row["VGL"] == max(row.values())  # south coast


# --- output ---------------------------------------------------------------------------------

def test_returns_markup_and_parses_as_xml():
    svg = render()
    assert isinstance(svg, Markup)
    root = ET.fromstring(str(svg))
    assert root.tag == f"{SVG}svg"
    assert root.get("role") == "img"
    assert root.get("viewBox")
    assert root.get("width") == "100%"


def test_title_and_desc_are_referenced_by_aria_labelledby():
    root = ET.fromstring(str(render(title="Coverage", description="Which areas answered")))
    title, desc = root.find(f"{SVG}title"), root.find(f"{SVG}desc")
    assert title.text == "Coverage" and desc.text == "Which areas answered"
    assert root.get("aria-labelledby").split() == [title.get("id"), desc.get("id")]


def test_every_authority_appears_exactly_once():
    svg = str(render())
    found = [g.get("data-code") for g in ET.fromstring(svg).iter(f"{SVG}g")
             if g.get("class") == "tilemap-tile"]
    assert sorted(found) == sorted(local_authorities())
    for code in local_authorities():
        assert svg.count(f'data-code="{code}"') == 1
        labels = [t.text for t in tiles(svg)[code].iter(f"{SVG}text")]
        assert labels == [code]


def test_tiles_sit_on_distinct_cells():
    positions = set()
    for tile in tiles(str(render())).values():
        shape = tile.find(f"{SVG}rect")
        positions.add((shape.get("x"), shape.get("y")))
    assert len(positions) == 22


def test_welsh_locale_uses_welsh_names():
    found = tiles(str(render(locale="cy", labels=LABELS_CY)))
    assert tile_title(found["ANG"]).startswith("Ynys Môn")
    assert tile_title(found["CRF"]).startswith("Caerdydd")
    assert tile_title(found["NWP"]).startswith("Casnewydd")
    for code, la in local_authorities().items():
        assert la.name_cy in tile_title(found[code])


def test_english_locale_uses_english_names():
    found = tiles(str(render(locale="en")))
    assert tile_title(found["ANG"]).startswith("Isle of Anglesey")
    assert tile_title(found["CRF"]).startswith("Cardiff")
    assert "Caerdydd" not in str(render(locale="en"))


def test_tile_title_gives_the_state_label():
    coverage = {code: "covered" for code in GRID} | {"CRF": "missing", "POW": "partly"}
    found = tiles(str(render(coverage, locale="cy", labels=LABELS_CY)))
    assert tile_title(found["CRF"]) == "Caerdydd: Dim ymatebion"
    assert tile_title(found["POW"]) == "Powys: Yn rhannol"
    assert tile_title(found["ANG"]) == "Ynys Môn: Wedi'i gwmpasu"


def test_states_have_marks_beyond_colour():
    coverage = {code: "covered" for code in GRID} | {"CRF": "missing", "POW": "partly"}
    found = tiles(str(render(coverage)))

    def has_tick(tile):
        return any(p.get("class") == "tilemap-tick" for p in tile.iter(f"{SVG}path"))

    def has_hatch(tile):
        return any(g.get("class") == "tilemap-hatch" for g in tile.iter(f"{SVG}g"))

    def dashed(tile):
        return any(r.get("stroke-dasharray") for r in tile.iter(f"{SVG}rect"))

    assert found["CRF"].get("data-state") == "missing"
    assert dashed(found["CRF"]) and not has_tick(found["CRF"]) and not has_hatch(found["CRF"])
    assert has_hatch(found["POW"]) and not has_tick(found["POW"]) and not dashed(found["POW"])
    assert has_tick(found["ANG"]) and not has_hatch(found["ANG"]) and not dashed(found["ANG"])


def test_legend_shows_every_state_with_its_mark_and_label():
    root = ET.fromstring(str(render()))
    legend = next(g for g in root.iter(f"{SVG}g") if g.get("class") == "tilemap-legend")
    items = {g.get("data-state"): g for g in legend if g.get("class") == "tilemap-legend-item"}
    assert list(items) == list(COVERAGE_STATES)
    for state, item in items.items():
        assert [t.text for t in item.iter(f"{SVG}text")] == [LABELS[state]]
    assert any(p.get("class") == "tilemap-tick" for p in items["covered"].iter(f"{SVG}path"))
    assert any(g.get("class") == "tilemap-hatch" for g in items["partly"].iter(f"{SVG}g"))
    assert any(r.get("stroke-dasharray") for r in items["missing"].iter(f"{SVG}rect"))


def test_text_is_escaped():
    title = "Coverage <script>alert(1)</script> & more"
    description = 'Areas "with" <b>answers</b> & others'
    labels = {**LABELS, "missing": "None <yet> & counting"}
    svg = str(render(title=title, description=description, labels=labels))
    assert "<script>" not in svg and "<b>" not in svg and "<yet>" not in svg
    assert "&lt;script&gt;" in svg and "&amp; more" in svg
    root = ET.fromstring(svg)  # still well-formed
    assert root.find(f"{SVG}title").text == title
    assert root.find(f"{SVG}desc").text == description
    assert labels["missing"] in [t.text for t in root.iter(f"{SVG}text")]


def test_no_inline_styles_anywhere():
    for locale in ("en", "cy"):
        svg = str(render(locale=locale))
        root = ET.fromstring(svg)
        for element in root.iter():
            assert "style" not in element.attrib
            assert element.tag != f"{SVG}style"
        assert "style=" not in svg and "<style" not in svg


def test_output_is_deterministic():
    assert str(render()) == str(render())
    reordered = dict(reversed(list(mixed_coverage().items())))
    assert str(render(reordered)) == str(render())


def test_id_prefix_changes_the_ids():
    svg = render_tilemap(mixed_coverage(), locale="en", title="t", description="d",
                         labels=LABELS, id_prefix="map2")
    root = ET.fromstring(str(svg))
    assert root.get("aria-labelledby") == "map2-title map2-desc"
    with pytest.raises(ValueError):
        render_tilemap(mixed_coverage(), locale="en", title="t", description="d",
                       labels=LABELS, id_prefix='x" onload="')


def test_colours_meet_contrast():
    for state, style in STATE_STYLES.items():
        # The mark that carries the state (fill, outline or hatching) stands out from white.
        graphic = style["fill"] if state == "covered" else style["stroke"]
        assert contrast(graphic, "#ffffff") >= 3, state
        assert contrast(style["mark"], style["fill"]) >= 3, state
        assert contrast(style["text"], style["text_bg"]) >= 4.5, state


# --- validation -----------------------------------------------------------------------------

def test_unknown_code_raises():
    with pytest.raises(ValueError, match="XYZ"):
        render(mixed_coverage() | {"XYZ": "covered"})


def test_missing_code_raises():
    coverage = mixed_coverage()
    del coverage["CRF"]
    with pytest.raises(ValueError, match="CRF"):
        render(coverage)


def test_unknown_state_raises():
    with pytest.raises(ValueError):
        render(mixed_coverage() | {"CRF": "complete"})


def test_missing_label_raises():
    with pytest.raises(ValueError, match="partly"):
        render(labels={"covered": "Covered", "missing": "Missing"})


# --- names for assistive technology ---------------------------------------------------------

@pytest.mark.parametrize(("locale", "labels"), [("cy", LABELS_CY), ("en", LABELS)])
def test_each_tile_is_named_by_the_authority_in_the_page_language(locale, labels):
    """The tile's name is its first child <title> (what SVG uses as the name and tooltip): the
    authority's name in the page's language, never the English code."""
    las = local_authorities()
    for code, tile in tiles(str(render(locale=locale, labels=labels))).items():
        first = next(iter(tile))
        assert first.tag == f"{SVG}title"
        assert first.text.startswith(las[code].name(locale) + ": ")
        assert code not in first.text


def test_the_english_codes_on_the_tiles_are_hidden_from_assistive_technology():
    root = ET.fromstring(str(render(locale="cy", labels=LABELS_CY)))
    for tile in tiles(str(render(locale="cy", labels=LABELS_CY))).values():
        texts = list(tile.iter(f"{SVG}text"))
        assert texts and all(t.get("aria-hidden") == "true" for t in texts)
    # The legend is in the page's language and stays readable.
    legend = next(g for g in root.iter(f"{SVG}g") if g.get("class") == "tilemap-legend")
    assert [t.get("aria-hidden") for t in legend.iter(f"{SVG}text")] == [None] * len(COVERAGE_STATES)
