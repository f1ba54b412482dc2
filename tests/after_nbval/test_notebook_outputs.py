"""What the notebooks wrote, checked after nbval ran them (`make test`'s last stage).

These tests read ``data/`` and ``reports/`` as the notebooks left them on the
``small`` profile with seed 0 (nbval's run): they need no cache of their own and
never skip on a fresh clone once nbval has passed. Chromium is installed by
``.ci/run``; where it cannot be, the browser test fails with that reason.
"""
from __future__ import annotations

import numpy as np
import pytest

from musicgeo_utils import cache, config, maps, musicmap, report

PROFILE, SEED = "small", 0


@pytest.fixture(scope="module")
def held_out():
    path = config.DATA_DIR / "results" / f"crnn-style-{PROFILE}-{SEED}.npz"
    assert path.is_file(), f"{path} missing: notebook 04 did not run (nbval must run first)"
    return cache.read_npz(path)


def test_music_map_page_fetches_nothing_from_the_network(held_out):
    page = config.REPORTS_DIR / "maps" / "music_map.html"
    assert page.is_file(), f"{page} missing: notebook 05 did not run"
    # maps.external_urls: what a browser would fetch (scripts, styles, images, media,
    # iframes), not <a href> links such as Leaflet's attribution
    assert maps.external_urls(page.read_text(encoding="utf-8")) == []


def test_music_map_shows_every_held_out_tune_in_a_browser(held_out, tmp_path):
    if not report.chromium_available():
        pytest.fail("no Chromium: .ci/run installs it (apt-get install chromium); the map check needs it")
    page = config.REPORTS_DIR / "maps" / "music_map.html"
    found = musicmap.check_music_map(page, tmp_path / "map.png")
    assert found["markers_visible"] == len(np.asarray(held_out["tune_id"]))
    assert found["popup_open"] and found["audio_element"]
    assert found.get("audio_file_decodes"), found
