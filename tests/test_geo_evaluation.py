"""Helpers of notebook 06: graded circles, switchable layers, where predictions land."""
from __future__ import annotations

import json
import re

import numpy as np
import pandas as pd
import pytest

from musicgeo_utils import maps

XSS = "<img src=x onerror=\"document.body.setAttribute('data-pwned','1')\">"
DUBLIN, BERLIN, BEIJING = (53.35, -6.26), (52.52, 13.40), (39.90, 116.40)


def layer_data(page: str) -> list[dict]:
    """The JSON tables of every point/line layer in a rendered page."""
    return [json.loads(text) for text in re.findall(r"var d = (\{.*?\}), style =", page)]


def regions() -> pd.DataFrame:
    return pd.DataFrame({"region": ["Ireland", "Germany", "China"],
                         "lat": [DUBLIN[0], BERLIN[0], BEIJING[0]], "lon": [DUBLIN[1], BERLIN[1], BEIJING[1]]})


# --------------------------------------------------------------------------- maps


def test_value_colormap_ranges():
    cmap = maps.value_colormap([300.0, np.nan, 50.0, 1200.0])
    assert (cmap.vmin, cmap.vmax) == (50.0, 1200.0)  # NaN ignored
    assert (maps.value_colormap([5.0, 9.0], vmin=0).vmin, maps.value_colormap().vmax) == (0.0, 1.0)
    assert cmap.rgb_hex_str(50.0) == "#1a9850" and cmap.rgb_hex_str(1200.0) == "#d73027"
    with pytest.raises(ValueError, match="not a CSS colour"):
        maps.value_colormap(colors=("red", "url(x)"))


def test_value_points_colour_by_value_clip_and_escape():
    frame = regions().assign(median_km=[100.0, 5000.0, np.nan], name=[XSS, "Germany", "China"],
                             table=[maps.popup_table({"region": XSS})] * 3)
    m = maps.base_map(basemap=False)
    maps.add_value_points(m, frame, "median_km", colormap=maps.value_colormap(vmin=0, vmax=2500),
                          tooltip="name", colorbar_title="median error (km)")
    maps.add_value_points(m, frame, "median_km", tooltip_html="table", layer_name="tables")
    page = m.get_root().render()
    plain, trusted = layer_data(page)
    colors = [plain["palette"][i] for i in plain["color"]]
    assert colors[1] == "#d73027"  # 5,000 km is above vmax: the end colour, not an error
    assert colors[2] == "#7f7f7f"  # missing value: grey
    assert colors[0] not in ("#1a9850", "#d73027", "#7f7f7f")  # 100 km: between the ends
    assert plain["tooltip"][0].startswith("&lt;img src=x")  # plain text is escaped
    assert trusted["tooltip"][0].startswith("<table class='mg-popup'><tr><th>region</th><td>&lt;img")
    assert "median error (km)" in page and "<img src=x" not in page
    with pytest.raises(ValueError, match="not both"):
        maps.add_value_points(m, frame, "median_km", tooltip="name", tooltip_html="table")


def test_switchable_layer_is_an_escaped_base_layer():
    import folium

    m = maps.base_map(basemap=False)
    first = maps.add_switchable_layer(m, f"tune {XSS}", show=True)
    second = maps.add_switchable_layer(m, "second tune")
    folium.LayerControl().add_to(m)
    page = m.get_root().render()
    assert not first.overlay and first.show and not second.show
    base_layers = re.search(r"base_layers : \{(.*?)\}", page, flags=re.S).group(1)
    assert "second tune" in base_layers and "<img" not in base_layers
    # Leaflet's control inserts names as HTML, so the name must arrive as text.
    assert "&lt;img src=x" in json.loads(base_layers.split(":")[0].strip())


def test_region_probabilities_graded_circles_and_truth_ring():
    m = maps.base_map(basemap=False)
    proba = pd.Series({"Ireland": 0.64, "Germany": 0.355, "China": 0.005})
    group = maps.add_region_probabilities(m, proba, regions(), *DUBLIN, name="a reel",
                                          true_label="true origin: Dublin", max_radius=20, show=True)
    page = m.get_root().render()
    circles, ring = layer_data(page)
    assert circles["tooltip"] == ["Ireland: 64%", "Germany: 36%"]  # China below 1 %: not drawn
    assert circles["radius"] == pytest.approx([20 * 0.8, 20 * np.sqrt(0.355)], abs=0.01)
    assert circles["lat"] == [DUBLIN[0], BERLIN[0]]
    palette = [circles["palette"][i] for i in circles["color"]]
    assert palette[0] != palette[1]  # darker for the more probable region
    assert ring["lat"] == [DUBLIN[0]] and ring["tooltip"] == ["true origin: Dublin"]
    assert group.layer_name == "a reel" and not group.overlay


def test_region_probabilities_reject_bad_input():
    m = maps.base_map(basemap=False)
    with pytest.raises(ValueError, match="sum to 1"):
        maps.add_region_probabilities(m, {"Ireland": 0.5, "Germany": 0.2}, regions(), *DUBLIN, name="tune 7")
    with pytest.raises(KeyError, match="Atlantis"):
        maps.add_region_probabilities(m, {"Ireland": 0.5, "Atlantis": 0.5}, regions(), *DUBLIN, name="tune 7")


@pytest.mark.slow
def test_probability_layers_render_as_radio_buttons_in_chromium(tmp_path):
    import folium

    from musicgeo_utils import report

    try:
        report.find_chromium()
    except FileNotFoundError:
        pytest.skip("no Chromium here")
    m = maps.base_map()
    maps.add_region_probabilities(m, {"Ireland": 0.7, "Germany": 0.3}, regions(), *DUBLIN, name=f"jig {XSS}", show=True)
    maps.add_region_probabilities(m, {"Ireland": 0.1, "Germany": 0.1, "China": 0.8}, regions(), *BEIJING, name="song")
    folium.LayerControl(collapsed=False).add_to(m)
    dom = report.dom_dump(maps.save_offline(m, tmp_path / "proba.html"))
    # (Leaflet's own source, inlined in the page, holds the same tag without a number.)
    assert len(re.findall(r'<input type="radio" class="leaflet-control-layers-selector" name="leaflet-base-layers_\d+"',
                          dom)) == 2
    # Only the first tune's layer is on the map: 2 circles and the ring.
    assert len(re.findall(r'<path class="leaflet-interactive"', dom)) == 3
    assert "jig &lt;img src=x" in dom and not re.search(r"<body[^>]*data-pwned", dom)
