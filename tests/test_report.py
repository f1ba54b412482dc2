"""The single-file offline report built from executed notebooks."""
from __future__ import annotations

import base64
import html
import io
import re

import nbformat
import pandas as pd
import pytest
from nbformat.v4 import new_code_cell, new_markdown_cell, new_notebook, new_output

from musicgeo_utils import map_html, maps, report



HAS_CHROMIUM = report.chromium_available()
NO_CHROMIUM = "Debian chromium not installed (apt-get install chromium); CI installs it"


def figure_png() -> str:
    """A real matplotlib PNG (base64), as a notebook stores an image output."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    fig, ax = plt.subplots(figsize=(3, 2), dpi=60)
    ax.plot([0, 10], [0, 1500])
    ax.set_xlabel("time (s)")
    ax.set_ylabel("error (km)")
    buffer = io.BytesIO()
    fig.savefig(buffer, format="png")
    plt.close(fig)
    return base64.b64encode(buffer.getvalue()).decode()


def map_output() -> str:
    """The text/html a notebook cell stores for ``map_html.notebook_map``."""
    m = maps.base_map()
    frame = pd.DataFrame({"lat": [53.35], "lon": [-6.26], "title": ["<b>Kerry reel</b>"]})
    maps.add_points(m, frame, tooltip="title")
    return map_html.notebook_map(m, height=360)._repr_html_()


def write_notebooks(folder, png: str, extra_html: str | None = None) -> None:
    """Two numbered notebooks: headings (one repeated), a figure, a map, text output."""
    first = new_notebook(cells=[
        new_markdown_cell("# Corpus of folk tunes\n\nWhere the tunes come from, $x^2$.\n\n## Setup"),
        new_code_cell("plot_errors()", execution_count=1, outputs=[new_output(
            "display_data", data={"image/png": png, "text/plain": "<Figure>"})]),
        new_markdown_cell("## Map of origins"),
        new_code_cell("map_html.notebook_map(m)", execution_count=2, outputs=[new_output(
            "execute_result", execution_count=2,
            data={"text/html": extra_html or map_output(), "text/plain": "<NotebookMap>"})]),
    ])
    second = new_notebook(cells=[
        new_markdown_cell("# Geographic baselines\n\n## Setup"),
        new_code_cell("print(1368)", execution_count=1,
                      outputs=[new_output("stream", name="stdout", text="1368\n")]),
    ])
    nbformat.write(second, folder / "02_baselines.ipynb")  # written first: order is by name
    nbformat.write(first, folder / "01_corpus.ipynb")


@pytest.fixture(scope="module")
def built(tmp_path_factory):
    """(report path, its text, the PNG embedded in notebook 1): one build for the module."""
    folder = tmp_path_factory.mktemp("executed")
    png = figure_png()
    write_notebooks(folder, png)
    out = report.build_report(folder, folder.parent / "out" / "report.html",
                              title="musicgeo <report>")
    return out, out.read_text(encoding="utf-8"), png


def test_report_is_one_offline_file_with_figures_and_maps(built):
    path, page, png = built
    assert [p.name for p in path.parent.iterdir()] == ["report.html"]  # atomic: no temp left
    assert map_html.external_urls(page) == []
    assert "require.js" not in page and "mathjax" not in page.lower()
    assert f"data:image/png;base64,{png}" in page
    assert "<title>musicgeo &lt;report&gt;</title>" in page
    srcdocs = re.findall(r'<iframe[^>]*srcdoc="([^"]*)"', page)
    assert len(srcdocs) == 1
    inner = html.unescape(srcdocs[0])
    assert "Leaflet 1.9.3" in inner and "L.map(" in inner
    assert "&lt;b&gt;Kerry reel" in inner and "<b>Kerry" not in inner  # tooltip escaped


def test_report_toc_links_every_notebook_and_section(built):
    _, page, _ = built
    toc = re.search(r'<nav id="report-toc">(.*?)</nav>', page, flags=re.S).group(1)
    titles = re.findall(r'<li><a href="#(nb\d)">([^<]*)</a>', toc)
    assert titles == [("nb1", "Corpus of folk tunes"), ("nb2", "Geographic baselines")]
    links = re.findall(r'href="#([^"]+)"', toc)
    assert links == ["nb1", "nb1-Setup", "nb1-Map-of-origins", "nb2", "nb2-Setup"]
    for anchor in links:  # every TOC target exists exactly once
        assert len(re.findall(f'id="{re.escape(anchor)}"', page)) == 1
    assert page.index('id="nb1"') < page.index('id="nb2"')


def test_report_refuses_external_urls_and_names_them(tmp_path):
    write_notebooks(tmp_path, figure_png(),
                    extra_html='<script src="https://cdn.example.org/plot.js"></script>')
    out = tmp_path / "report.html"
    with pytest.raises(ValueError, match=r"https://cdn\.example\.org/plot\.js"):
        report.build_report(tmp_path, out)
    assert not out.exists()


def test_report_errors_name_the_folder_or_file(tmp_path):
    with pytest.raises(FileNotFoundError, match="no \\*.ipynb"):
        report.build_report(tmp_path, tmp_path / "r.html")
    (tmp_path / "01_broken.ipynb").write_text("{not json", encoding="utf-8")
    with pytest.raises(ValueError, match="01_broken.ipynb: not a readable notebook"):
        report.build_report(tmp_path, tmp_path / "r.html")


def land_pixels(png_path) -> int:
    """Pixels of exactly the basemap's land colour: only a running Leaflet paints them."""
    import numpy as np
    from PIL import Image

    rgb = np.asarray(Image.open(png_path).convert("RGB"))
    land = tuple(int(maps.LAND_STYLE["fillColor"][i:i + 2], 16) for i in (1, 3, 5))
    return int(np.all(rgb == land, axis=-1).sum())


@pytest.mark.slow
@pytest.mark.skipif(not HAS_CHROMIUM, reason=NO_CHROMIUM)
def test_report_renders_offline_in_headless_chromium(built, tmp_path):
    path, _, _ = built
    png = report.screenshot(path, tmp_path / "report.png", width=1000, height=1400)
    from PIL import Image

    assert Image.open(png).size == (1000, 1400)
    assert land_pixels(png) > 20_000  # the map inside the notebook output was drawn
    dom = report.dom_dump(path)
    assert 'id="report-toc"' in dom and "Geographic baselines" in dom


def test_screenshot_names_a_missing_page(tmp_path):
    with pytest.raises(FileNotFoundError, match="no such HTML file"):
        report.screenshot(tmp_path / "absent.html", tmp_path / "x.png")
