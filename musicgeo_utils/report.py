"""The single-file HTML report: every executed notebook, one page, no network.

:func:`build_report` converts each ``*.ipynb`` of a folder (in name order:
``01_...``, ``02_...``) with nbconvert's ``HTMLExporter`` (lab template,
figures embedded as data URIs), joins them under one table of contents, and
writes ONE self-contained HTML file:

- the JupyterLab CSS is kept once; nbconvert's require.js, MathJax and
  mermaid loaders (CDN scripts) are left out, so LaTeX shows as its source;
- folium maps in outputs (``<iframe srcdoc>``) get Leaflet and jQuery inline
  (:func:`musicgeo_utils.map_html.inline_srcdoc_maps`);
- heading anchors are prefixed per notebook (``nb2-Setup``) so that equal
  headings in two notebooks do not clash;
- the result is audited with :func:`musicgeo_utils.map_html.external_urls`: any
  URL a browser would fetch is an error, listed in the message.

:func:`screenshot` and :func:`dom_dump` drive headless Chromium (Debian
``chromium``) to check that a page renders offline.

Command line::

    python -m musicgeo_utils.report reports/executed reports/report.html
"""
from __future__ import annotations

import argparse
import html
import os
import re
import shutil
import subprocess
import tempfile
from pathlib import Path

import nbformat

from . import map_html
from .cache import atomic_path, write_bytes

_STYLE = re.compile(r"<style[^>]*>.*?</style>", flags=re.S | re.I)
_MAIN = re.compile(r"<main>(.*)</main>", flags=re.S)
_HEADING = re.compile(r"<h([1-6])((?:\s[^>]*)?)>(.*?)</h\1>", flags=re.S | re.I)
_CDN_SCRIPT = re.compile(r"<script[^>]*\ssrc=\"(?:https?:)?//[^\"]*(?:require|mathjax|mermaid)[^\"]*\"[^>]*>"
                         r"\s*</script>", flags=re.I)

_REPORT_CSS = """
body.jp-Notebook { margin: 0; }
#report-toc { position: fixed; top: 0; left: 0; bottom: 0; width: 270px; overflow: auto;
  padding: 12px 14px; box-sizing: border-box; background: #f6f7f8; border-right: 1px solid #ddd;
  font: 13px/1.45 sans-serif; }
#report-toc h1 { font-size: 16px; margin: 0 0 8px; }
#report-toc ol { padding-left: 18px; margin: 0; }
#report-toc ul { padding-left: 14px; margin: 2px 0 6px; list-style: none; }
#report-toc a { color: #1a5fb4; text-decoration: none; }
#report-toc button { margin: 4px 0 10px; }
#report-main { margin-left: 270px; padding: 0 16px; }
.report-notebook { border-bottom: 2px solid #ccc; padding-bottom: 24px; }
.report-source { color: #777; font: 12px sans-serif; margin-top: 14px; }
body.report-hide-code .jp-CodeCell .jp-Cell-inputWrapper { display: none; }
@media print { #report-toc { display: none; } #report-main { margin-left: 0; } }
"""

# Why inline script: the one piece of JS in the page toggles code cells.
_TOGGLE_JS = """
document.getElementById('report-toggle-code').addEventListener('click', function () {
  var hidden = document.body.classList.toggle('report-hide-code');
  this.textContent = hidden ? 'Show code' : 'Hide code';
});
"""


def _plain_text(fragment: str) -> str:
    """Visible text of an HTML fragment (tags dropped, the anchor pilcrow removed)."""
    text = re.sub(r"<a class=\"anchor-link\"[^>]*>.*?</a>", "", fragment, flags=re.S)
    return " ".join(html.unescape(re.sub(r"<[^>]+>", "", text)).split())


def _export(path: Path) -> tuple[str, str]:
    """(style blocks, inner HTML of ``<main>``) of one notebook, via nbconvert's lab template."""
    from nbconvert import HTMLExporter

    try:
        notebook = nbformat.read(path, as_version=4)
    except Exception as err:  # nbformat raises several types for bad JSON
        raise ValueError(f"{path}: not a readable notebook ({err})") from err
    # The Colab badge and setup cells (tools/colab_setup.py) are for people
    # opening a notebook, not for the report; the badge image is also remote.
    notebook.cells = [cell for cell in notebook.cells
                      if "musicgeo-colab" not in cell.get("metadata", {}).get("tags", [])]
    exporter = HTMLExporter(template_name="lab", embed_images=True)
    page, _ = exporter.from_notebook_node(
        notebook, resources={"metadata": {"path": str(path.parent), "name": path.stem}})
    head = page.split("<body", 1)[0]
    main = _MAIN.search(page)
    if main is None:
        raise ValueError(f"{path}: nbconvert output has no <main> element (template changed?)")
    return "\n".join(_STYLE.findall(head)), main.group(1)


