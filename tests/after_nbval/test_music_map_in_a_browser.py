"""Notebook 05's map of music used in a real browser, as a listener uses it (after nbval, in `make test`).

Reads only what nbval's run of notebook 05 wrote: ``reports/maps/music_map.html``
and the excerpts beside it in ``reports/maps/audio/``. Headless system Chromium,
driven by Playwright with real mouse and key events and the browser's DEFAULT
autoplay policy (see ``conftest.py``: no autoplay switch, and the page is read
without granting it a user gesture), each test in a fresh browser context:

- typing in the search box lists what the page's own data says it should
  (counted here from the embedded table), and a click on a result flies to that
  tune and opens its popup;
- hovering a point before any click plays nothing and the panel invites a click;
  after one click on the panel, hovering plays the tune's excerpt, and one sound
  plays at a time (hovering a point stops a popup's player);
- a click on a legend entry hides exactly that style's points (the count the legend
  shows beside it), a second click shows them again;
- the link of a view (another layout, a style hidden, a tune selected) opened in
  a new tab shows the same view.

Expected values come from the page's data, never from constants. The test fails,
not skips, where Chromium or the map is missing (``.ci/run`` installs Chromium).
"""
from __future__ import annotations

import html
import re
from collections import Counter
from urllib.parse import parse_qs, urlsplit

SHOWN_RESULTS = 8  # the panel lists the first 8 hits and says how many there are
PLAYER = "window.musicMapExplorer.player"  # the page's one preview player (an Audio, not in the DOM)
POPUP_AUDIO = "document.querySelector('.leaflet-popup-content audio')"
SOUNDS = (f"[{PLAYER}].concat(Array.prototype.slice.call(document.querySelectorAll('audio')))"
          ".filter(function (a) { return !a.paused; }).length")  # how many play now


def plain(escaped: str) -> str:
    """A text of the page's table as the browser shows it (the table holds it HTML-escaped)."""
    return html.unescape(escaped)


def expected_hits(data: dict, query: str) -> list[int]:
    """Rows a search for ``query`` must find: title, origin, style or tune id contain it, any case."""
    q = query.strip().lower()
    if len(q) < 2:
        return []
    return [i for i in range(len(data["id"]))
            if q in " | ".join(plain(v) for v in (data["title"][i], data["origin"][i],
                                                  data["styles"][data["style"][i]], data["id"][i])).lower()]


def title_word(data: dict, exclude_style: int | None = None) -> tuple[str, list[int]]:
    """The word found in most titles (4+ letters; ties alphabetically) whose first listed hits
    include a tune not of ``exclude_style``, and its hits."""
    words = Counter(w for t in data["title"] for w in set(re.findall(r"[a-z]{4,}", plain(t).lower())))
    for word, _ in sorted(words.items(), key=lambda item: (-item[1], item[0])):
        hits = expected_hits(data, word)
        if any(data["style"][i] != exclude_style for i in hits[:SHOWN_RESULTS]):
            return word, hits
    raise AssertionError("no title word to search for in the page's data")


def test_typing_a_search_lists_the_tunes_and_a_result_flies_to_its_tune(map_browser):
    tab = map_browser.open()
    data = tab.data()
    word, hits = title_word(data)
    assert hits, f"{word!r} comes from a title, so the search must find it"

    tab.click("#mg-search")
    tab.page.keyboard.type(word.capitalize(), delay=20)  # real key presses; the search ignores case
    found = tab.wait("document.getElementById('mg-found').textContent", "the panel says how many it found")
    assert found == f"{len(hits)} tune(s) found", (word, found)
    listed = tab.js("Array.prototype.map.call(document.querySelectorAll('#mg-results > div'),"
                    " function (r) { return r.textContent; })")
    assert listed == [f"{plain(data['title'][i])} {plain(data['styles'][data['style'][i]])}"
                      for i in hits[:SHOWN_RESULTS]]

    first = hits[0]
    tab.click("#mg-results > div")
    view = tab.wait_view(lambda v: v["popup_title"] is not None, "a click on the first result opens its popup")
    assert view["popup_title"] == plain(data["title"][first])
    assert view["selected"] == plain(data["id"][first])
    # flown to: zoomed in (from the start's 3) on the tune's point, in the middle half of the map
    # (centred on it, then panned a little so that the popup above it fits)
    xy = data["xy"][view["layer"]]
    assert view["zoom"] >= 4, view
    assert abs(view["x"] - xy["x"][first]) < view["span"][0] / 4, view
    assert abs(view["y"] - xy["y"][first]) < view["span"][1] / 4, view
    assert parse_qs(view["hash"])["tune"] == [plain(data["id"][first])]
    print(f"search {word.capitalize()!r}: {found}, {len(listed)} listed; opened {plain(data['title'][first])!r}"
          f" at zoom {view['zoom']}")


