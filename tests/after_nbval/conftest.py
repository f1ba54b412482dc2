"""A real browser for the after-nbval stage: notebook 05's map of music opened in headless Chromium.

``map_browser`` opens ``reports/maps/music_map.html`` (what nbval's run of
notebook 05 wrote) in the system's Chromium (:func:`musicgeo_utils.report.find_chromium`;
``.ci/run`` installs it) driven by Playwright, with the browser's default
autoplay policy: no ``--autoplay-policy`` switch. Each test gets a fresh
browser context; a failing test leaves a screenshot of each of its tabs in
its ``tmp_path``.

Input goes through Playwright's real mouse and keyboard. The page is READ
through a DevTools session (``Runtime.evaluate``) instead of Playwright's
``evaluate``, locators or ``wait_for_function``: Playwright runs its own
scripts with ``userGesture: true``, which counts as the user's first click
and would let sound play before any click. :meth:`MapPage.js` runs with no
gesture, so the page stays as unactivated as a page nobody touched.
"""
from __future__ import annotations

import json
import time
from pathlib import Path

import pytest

from musicgeo_utils import config, report

MUSIC_MAP = config.REPORTS_DIR / "maps" / "music_map.html"
VIEWPORT = {"width": 1280, "height": 900}
TIMEOUT_S = 20.0  # one wait in the page; the whole module takes well under a minute

# The page's own objects: the point table (texts, styles, audio files, one
# {group, markers, xy} per layout) and the Leaflet map, found by what they are.
_TABLE = ("Object.values(window).find(function (v) { try { return v && v.d && Array.isArray(v.layers)"
          " && typeof v.tooltip === 'function'; } catch (e) { return false; } })")
_MAP = "Object.values(window).find(function (v) { try { return v instanceof L.Map; } catch (e) { return false; } })"


class MapPage:
    """One tab on the map: ``page`` (Playwright) for input, :meth:`js` and :meth:`wait` to read it."""

    def __init__(self, page):
        self.page = page
        self._cdp = page.context.new_cdp_session(page)

    def js(self, expression: str):
        """The value of a JavaScript expression in the page, evaluated without a user gesture."""
        answer = self._cdp.send("Runtime.evaluate", {"expression": expression, "returnByValue": True,
                                                     "awaitPromise": True})
        if "exceptionDetails" in answer:
            details = answer["exceptionDetails"]
            raise AssertionError(f"the page threw on {expression[:200]!r}: "
                                 f"{details.get('exception', {}).get('description', details.get('text'))}")
        return answer["result"].get("value")

    def wait(self, expression: str, what: str, timeout: float = TIMEOUT_S):
        """Poll ``expression`` until it is truthy and return it; fail saying ``what`` did not happen."""
        return self._until(lambda: self.js(expression), what, expression[:200], timeout)

    def wait_view(self, condition, what: str, timeout: float = TIMEOUT_S) -> dict:
        """Poll :meth:`view` until ``condition(view)`` holds and the map has stopped moving (the
        same view twice, 0.25 s apart: a popup pans the map, a layer is drawn after a zoom),
        and return that view."""
        last = {}

        def probe():
            view = self.view()
            still, last["view"] = view == last.get("view"), view
            if condition(view) and still:
                return view
            time.sleep(0.25)
            return None

        return self._until(probe, what, "view", timeout)

    @staticmethod
    def _until(probe, what: str, name: str, timeout: float):
        deadline, value = time.monotonic() + timeout, None
        while time.monotonic() < deadline:
            value = probe()
            if value:
                return value
            time.sleep(0.05)
        raise AssertionError(f"{what}: not after {timeout:.0f} s ({name} -> {value!r})")

    # ------------------------------------------------------------------ the page's data and state

    def data(self) -> dict:
        """The page's point table: ``title``, ``origin``, ``id`` (HTML-escaped, as embedded), ``style``
        (index into ``styles``), ``palette``, ``audio`` (file names), ``prefix``; ``xy`` one
        ``{x, y}`` per layout; ``layers`` the layer control's names."""
        return self.js(f"""(function () {{ var T = {_TABLE}, d = T.d;
          return {{title: d.title, origin: d.origin, id: d.id, style: d.style, styles: d.styles,
                   palette: d.palette, audio: d.audio, prefix: d.prefix,
                   xy: T.layers.map(function (l) {{ return l.xy; }}),
                   layers: Array.prototype.map.call(document.querySelectorAll(
                     '.leaflet-control-layers-base label'), function (l) {{ return l.textContent.trim(); }})}};
        }})()""")

    def markers_drawn(self) -> int:
        """Circle markers in the page's SVG (what the eye sees, not the explorer's own count)."""
        return self.js("document.querySelectorAll('.leaflet-overlay-pane path.leaflet-interactive').length")

    def view(self) -> dict:
        """Layer, hidden styles, selected tune, counts, centre, ``span`` (width, height of the
        map in its units), the open popup's title and where the first drawn marker is on screen."""
        return self.js(f"""(function () {{ var e = window.musicMapExplorer, map = {_MAP}, c = map.getCenter();
          var radios = Array.prototype.map.call(document.querySelectorAll(
            '.leaflet-control-layers-base input'), function (r) {{ return r.checked; }});
          var popup = document.querySelector('.leaflet-popup-content .mg-music > div');
          var first = document.querySelector('.leaflet-overlay-pane path.leaflet-interactive');
          var box = first ? first.getBoundingClientRect() : null;
          return {{layer: e.layer(), checked: radios.indexOf(true), hidden: e.hidden().sort(),
                   selected: e.selected(), visible: e.visibleCount(), state: e.state(),
                   zoom: map.getZoom(), x: c.lng, y: c.lat, hash: location.hash.slice(1),
                   span: [map.getBounds().getEast() - map.getBounds().getWest(),
                          map.getBounds().getNorth() - map.getBounds().getSouth()],
                   popup_title: popup ? popup.textContent : null,
                   first_marker: box ? [box.left, box.top, box.width] : null}};
        }})()""")

    def centre_of(self, selector: str) -> tuple[float, float]:
        """On-screen centre of the first element matching ``selector`` (it must be visible)."""
        box = self.js(f"""(function () {{ var el = document.querySelector({json.dumps(selector)});
          if (!el) {{ return null; }} var r = el.getBoundingClientRect();
          return r.width && r.height ? [r.left + r.width / 2, r.top + r.height / 2] : null; }})()""")
        assert box, f"{selector}: not on screen"
        return box[0], box[1]

    def markers_on_screen(self) -> list[dict]:
        """Points of the shown layout a pointer can reach: ``{i, x, y}`` (row in the table, screen
        position), each marker's centre inside the window and not covered by another marker,
        a panel or a popup."""
        return self.js(f"""(function () {{ var T = {_TABLE}, map = {_MAP}, out = [];
          T.layers[window.musicMapExplorer.layer()].markers.forEach(function (m, i) {{
            if (!map.hasLayer(m) || !m._path) {{ return; }}
            var r = m._path.getBoundingClientRect(), x = r.left + r.width / 2, y = r.top + r.height / 2;
            if (x > 0 && y > 0 && x < innerWidth && y < innerHeight && document.elementFromPoint(x, y) === m._path) {{
              out.push({{i: i, x: x, y: y}});
            }}
          }});
          return out; }})()""")

    # ------------------------------------------------------------------ real input

    def click(self, selector: str) -> None:
        """A real mouse click at an element's centre (found with no gesture, so only the click counts)."""
        self.page.mouse.click(*self.centre_of(selector))

    def hover(self, x: float, y: float) -> None:
        """Move the real pointer there (one move: it passes over no other point on the way)."""
        self.page.mouse.move(x, y)


