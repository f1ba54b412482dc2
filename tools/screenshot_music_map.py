"""Screenshots of the map of music in use: a search, a popup with its neighbours, a filtered legend.

    python tools/screenshot_music_map.py reports/maps/music_map.html docs/screenshots \
        [--search reel] [--select 10] [--hide 2 4] [--song song_map.html]

Each view is made by the page's own explorer API (``window.musicMapExplorer``:
``search``, ``select``, ``toggle``), called after the page has loaded, in a
temporary copy of the page beside it (so its relative audio links hold), and
captured by headless Chromium (:func:`musicgeo_utils.report.screenshot`).
``--song`` also captures a page written by ``musicgeo-predict SONG --music-map``.
Writes ``music_map_search.png``, ``music_map_popup.png``, ``music_map_filter.png``
(and ``music_map_song.png``) into the output folder.
"""
from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path

from musicgeo_utils import report

_CALL = ("<script>window.addEventListener('load', function () {{ setTimeout(function () {{ "
         "var e = window.musicMapExplorer; {body} }}, 50); }});</script></body>")


def capture(page: Path, body: str, png: Path) -> Path:
    """Screenshot ``page`` after running ``body`` (JavaScript, with ``e`` the explorer) on it."""
    copy = page.with_name(f".screenshot-{png.stem}.html")
    copy.write_text(page.read_text(encoding="utf-8").replace("</body>", _CALL.format(body=body), 1),
                    encoding="utf-8")
    try:
        return report.screenshot(copy, png, width=1280, height=900, budget_ms=6000)
    finally:
        copy.unlink(missing_ok=True)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("page", type=Path, help="the map of music (notebook 05 writes reports/maps/music_map.html)")
    parser.add_argument("out", type=Path, help="folder for the PNGs")
    parser.add_argument("--search", default="reel", help="text typed into the search box")
    parser.add_argument("--select", type=int, default=10, help="row of the point whose popup is opened")
    parser.add_argument("--hide", type=int, nargs="*", default=[2, 4], help="legend entries (style rows) to hide")
    parser.add_argument("--song", type=Path, default=None, help="a page from musicgeo-predict --music-map")
    args = parser.parse_args(argv)
    if not args.page.is_file():
        raise SystemExit(f"{args.page}: no such page (run notebook 05 first)")
    args.out.mkdir(parents=True, exist_ok=True)
    typed = ("var box = document.getElementById('mg-search'); box.value = " + json.dumps(args.search)
             + "; box.dispatchEvent(new Event('input'));")
    views = {"search": typed, "popup": f"e.select({int(args.select)});",
             "filter": " ".join(f"e.toggle({int(i)});" for i in args.hide)}
    for name, body in views.items():
        print(capture(args.page, body, args.out / f"music_map_{name}.png"))
    if args.song is not None:
        print(report.screenshot(args.song, args.out / "music_map_song.png", width=1280, height=900, budget_ms=6000))
    return 0


if __name__ == "__main__":
    sys.exit(main())