def test_hover_invites_a_click_first_then_plays_one_sound_at_a_time(map_browser):
    tab = map_browser.open()
    data = tab.data()
    assert tab.js("navigator.userActivation.hasBeenActive") is False, "the test itself activated the page"
    points = [p for p in tab.markers_on_screen() if data["audio"][p["i"]]]
    assert len(points) >= 2, "no point with audio to hover on"
    a = points[0]

    # before any click: the browser refuses the sound, the panel asks for a click
    tab.hover(a["x"], a["y"])
    hint = tab.wait("document.getElementById('mg-hint').textContent", "hovering before a click shows a hint")
    assert "Click once" in hint, hint
    assert tab.js(f"{PLAYER}.paused") is True
    assert tab.js(f"{PLAYER}.src").endswith("/" + plain(data["prefix"]) + data["audio"][a["i"]])
    tooltip = tab.wait("Array.prototype.map.call(document.querySelectorAll('.leaflet-tooltip'),"
                       " function (t) { return t.textContent; }).pop()", "a tooltip on hover")
    assert plain(data["title"][a["i"]]) in tooltip

    # one click on the hint itself: a neutral spot (no popup, no filter, the same view)
    before = tab.view()
    tab.click("#mg-hint")
    assert tab.js("navigator.userActivation.hasBeenActive") is True
    assert tab.view() == before

    # now hovering plays the tune's excerpt, from its start
    tab.js(f"window.__played = []; {PLAYER}.addEventListener('playing', function () {{"
           f" window.__played.push({PLAYER}.src); }})")
    tab.hover(a["x"], a["y"])
    tab.wait(f"{PLAYER}.currentTime > 0.5 && !{PLAYER}.paused", "hovering after a click plays the excerpt")
    heard = tab.js(f"[{PLAYER}.currentTime, {PLAYER}.src, window.__played, "
                   "document.getElementById('mg-hint').textContent]")
    assert heard[1].endswith("/" + plain(data["prefix"]) + data["audio"][a["i"]]) and heard[2] == [heard[1]], heard
    assert heard[3] == "", "the hint stays after the sound played"

    # one sound at a time: the point's popup player (the preview stops as the pointer leaves the point) ...
    tab.page.mouse.click(a["x"], a["y"])
    tab.wait_view(lambda v: v["popup_title"] == plain(data["title"][a["i"]]), "a click on the point opens its popup")
    box = tab.js(f"(function (r) {{ return [r.left, r.top, r.height]; }})({POPUP_AUDIO}.getBoundingClientRect())")
    play = box[0] + 20, box[1] + box[2] / 2  # the play button, first in the controls
    assert tab.js(f"document.elementFromPoint({play[0]}, {play[1]}) === {POPUP_AUDIO}"), "the player is covered"
    tab.page.mouse.click(*play)
    tab.wait(f"{POPUP_AUDIO}.currentTime > 0.2 && !{POPUP_AUDIO}.paused", "the popup's player plays")
    assert tab.js(SOUNDS) == 1, "the preview goes on under the popup's player"

    # ... then hovering another point plays its excerpt and stops the popup's player
    b = next(p for p in tab.markers_on_screen() if data["audio"][p["i"]] and p["i"] != a["i"])
    tab.hover(b["x"], b["y"])
    tab.wait(f"{PLAYER}.currentTime > 0.2 && !{PLAYER}.paused", "hovering a second point plays its excerpt")
    assert tab.js(f"{PLAYER}.src").endswith("/" + plain(data["prefix"]) + data["audio"][b["i"]])
    assert tab.js(f"{POPUP_AUDIO}.paused") is True and tab.js(SOUNDS) == 1, "two sounds at once"
    print(f"before a click: {hint!r}; after one click: {heard[0]:.2f} s of {heard[1].rsplit('/', 1)[-1]}"
          f" played; then the popup's player, then {tab.js(PLAYER + '.src').rsplit('/', 1)[-1]} alone")


