"""The interactive map of music: offline page, escaping, layer control, audio excerpts, Chromium."""
from __future__ import annotations

import html
import json
import re

import numpy as np
import pandas as pd
import pytest
import soundfile as sf

from musicgeo_utils import map_html, maps, musicmap, report, songmap

XSS_TITLE = "<script>alert(1)</script>"
XSS_IMG = "<img src=x onerror=\"document.body.setAttribute('data-pwned','1')\">"
SAMPLE_RATE = 12000
LAYOUT_NAMES = ["PCA", "t-SNE perplexity=30", "UMAP n_neighbors=15 min_dist=0.1"]




def tone(seconds: float, hz: float) -> np.ndarray:
    """A plucked-string-like tone: 4 notes a second at ``hz`` Hz, decaying."""
    t = np.arange(int(seconds * SAMPLE_RATE)) / SAMPLE_RATE
    return (0.4 * np.sin(2 * np.pi * hz * t) * np.exp(-6 * (t % 0.25))).astype(np.float32)


@pytest.fixture()
def corpus(tmp_path):
    """12 tunes in three styles, their FLAC clips (8 s, one 3 s), and three layouts."""
    rng = np.random.default_rng(0)
    n = 12
    ids = [f"essen/han/{i}" for i in range(n)]
    paths = {}
    for i, tune_id in enumerate(ids):
        path = tmp_path / "flac" / f"{i}.flac"
        path.parent.mkdir(exist_ok=True)
        sf.write(path, tone(3.0 if i == 1 else 8.0, 220 * 2 ** (i / 12)), SAMPLE_RATE)
        paths[tune_id] = str(path)
    points = pd.DataFrame({
        "tune_id": ids,
        "title": [XSS_TITLE, XSS_IMG] + [f"Tune {i}" for i in range(2, n)],
        "country": ["China", "Germany", "Ireland"] * 4,
        "style": ["Chinese folk", "German folk", "Irish dance"] * 4,
    })
    centres = 10 * np.eye(3)[np.arange(n) % 3, :2]  # one cluster per style
    layouts = {name: (rng.normal(size=(n, 2)) + centres) * scale
               for name, scale in zip(LAYOUT_NAMES, (1.0, 30.0, 3.0))}
    return points, layouts, pd.Series(paths), tmp_path / "maps"


def build(corpus, **kw):
    points, layouts, paths, out = corpus
    m = musicmap.music_map(points, layouts, paths, out, title=XSS_TITLE, seed=0, **kw)
    return musicmap.save_music_map(m, out / "music_map.html")


def point_table(page: str) -> dict:
    """The shared JSON table of clip texts in a saved page."""
    return json.loads(re.search(r"var d = (\{.*?\});\n", page).group(1))


def test_page_is_offline_escapes_titles_and_has_a_layer_per_layout(corpus):
    page = build(corpus).read_text(encoding="utf-8")
    assert map_html.external_urls(page) == []
    assert XSS_TITLE not in page and "<img src=x" not in page
    assert "<title>&lt;script&gt;alert(1)&lt;/script&gt;</title>" in page
    table = point_table(page)
    assert table["title"][:2] == [maps.escape(XSS_TITLE), maps.escape(XSS_IMG)]
    assert table["styles"] == ["Chinese folk", "German folk", "Irish dance"]
    # One radio-button (base) layer per layout, named in the control; only the first shown.
    control = re.search(r"base_layers : \{(.*?)\}", page, flags=re.S).group(1)
    assert re.findall(r'"([^"]+)" :', control) == LAYOUT_NAMES
    groups = re.findall(r'"[^"]+" : (feature_group_\d+)', control)
    shown = [g for g in groups if f"{g}.addTo(map_1)" in page]
    assert shown == groups[:1]
    assert "L.CRS.Simple" in page and page.count("L.circleMarker(") == 3
    assert "Style" in page and "#d62728" in page  # legend with the fixed style colours