class _Chromium:
    """Playwright's driver and the system's Chromium, launched on first use."""

    def __init__(self, playwright):
        self.playwright, self.browser = playwright, None

    def launch(self):
        if self.browser is None:
            if not report.chromium_available():
                pytest.fail("no Chromium: .ci/run installs it (apt-get install chromium); "
                            "the map checks in a real browser need it")
            # the system's browser, never `playwright install`. Playwright adds no autoplay
            # switch (headless, it mutes the output, which leaves the autoplay policy as it is)
            self.browser = self.playwright.chromium.launch(executable_path=report.find_chromium(), headless=True)
        return self.browser


class MapBrowser:
    """Opens the map in new tabs of one fresh browser context."""

    def __init__(self, chromium: _Chromium):
        self._chromium, self._context = chromium, None
        self.url = MUSIC_MAP.resolve().as_uri()
        self.tabs: list[MapPage] = []

    def open(self, url: str | None = None) -> MapPage:
        """A new tab on ``url`` (default: the map), once the map is drawn and still.

        Fails, never skips, where the map or Chromium is missing (called inside the
        test, so pytest reports a failed test with the reason, not a setup error)."""
        if not MUSIC_MAP.is_file():
            pytest.fail(f"{MUSIC_MAP} missing: notebook 05 did not run (nbval must run first)")
        if self._context is None:
            self._context = self._chromium.launch().new_context(viewport=VIEWPORT)
            self._context.set_default_timeout(TIMEOUT_S * 1000)
        tab = MapPage(self._context.new_page())
        self.tabs.append(tab)
        tab.page.goto(url or self.url)
        # the explorer restores the view from the fragment just after load, and the markers
        # are drawn in place a moment later: wait until nothing moves
        tab.wait("window.musicMapExplorer && document.readyState === 'complete'", "the map's explorer loaded")
        tab.wait_view(lambda view: view["first_marker"], "the map drawn and still")
        return tab

    def close(self, screenshots_to: Path | None) -> None:
        if self._context is None:
            return
        if screenshots_to is not None:
            for k, tab in enumerate(self.tabs):
                try:
                    tab.page.screenshot(path=str(screenshots_to / f"tab-{k}.png"))
                    print(f"screenshot of tab {k} ({tab.page.url}): {screenshots_to / f'tab-{k}.png'}")
                except Exception as err:  # a crashed tab must not hide the test's own failure
                    print(f"no screenshot of tab {k}: {err}")
        self._context.close()


@pytest.fixture(scope="module")
def _chromium():
    from playwright.sync_api import sync_playwright  # a test dependency (requirements.in)

    with sync_playwright() as playwright:
        chromium = _Chromium(playwright)
        yield chromium
        if chromium.browser is not None:
            chromium.browser.close()


@pytest.hookimpl(hookwrapper=True)
def pytest_runtest_makereport(item, call):
    outcome = yield
    if call.when == "call":
        item.failed_in_call = outcome.get_result().failed


@pytest.fixture
def map_browser(_chromium, request, tmp_path):
    """Tabs on notebook 05's map in one fresh context of headless system Chromium (see module doc)."""
    browser = MapBrowser(_chromium)
    yield browser
    browser.close(tmp_path if getattr(request.node, "failed_in_call", False) else None)