def _prefix_anchors(body: str, prefix: str) -> tuple[str, list[tuple[int, str, str]]]:
    """Prefix heading ids and same-page links with ``prefix``; list (level, id, text) of headings.

    Headings without an id (nbconvert gives none when a heading holds raw HTML)
    get ``<prefix>-h<n>``. Links inside iframe srcdoc are escaped, so untouched.
    """
    headings: list[tuple[int, str, str]] = []

    def heading(match: re.Match) -> str:
        level, attrs, inner = int(match.group(1)), match.group(2) or "", match.group(3)
        old = re.search(r"\sid=\"([^\"]*)\"", attrs)
        new_id = f"{prefix}-{old.group(1)}" if old else f"{prefix}-h{len(headings) + 1}"
        attrs = re.sub(r"\sid=\"[^\"]*\"", "", attrs)
        headings.append((level, new_id, _plain_text(inner)))
        return f'<h{level} id="{html.escape(new_id, quote=True)}"{attrs}>{inner}</h{level}>'

    body = _HEADING.sub(heading, body)
    body = re.sub(r'href="#([^"]*)"', lambda m: f'href="#{prefix}-{m.group(1)}"', body)
    return body, headings


def _toc_entry(anchor: str, title: str, headings: list[tuple[int, str, str]]) -> str:
    """One notebook's TOC item: its title and its second-level headings."""
    subs = "".join(f'<li><a href="#{html.escape(h_id, quote=True)}">{html.escape(text)}</a></li>'
                   for level, h_id, text in headings if level == 2)
    return (f'<li><a href="#{anchor}">{html.escape(title)}</a>'
            + (f"<ul>{subs}</ul>" if subs else "") + "</li>")


def _notebook_section(index: int, path: Path) -> tuple[str, str, str]:
    """(styles, ``<section>`` HTML, TOC entry) for the ``index``-th notebook."""
    styles, body = _export(path)
    anchor = f"nb{index}"
    body, headings = _prefix_anchors(body, anchor)
    body = map_html.inline_srcdoc_maps(_CDN_SCRIPT.sub("", body), renumber=True)
    titles = [text for level, _, text in headings if level == 1] or [t for _, _, t in headings]
    title = titles[0] if titles and titles[0] else path.stem
    section = (f'<section class="report-notebook" id="{anchor}">'
               f'<div class="report-source">{html.escape(path.name)}</div>{body}</section>')
    return styles, section, _toc_entry(anchor, title, headings)


def _page(title: str, styles: str, toc: list[str], sections: list[str]) -> str:
    """The report document around the converted notebooks."""
    safe_title = html.escape(title)
    return (
        "<!DOCTYPE html>\n<html lang=\"en\">\n<head>\n<meta charset=\"utf-8\">\n"
        f"<meta name=\"viewport\" content=\"width=device-width, initial-scale=1\">\n"
        f"<title>{safe_title}</title>\n{styles}\n<style>{_REPORT_CSS}</style>\n</head>\n"
        '<body class="jp-Notebook" data-jp-theme-light="true" data-jp-theme-name="JupyterLab Light">\n'
        f'<nav id="report-toc"><h1>{safe_title}</h1>'
        '<button id="report-toggle-code" type="button">Hide code</button>'
        f"<ol>{''.join(toc)}</ol></nav>\n"
        f'<main id="report-main">{"".join(sections)}</main>\n'
        f"<script>{_TOGGLE_JS}</script>\n</body>\n</html>\n"
    )


def build_report(executed_dir: str | os.PathLike, out_path: str | os.PathLike,
                 title: str = "musicgeo report") -> Path:
    """Write every notebook of ``executed_dir`` (sorted by name) into ONE offline HTML file.

    Raises ``FileNotFoundError`` when the folder holds no notebook, and
    ``ValueError`` naming the URLs if the page would still fetch anything
    from the network. The file is written atomically; returns its path.
    """
    folder = Path(executed_dir)
    notebooks = sorted(p for p in folder.glob("*.ipynb") if not p.name.startswith("."))
    if not notebooks:
        raise FileNotFoundError(f"{folder}: no *.ipynb to put in the report")
    parts = [_notebook_section(i, path) for i, path in enumerate(notebooks, start=1)]
    page = _page(title, parts[0][0], [p[2] for p in parts], [p[1] for p in parts])
    leftover = map_html.external_urls(page)
    if leftover:
        raise ValueError(f"{out_path}: report would fetch {len(leftover)} external URL(s): "
                         f"{leftover[:10]}")
    return write_bytes(out_path, page.encode("utf-8"))