def test_layer_names_and_labels_are_escaped(corpus):
    points, layouts, paths, out = corpus
    hostile = {XSS_IMG: layouts["PCA"]}
    points = points.assign(style=[XSS_IMG, "jig", "reel"] * 4, country=XSS_TITLE)
    m = musicmap.music_map(points, hostile, None, None, title="t")
    page = map_html.offline_html(m)
    assert "<img src=x" not in page and XSS_TITLE not in page
    table = point_table(page)
    assert maps.escape(XSS_IMG) in table["styles"] and set(table["origin"]) == {maps.escape(XSS_TITLE)}


def test_audio_excerpts_are_relative_small_and_decode(corpus):
    page = build(corpus, clip_seconds=6.0).read_text(encoding="utf-8")
    _, _, paths, out = corpus
    table = point_table(page)
    assert table["prefix"] == "audio/" and all(table["audio"])
    for name in table["audio"]:
        assert re.fullmatch(r"[A-Za-z0-9_.-]+", name)
        audio, rate = sf.read(out / "audio" / name, dtype="float32")
        assert rate == SAMPLE_RATE and np.abs(audio).max() > 0.1
    lengths = [sf.info(str(out / "audio" / name)).duration for name in table["audio"]]
    assert lengths[0] == pytest.approx(6.0, abs=0.15) and lengths[1] == pytest.approx(3.0, abs=0.15)
    sizes = [(out / "audio" / name).stat().st_size for name in table["audio"]]
    assert max(sizes) < 20_000  # ~16 kbit/s for 6 s
    # A rerun reuses the excerpts; a missing clip is skipped, counted and reported.
    again = musicmap.write_audio_excerpts(paths, out)
    assert set(again.status) == {"cached"}
    broken = paths.copy()
    broken.iloc[3] = str(out / "missing.flac")
    with pytest.warns(UserWarning, match="no audio for 1 of 12 tunes"):
        m = musicmap.music_map(corpus[0], corpus[1], broken, out)
    assert point_table(map_html.offline_html(m))["audio"][3] == ""
    skipped = musicmap.write_audio_excerpts(broken, out)
    assert skipped.loc[3, "status"] == "skipped" and "missing.flac" in skipped.loc[3, "reason"]


def test_report_version_points_at_the_same_files_or_at_none(corpus):
    points, layouts, paths, out = corpus
    m = musicmap.music_map(points, layouts, paths, out, audio_prefix="maps/audio/")
    table = point_table(map_html.offline_html(m))
    assert table["prefix"] == "maps/audio/" and (out / "audio" / table["audio"][0]).is_file()
    silent = point_table(map_html.offline_html(musicmap.music_map(points, layouts, paths, out, audio="none")))
    assert silent["audio"] == [""] * 12 and silent["note"] == maps.escape(musicmap.DEFAULT_NOTE)
    for prefix in ("https://cdn.example/audio/", "//host/audio/", "/abs/audio/", "javascript:x/"):
        with pytest.raises(ValueError, match="relative path"):
            musicmap.music_map(points, layouts, paths, out, audio_prefix=prefix)


def test_thousand_points_page_stays_small():
    rng = np.random.default_rng(1)
    n = 1000
    points = pd.DataFrame({"tune_id": [f"oneills1850/{i}" for i in range(n)],
                           "title": [f"The Humours of Ballyloughlin no. {i}" for i in range(n)],
                           "country": "Ireland", "style": rng.choice(["Irish dance", "German folk"], n)})
    layouts = {name: rng.normal(size=(n, 2)) for name in LAYOUT_NAMES}
    m = musicmap.music_map(points, layouts, None, None)
    size = len(map_html.offline_html(m).encode())
    assert size < 600_000  # ~250 KB of Leaflet + jQuery, ~0.3 KB a clip


def test_scale_layout_and_sampling():
    Y = np.array([[0.0, 0.0], [10.0, 2.0], [5.0, 1.0]])
    scaled = musicmap.scale_layout(Y * 7 - 3)
    assert scaled[:, 0].tolist() == pytest.approx([0, 100, 50])
    assert scaled[:, 1].tolist() == pytest.approx([40, 60, 50])  # aspect kept, centred
    with pytest.raises(ValueError, match="finite"):
        musicmap.scale_layout(np.array([[0.0, np.nan], [1.0, 1.0]]))
    points = pd.DataFrame({"style": ["a"] * 80 + ["b"] * 20})
    keep = musicmap.sample_points(points, 10, seed=3)
    assert len(keep) == 10 and np.array_equal(keep, musicmap.sample_points(points, 10, seed=3))
    assert (points["style"].iloc[keep] == "b").sum() == 2  # 20% of 10
    assert not np.array_equal(keep, musicmap.sample_points(points, 10, seed=4))


