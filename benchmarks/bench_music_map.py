"""How big is the map of music's page, and how long does it take to open, as the clips grow?

Builds the page that notebook 05 writes (three layouts, the search and filter
panel, five neighbours per clip, an audio file name per clip; the excerpts
themselves sit beside the page and are not part of its size) for synthetic
clips: by default 989 (the `small` profile's held-out count) and 3,678 (the
`full` profile's). Texts are as long as the corpus's (titles of 30 characters,
ids like ``essenFolksong/kinder/k0123``). Prints, per size: the page's bytes,
the bytes per clip beyond the first size's, and the time headless Chromium
takes to open the page and draw every point of the first layout (wall clock of
``--dump-dom`` with a probe that waits for the markers; the median of
``--repeat`` runs, all in this one run, so the ratio between sizes compares).

    python benchmarks/bench_music_map.py --sizes 989 3678 --repeat 3
"""
from __future__ import annotations

import argparse
import re
import statistics
import tempfile
import time
from pathlib import Path

import numpy as np
import pandas as pd

from musicgeo_utils import musicmap, report

STYLES = ["American fiddle", "Anglo-American folk", "Chinese folk", "European folk", "German folk",
          "Irish dance", "Scottish airs"]
_PROBE = """<script>
window.addEventListener("load", function () { setTimeout(function () {
  var n = window.musicMapExplorer.visibleCount(), pre = document.createElement("pre");
  pre.id = "probe"; pre.textContent = String(n); document.body.appendChild(pre);
}, 0); });
</script>"""


def page_for(n: int, folder: Path, seed: int = 0) -> Path:
    rng = np.random.default_rng(seed)
    style = rng.choice(STYLES, size=n)
    points = pd.DataFrame({"tune_id": [f"essenFolksong/kinder/k{i:05d}" for i in range(n)],
                           "title": [f"Tune number {i:05d} of the corpus" for i in range(n)],
                           "country": rng.choice(["Germany", "China", "United Kingdom", "Ireland"], size=n),
                           "style": style, "key": rng.choice(["C", "D", "G", "A"], size=n),
                           "meter": rng.choice(["3/4", "4/4", "6/8"], size=n)})
    X = rng.normal(size=(n, 32)) + 3 * np.eye(32)[pd.factorize(style)[0]]
    layouts = {name: rng.normal(size=(n, 2)) for name in ("PCA", "t-SNE perplexity=15", "UMAP n_neighbors=10")}
    audio = pd.Series([f"{i}.flac" for i in range(n)], index=points["tune_id"])
    m = musicmap.music_map(points, layouts, audio, folder, audio="none", neighbours=musicmap.nearest_neighbours(X))
    # audio="none" writes no excerpts; give every clip a file name as the real page has
    page = musicmap.save_music_map(m, folder / f"map-{n}.html")
    text = page.read_text(encoding="utf-8")
    names = ",".join(f'"{i}-0123abcd.mp3"' for i in range(n))
    text, replaced = re.subn(r'"audio":\[[^\]]*\]', f'"audio":[{names}]', text, count=1)
    if replaced != 1:
        raise RuntimeError(f"{page}: no audio list in the point table")
    page.write_text(text.replace("</body>", _PROBE + "</body>", 1), encoding="utf-8")
    return page


def open_seconds(page: Path, n: int) -> float:
    start = time.perf_counter()
    dom = report.dom_dump(page, budget_ms=2000)
    seconds = time.perf_counter() - start
    found = re.search(r'<pre id="probe">(\d+)</pre>', dom)
    if not found or int(found.group(1)) != n:
        raise RuntimeError(f"{page}: the page did not draw its {n} points ({found and found.group(1)})")
    return seconds


def main(argv=None) -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--sizes", type=int, nargs="+", default=[989, 3678])
    parser.add_argument("--repeat", type=int, default=3)
    args = parser.parse_args(argv)
    rows = []
    with tempfile.TemporaryDirectory() as tmp:
        for n in args.sizes:
            page = page_for(n, Path(tmp))
            seconds = statistics.median(open_seconds(page, n) for _ in range(args.repeat))
            rows.append({"clips": n, "page_kb": page.stat().st_size / 1e3, "open_s": seconds})
    table = pd.DataFrame(rows)
    first = table.iloc[0]
    table["bytes_per_extra_clip"] = ((table["page_kb"] - first["page_kb"]) * 1e3
                                     / (table["clips"] - first["clips"]).replace(0, np.nan))
    table["open_vs_first"] = table["open_s"] / first["open_s"]
    print(table.round(2).to_string(index=False))


if __name__ == "__main__":
    main()