# --------------------------------------------------------------------------- headless Chromium

_BROWSERS = ("chromium", "chromium-browser", "google-chrome", "google-chrome-stable")


def find_chromium() -> str:
    """Path of a Chromium/Chrome binary (``MUSICGEO_CHROMIUM`` overrides the search)."""
    override = os.environ.get("MUSICGEO_CHROMIUM")
    for name in ([override] if override else []) + list(_BROWSERS):
        found = shutil.which(name)
        if found:
            return found
    raise FileNotFoundError(
        "no Chromium found (tried " + ", ".join(_BROWSERS) + "); on Debian/Ubuntu: "
        "apt-get update && apt-get install -y --no-install-recommends chromium")


def chromium_available() -> bool:
    """Whether :func:`find_chromium` finds a browser (for optional checks)."""
    try:
        find_chromium()
    except FileNotFoundError:
        return False
    return True


def _run_chromium(args: list[str], timeout: float) -> subprocess.CompletedProcess:
    """Run headless Chromium offline with a throw-away profile."""
    with tempfile.TemporaryDirectory(prefix="musicgeo-chromium-") as profile:
        command = [find_chromium(), "--headless", "--no-sandbox", "--disable-gpu",
                   "--disable-background-networking", "--disable-component-update",
                   "--no-first-run", f"--user-data-dir={profile}", *args]
        result = subprocess.run(command, capture_output=True, text=True, timeout=timeout)
    if result.returncode != 0:
        raise RuntimeError(f"chromium exited with {result.returncode}: {result.stderr[-1500:]}")
    return result


def _file_url(path: str | os.PathLike) -> str:
    path = Path(path).resolve()
    if not path.is_file():
        raise FileNotFoundError(f"{path}: no such HTML file")
    return path.as_uri()


def screenshot(html_path: str | os.PathLike, png_path: str | os.PathLike, width: int = 1280,
               height: int = 2000, budget_ms: int = 5000, timeout: float = 120) -> Path:
    """Render ``html_path`` in headless Chromium and save a ``width`` x ``height`` pixel PNG.

    ``budget_ms`` is virtual time (milliseconds) for scripts such as Leaflet
    to run before the capture. The PNG is written atomically.
    """
    url = _file_url(html_path)
    with atomic_path(png_path, suffix=".png") as tmp:
        _run_chromium([f"--screenshot={tmp}", f"--window-size={int(width)},{int(height)}",
                       "--hide-scrollbars", f"--virtual-time-budget={int(budget_ms)}", url], timeout)
        if not tmp.exists() or tmp.stat().st_size == 0:
            raise RuntimeError(f"chromium wrote no screenshot of {html_path}")
    return Path(png_path)


def dom_dump(html_path: str | os.PathLike, budget_ms: int = 5000, timeout: float = 120,
             fragment: str = "", flags: tuple[str, ...] = ()) -> str:
    """The page's DOM after its scripts ran (``--dump-dom``), as HTML text.

    Only the top document is dumped, not iframe contents; check a standalone
    map page for ``leaflet-pane`` to know that Leaflet built the map.
    ``fragment``: opened as ``page.html#fragment`` (a shared view of a map).
    ``flags``: more Chromium switches (e.g. ``--autoplay-policy=...``).
    """
    url = _file_url(html_path) + (f"#{fragment}" if fragment else "")
    result = _run_chromium([f"--virtual-time-budget={int(budget_ms)}", *flags, "--dump-dom", url], timeout)
    return result.stdout


def main(argv: list[str] | None = None) -> None:
    """Command line: build the report, optionally screenshot it, print its size."""
    parser = argparse.ArgumentParser(description="Build the single-file offline HTML report.")
    parser.add_argument("executed_dir", type=Path, help="folder of executed notebooks")
    parser.add_argument("out_path", type=Path, help="report HTML to write")
    parser.add_argument("--title", default="musicgeo report")
    parser.add_argument("--screenshot", type=Path, default=None,
                        help="also save a PNG of the report's first screen (needs chromium)")
    args = parser.parse_args(argv)
    path = build_report(args.executed_dir, args.out_path, args.title)
    print(f"{path}: {path.stat().st_size / 1e6:.2f} MB, no external URL")
    if args.screenshot is not None:
        print(f"{screenshot(path, args.screenshot)}: screenshot")


if __name__ == "__main__":
    main()