def test_bad_points_and_layouts_are_named(corpus):
    points, layouts, paths, out = corpus
    with pytest.raises(KeyError, match=r"lacks columns \['title'\]"):
        musicmap.music_map(points.drop(columns="title"), layouts)
    with pytest.raises(ValueError, match="layout 'PCA' has 5 rows, the points table 12"):
        musicmap.music_map(points, {"PCA": layouts["PCA"][:5]})
    with pytest.raises(ValueError, match="needs out_dir"):
        musicmap.music_map(points, layouts, paths, None)


@pytest.mark.slow
@pytest.mark.skipif(not report.chromium_available(), reason="Debian chromium not installed (apt-get install chromium)")
def test_clicking_a_point_opens_a_popup_with_working_audio(corpus, tmp_path):
    path = build(corpus)
    found = musicmap.check_music_map(path, tmp_path / "music_map.png", layer=2)
    # Switched to the third layout: its 12 points alone are on the map.
    assert found["markers_visible"] == 12 and found["layers"] == LAYOUT_NAMES
    assert found["popup_open"] and found["audio_element"]
    assert XSS_TITLE in found["popup_text"]  # shown as text, not run as a script
    assert found["audio_src"].startswith("audio/") and found["audio_file_decodes"]
    assert found["audio_event"] == "loadedmetadata" and found["audio_error"] is None
    assert found["duration_s"] == pytest.approx(6.0, abs=0.2)
    png = (tmp_path / "music_map.png").read_bytes()
    assert png[:8] == b"\x89PNG\r\n\x1a\n" and len(png) > 10_000
    assert not list(path.parent.glob(".check-*"))  # the probe copy is removed


_PROBE = """<script>
window.addEventListener("load", function () { setTimeout(function () { try {
  var E = window.musicMapExplorer, out = {start: E.visibleCount(), layer: E.layer(), hidden: E.hidden(),
                                          selected: E.selected(), hash: location.hash};
  out.popup = (document.querySelector(".leaflet-popup-content") || {}).textContent || "";
  out.selected_at_start = out.selected;
  if (__ACT__) {
    out.irish = E.search("irish").length;
    out.tune_1 = E.search("tune 1").length;  // Tune 10 and Tune 11
    out.results = document.getElementById("mg-results").children.length;
    out.found_text = document.getElementById("mg-found").textContent;
    out.img = E.search("img src").length;  // the title made of markup is found as text ...
    out.pwned = document.body.getAttribute("data-pwned");  // ... and never run
    E.toggle(0); out.after_hide = E.visibleCount();
    out.csv = E.csv();
    E.select(5); out.state = E.state(); out.selected = E.selected(); out.hash = location.hash;
    out.popup = (document.querySelector(".leaflet-popup-content") || {}).textContent || "";
  }
  } catch (err) { out = {error: String(err) + " " + (err.stack || "")}; }
  var pre = document.createElement("pre"); pre.id = "probe"; pre.textContent = JSON.stringify(out);
  document.body.appendChild(pre);
}, 300); });
</script>"""


def probe(path, act: bool, fragment: str = "") -> dict:
    page = path.with_name("probe.html")
    page.write_text(path.read_text(encoding="utf-8").replace(
        "</body>", _PROBE.replace("__ACT__", "true" if act else "false") + "</body>", 1), encoding="utf-8")
    dom = report.dom_dump(page, budget_ms=4000, fragment=fragment)
    found = re.search(r'<pre id="probe">(.*?)</pre>', dom, flags=re.S)
    assert found, "the probe did not run"
    result = json.loads(html.unescape(found.group(1)))
    assert "error" not in result, result.get("error")
    return result