def test_a_legend_click_hides_exactly_that_style_and_a_second_shows_it(map_browser):
    tab = map_browser.open()
    data = tab.data()
    counts = Counter(data["style"])
    total = len(data["style"])
    assert tab.view()["visible"] == tab.markers_drawn() == total
    legend = tab.js("Array.prototype.map.call(document.querySelectorAll('#mg-styles .mg-style'),"
                    " function (r) { return r.textContent; })")
    assert legend == [f"{plain(name)} ({counts[s]})" for s, name in enumerate(data["styles"])]

    seen = {}
    for s, name in enumerate(data["styles"]):
        tab.click(f"#mg-styles .mg-style:nth-child({s + 1})")
        view = tab.view()
        drawn = tab.markers_drawn()
        colours = set(tab.js("Array.prototype.map.call(document.querySelectorAll("
                             "'.leaflet-overlay-pane path.leaflet-interactive'), function (p) {"
                             " return p.getAttribute('stroke').toLowerCase(); })"))
        assert view["hidden"] == [s] and view["visible"] == drawn == total - counts[s], (plain(name), view, drawn)
        assert data["palette"][s].lower() not in colours, f"{plain(name)}: some of its points are still drawn"
        assert parse_qs(view["hash"])["hide"] == [str(s)]
        tab.click(f"#mg-styles .mg-style:nth-child({s + 1})")
        view = tab.view()
        assert view["hidden"] == [] and view["visible"] == tab.markers_drawn() == total, (plain(name), view)
        seen[plain(name)] = drawn
    print(f"{total} points; with one style hidden: {seen}")


def test_a_shared_link_opens_the_same_view_in_a_new_tab(map_browser):
    tab = map_browser.open()
    data = tab.data()
    assert len(data["layers"]) >= 2, "the map has one layout: nothing to switch"
    layer = 1
    tab.click(f".leaflet-control-layers-base label:nth-of-type({layer + 1})")
    assert tab.view()["layer"] == layer

    counts = Counter(data["style"])
    hide = counts.most_common(1)[0][0]  # the largest style: most points go
    tab.click(f"#mg-styles .mg-style:nth-child({hide + 1})")

    word, hits = title_word(data, exclude_style=hide)
    tab.click("#mg-search")
    tab.page.keyboard.type(word, delay=20)
    tab.wait("document.querySelectorAll('#mg-results > div').length", "search results listed")
    row = next(k for k, i in enumerate(hits[:SHOWN_RESULTS]) if data["style"][i] != hide)
    tune = hits[row]
    tab.click(f"#mg-results > div:nth-child({row + 1})")
    shared = tab.wait_view(lambda v: v["popup_title"] is not None, "the selected tune's popup")
    url = tab.page.url
    link = urlsplit(url).fragment
    assert link == shared["state"], "the URL does not hold the view"
    fragment = parse_qs(link)
    assert fragment["layer"] == [str(layer)] and fragment["hide"] == [str(hide)], fragment
    assert fragment["tune"] == [plain(data["id"][tune])], fragment
    assert shared["visible"] == len(data["style"]) - counts[hide] == tab.markers_drawn()
    assert shared["popup_title"] == plain(data["title"][tune])

    other = map_browser.open(url)
    again = other.wait_view(lambda v: v["popup_title"] is not None, "the shared link opens the tune's popup")
    for key in ("layer", "checked", "hidden", "selected", "popup_title", "visible"):
        assert again[key] == shared[key], f"the shared link's {key}: {again[key]!r}, not {shared[key]!r}"
    assert other.markers_drawn() == shared["visible"]
    restored = {k: parse_qs(again["state"])[k] for k in ("zoom", "x", "y")}
    assert restored == {k: fragment[k] for k in ("zoom", "x", "y")}, \
        f"the shared link's zoom and centre were not restored: the tab shows {again['state']!r}, the link {link!r}"
    assert again["hash"] == link, f"the new tab rewrote the link {link!r} as {again['hash']!r}"
    print(f"shared {link!r}: layer {data['layers'][layer]!r}, {plain(data['styles'][hide])!r} hidden, "
          f"{again['visible']} points, popup {again['popup_title']!r}")