@pytest.mark.slow
@pytest.mark.skipif(not report.chromium_available(), reason="Debian chromium not installed (apt-get install chromium)")
def test_search_filter_export_and_a_shared_view(corpus):
    path = build(corpus)
    page = path.read_text(encoding="utf-8")
    assert 'id="mg-search"' in page and "export the visible points (CSV)" in page
    used = probe(path, act=True)
    assert used["start"] == 12 and used["layer"] == 0 and used["hidden"] == [] and used["selected_at_start"] is None
    assert used["irish"] == 4 and used["tune_1"] == 2 and used["results"] == 2
    assert used["found_text"] == "2 tune(s) found"
    assert used["img"] == 1 and used["pwned"] is None
    assert used["after_hide"] == 8  # the first style (4 tunes) hidden from the map
    rows = used["csv"].strip().split("\n")
    assert rows[0] == "tune_id,title,origin,style,x,y" and len(rows) == 1 + 8
    assert not any(",Chinese folk," in r for r in rows[1:])
    assert '"<img src=x onerror=""document.body.setAttribute(\'data-pwned\',\'1\')"">"' in used["csv"]
    assert used["selected"] == "essen/han/5" and "Tune 5" in used["popup"]
    assert "hide=0" in used["state"] and "tune=essen%2Fhan%2F5" in used["state"] and "layer=0" in used["state"]
    assert used["hash"] == "#" + used["state"]  # the view is in the URL
    # the shared link reopens the same view: third layout, styles 0 and 2 hidden, tune 4 open
    shared = probe(path, act=False, fragment="layer=2&zoom=3.00&x=40.00&y=30.00&hide=0.2&tune=essen%2Fhan%2F4")
    assert shared["layer"] == 2 and shared["hidden"] == [0, 2] and shared["start"] == 4
    assert shared["selected"] == "essen/han/4" and "Tune 4" in shared["popup"]
    assert "zoom=3.00" in shared["hash"] and "x=40.00" in shared["hash"]


def test_nearest_neighbours_leave_each_row_out_and_follow_sampling():
    X = np.array([[1.0, 0.0], [0.9, 0.1], [0.0, 1.0], [0.1, 0.9], [1.0, 0.05]])
    near = musicmap.nearest_neighbours(X, k=2)
    assert near.shape == (5, 2) and not (near == np.arange(5)[:, None]).any()
    assert set(near[0]) == {1, 4} and near[2, 0] == 3
    assert musicmap.nearest_neighbours(X[:2], k=5).shape == (2, 1)  # k capped at n - 1
    with pytest.raises(ValueError, match="n >= 2"):
        musicmap.nearest_neighbours(X[:1])
    kept = musicmap._kept_neighbours(near, np.array([0, 2, 3]), 5)
    assert kept == [[], [2], [1]]  # rows 1 and 4 were not drawn: 0 keeps no neighbour; 2 <-> 3 renumbered
    with pytest.raises(ValueError, match="row indices"):
        musicmap._kept_neighbours(near + 10, np.arange(5), 5)


@pytest.mark.slow
@pytest.mark.skipif(not report.chromium_available(), reason="Debian chromium not installed (apt-get install chromium)")
def test_popup_lists_playable_neighbours_with_what_they_share(corpus):
    points, layouts, paths, out = corpus
    points = points.assign(key=["D", "G", "D", "A"] * 3, meter=["6/8", "4/4", "3/4"] * 4)
    near = musicmap.nearest_neighbours(layouts["PCA"], k=3)
    m = musicmap.music_map(points, layouts, paths, out, title="map", seed=0, neighbours=near)
    path = musicmap.save_music_map(m, out / "music_map.html")
    script = """<script>
window.addEventListener("load", function () { setTimeout(function () { var out = {};
  try {
    var E = window.musicMapExplorer; E.select(3, false);
    var box = document.querySelector(".leaflet-popup-content");
    out.near = Array.prototype.map.call(box.querySelectorAll(".mg-near > div"), function (r) { return r.textContent; });
    out.play = box.querySelectorAll("[data-mg-play]").length;
    box.querySelector("[data-mg-open]").click();
    out.after = E.selected(); out.hash = location.hash;
  } catch (err) { out.error = String(err); }
  var pre = document.createElement("pre"); pre.id = "probe"; pre.textContent = JSON.stringify(out);
  document.body.appendChild(pre);
}, 300); });
</script>"""
    page = path.with_name("probe.html")
    page.write_text(path.read_text(encoding="utf-8").replace("</body>", script + "</body>", 1), encoding="utf-8")
    found = json.loads(html.unescape(re.search(r'<pre id="probe">(.*?)</pre>', report.dom_dump(page)).group(1)))
    assert "error" not in found, found
    titles = [points["title"][j] for j in near[3]]
    assert len(found["near"]) == 3 and found["play"] == 3
    for text, j in zip(found["near"], near[3]):
        assert text.startswith(f"\u25b6 {points['title'][j]}")
        shared = [w for w, same in (("style", points["style"][j] == points["style"][3]),
                                    ("origin", points["country"][j] == points["country"][3]),
                                    (f"key {points['key'][3]}", points["key"][j] == points["key"][3]),
                                    (f"metre {points['meter'][3]}", points["meter"][j] == points["meter"][3])) if same]
        assert text.endswith("same " + ", ".join(shared) if shared else "near in sound only")
    assert found["after"] == points["tune_id"][near[3][0]] and titles
    assert "tune=" in found["hash"]  # opening a neighbour is a shareable view too


_HOVER = """<script>
window.addEventListener("load", function () { setTimeout(function () { var out = {};
  var E = window.musicMapExplorer, point = document.querySelector("path.leaflet-interactive");
  point.dispatchEvent(new MouseEvent("mouseover", {bubbles: true, view: window}));  // hover, no click yet
  setTimeout(function () {
    out.hint = document.getElementById("mg-hint").textContent; out.paused = E.player.paused;
    out.src = E.player.getAttribute("src") || E.player.src;
    point.dispatchEvent(new MouseEvent("mouseout", {bubbles: true, view: window}));
    out.paused_after_leaving = E.player.paused;
    var pre = document.createElement("pre"); pre.id = "probe"; pre.textContent = JSON.stringify(out);
    document.body.appendChild(pre);
  }, 500);
}, 300); });
</script>"""


@pytest.mark.slow
@pytest.mark.skipif(not report.chromium_available(), reason="Debian chromium not installed (apt-get install chromium)")
def test_hover_previews_a_tune_or_invites_a_first_click(corpus):
    path = build(corpus)
    page = path.with_name("hover.html")
    page.write_text(path.read_text(encoding="utf-8").replace("</body>", _HOVER + "</body>", 1), encoding="utf-8")

    def hover(*flags):
        dom = report.dom_dump(page, budget_ms=4000, flags=flags)
        return json.loads(html.unescape(re.search(r'<pre id="probe">(.*?)</pre>', dom).group(1)))

    # Chromium's default policy: no sound before the page has been clicked; the panel says so
    blocked = hover()
    assert blocked["paused"] and "Click once" in blocked["hint"] and "audio/" in blocked["src"]
    # what the page may do after a first click: the preview plays, and stops when the pointer leaves
    allowed = hover("--autoplay-policy=no-user-gesture-required")
    assert not allowed["paused"] and allowed["hint"] == "" and allowed["paused_after_leaving"]


@pytest.mark.slow
@pytest.mark.skipif(not report.chromium_available(), reason="Debian chromium not installed (apt-get install chromium)")
def test_song_map_opens_on_the_song_with_its_nearest_tunes(corpus, tmp_path):
    points, layouts, paths, out = corpus
    X = np.random.default_rng(2).normal(size=(len(points), 4))
    path = songmap.save_map_reference(tmp_path / "ref.npz", points, layouts, X)
    reference = songmap.read_map_reference(path)
    assert reference["points"]["title"].tolist() == points["title"].tolist()
    page, nearest = songmap.song_map(reference, "<b>my song</b>.wav", X[4] + 0.01, out / "song.html", k=3)
    assert nearest["tune_id"].iloc[0] == "essen/han/4" and len(nearest) == 3
    opened = probe(page, act=False)
    assert opened["selected"] == "your song: <b>my song</b>.wav" and opened["start"] == len(points) + 1
    assert "Nearest tunes" in opened["popup"] and "Tune 4" in opened["popup"]
    with pytest.raises(ValueError, match="dimensions"):
        songmap.place_on_layouts(reference, X[0][:2])
    with pytest.raises(ValueError, match="select"):
        musicmap.music_map(points, layouts, select="nobody")
