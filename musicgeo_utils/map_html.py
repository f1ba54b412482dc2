"""A folium map as HTML: a standalone offline page, a notebook iframe, and the URL audit.

folium 0.20 links Leaflet, jQuery, Bootstrap and font-awesome from CDNs, so
offline a default map is a blank box:

- :func:`offline_html` / :func:`inline_assets` put Leaflet and jQuery (from the
  ``xstatic-leaflet`` / ``xstatic-jquery`` wheels, the versions folium links)
  inline and drop Bootstrap/font-awesome/awesome-markers, which these maps do
  not use, so a saved page (:func:`save_offline`) or the report renders with
  no network at all; :func:`inline_srcdoc_maps` does the same for the maps
  inside a notebook's HTML output;
- :func:`stable_ids` renumbers folium's random element ids, so reruns give
  the same text;
- :func:`notebook_map` shows a map the way folium does (CDN links, which work
  in an online JupyterLab or Colab), keeping outputs small;
- :func:`external_urls` lists what a browser would still fetch from a page.

The maps themselves are built by :mod:`musicgeo_utils.maps`, which re-exports
these names (``maps.save_offline`` keeps working).
"""
from __future__ import annotations

import base64
import functools
import html
import importlib
import os
import re
import warnings
from html.parser import HTMLParser
from pathlib import Path
from typing import TYPE_CHECKING

from .cache import write_bytes

if TYPE_CHECKING:
    import folium

_FOLIUM_ID = re.compile(r"(?<=_)[0-9a-f]{32}(?![0-9a-zA-Z])")


# --------------------------------------------------------------------------- offline HTML

@functools.lru_cache(maxsize=None)
def _xstatic_dir(package: str) -> Path:
    """The data folder of an xstatic wheel (``leaflet`` or ``jquery``)."""
    try:
        module = importlib.import_module(f"xstatic.pkg.{package}")
    except ImportError as err:
        raise ImportError(f"pip install xstatic-{package} (needed to inline {package})") from err
    return Path(module.BASE_DIR)


def _safe_script(js: str) -> str:
    """JavaScript source made safe to sit inside ``<script>...</script>``."""
    js = re.sub(r"^//# sourceMappingURL=.*$", "", js, flags=re.M)
    if re.search(r"</script|<!--", js, flags=re.I):
        raise ValueError("script text contains '</script' or '<!--'; cannot inline it")
    return js


@functools.lru_cache(maxsize=None)
def _inline_tag(kind: str) -> str:
    """The inline ``<script>`` or ``<style>`` for ``leaflet``, ``jquery`` or ``leaflet_css``."""
    scripts = {"leaflet": ("leaflet", "leaflet.js"), "jquery": ("jquery", "jquery.min.js")}
    if kind in scripts:
        package, name = scripts[kind]
        return f"<script>{_safe_script((_xstatic_dir(package) / name).read_text('utf-8'))}</script>"
    folder = _xstatic_dir("leaflet")
    css = (folder / "leaflet.css").read_text("utf-8")

    def data_uri(match: re.Match) -> str:
        # Leaflet's layer-control and default-marker images, as data URIs.
        png = base64.b64encode((folder / match.group(1)).read_bytes()).decode()
        return f"url(data:image/png;base64,{png})"

    css = re.sub(r"url\((images/[\w.-]+\.png)\)", data_uri, css)
    return f"<style>{css}</style>"


#: folium's CDN assets: what replaces each (``None``: dropped, not used by these maps).
_ASSET_RULES = [
    (re.compile(r"/leaflet(@[\d.]+)?/dist/leaflet\.js$|/leaflet(\.min)?\.js$"), "leaflet"),
    (re.compile(r"/leaflet(@[\d.]+)?/dist/leaflet\.css$|/leaflet(\.min)?\.css$"), "leaflet_css"),
    (re.compile(r"/jquery(-[\d.]+)?(\.min)?\.js$"), "jquery"),
    (re.compile(r"bootstrap|font-?awesome|awesome[-.]markers|awesome\.rotate|glyphicons"), None),
]
_ASSET_TAG = re.compile(
    r"<script\s+src=\"(?P<src>[^\"]+)\"\s*>\s*</script>"
    r"|<link\s+rel=\"stylesheet\"\s+href=\"(?P<href>[^\"]+)\"\s*/?>"
)


def inline_assets(html_text: str) -> str:
    """Replace folium's CDN ``<script>``/``<link>`` tags with inline copies.

    Leaflet (JS and CSS, its images as data URIs) and jQuery come from the
    xstatic wheels; Bootstrap, font-awesome and awesome-markers tags are
    removed (circle markers and these legends do not use them). Other tags
    are left as they are, so :func:`external_urls` still reports them. Works on
    a full map document; for maps inside ``<iframe srcdoc>`` see
    :func:`inline_srcdoc_maps`.
    """
    def replace(match: re.Match) -> str:
        url = match.group("src") or match.group("href")
        if not re.match(r"^(https?:)?//", url):
            return match.group(0)
        for pattern, kind in _ASSET_RULES:
            if pattern.search(url):
                return "" if kind is None else _inline_tag(kind)
        return match.group(0)

    return _ASSET_TAG.sub(replace, html_text)


# nbconvert re-serialises outputs, so srcdoc may be in single or double quotes.
_SRCDOC = re.compile(r"(<iframe\b[^>]*?\ssrcdoc=)(?:\"([^\"]*)\"|'([^']*)')", flags=re.I | re.S)


def inline_srcdoc_maps(html_text: str, renumber: bool = False) -> str:
    """Apply :func:`inline_assets` to every ``<iframe srcdoc="...">`` document.

    This is how a folium map looks in a notebook's HTML output: the srcdoc
    is HTML-unescaped, inlined, and escaped again (quotes included).
    """
    def replace(match: re.Match) -> str:
        inner = html.unescape(match.group(2) if match.group(2) is not None else match.group(3))
        if "L.map(" not in inner and "leaflet" not in inner:
            return match.group(0)
        inner = inline_assets(stable_ids(inner) if renumber else inner)
        return f'{match.group(1)}"{html.escape(inner, quote=True)}"'

    return _SRCDOC.sub(replace, html_text)


def stable_ids(html_text: str) -> str:
    """Renumber folium's random 32-hex element ids (``map_3f2a...``) as ``map_1``, ``map_2`` ...

    Numbers follow first appearance, so the same map renders to the same
    text on every run. Any ``_`` + 32 lowercase hex digits is treated as an
    id: apply this before inlining scripts, to folium output only.
    """
    numbers: dict[str, str] = {}

    def renumber(match: re.Match) -> str:
        return numbers.setdefault(match.group(0), str(len(numbers) + 1))

    return _FOLIUM_ID.sub(renumber, html_text)


def offline_html(m: folium.Map, deterministic_ids: bool = True) -> str:
    """The map as one standalone HTML document that needs no network.

    Leaflet and jQuery are inline (about 250 KB); with ``deterministic_ids``
    element ids are renumbered (:func:`stable_ids`) so reruns give the same file.
    """
    text = m.get_root().render()
    return inline_assets(stable_ids(text) if deterministic_ids else text)


def save_offline(m: folium.Map, path: str | os.PathLike, deterministic_ids: bool = True) -> Path:
    """Write :func:`offline_html` to ``path`` atomically; raise if any external URL is left."""
    text = offline_html(m, deterministic_ids)
    leftover = external_urls(text)
    if leftover:
        raise ValueError(f"{path}: map still links external URLs: {leftover}")
    return write_bytes(path, text.encode("utf-8"))


class NotebookMap:
    """A folium map as a notebook displays it: an ``<iframe srcdoc>`` of fixed height.

    Assets come from folium's CDN links (small output; needs an online
    browser); ids are renumbered so re-executed notebooks do not churn.
    """

    def __init__(self, m: folium.Map, height: int = 480):
        self.map = m
        self.height = int(height)

    #: Above this many bytes a notebook output gets heavy to store and diff.
    warn_bytes = 2_000_000

    def _repr_html_(self) -> str:
        page = stable_ids(self.map.get_root().render())
        if len(page) > self.warn_bytes:
            warnings.warn(f"map output is {len(page) / 1e6:.1f} MB; show a sample of the "
                          "points in the notebook and save the full map with save_offline()",
                          stacklevel=2)
        return (f'<div style="width:100%;height:{self.height}px;">'
                f'<iframe srcdoc="{html.escape(page, quote=True)}" style="width:100%;'
                f'height:{self.height}px;border:none;" allowfullscreen></iframe></div>')


def notebook_map(m: folium.Map, height: int = 480) -> NotebookMap:
    """What a notebook cell returns to show ``m`` (``height`` in pixels)."""
    return NotebookMap(m, height)


# --------------------------------------------------------------------------- URL audit

#: ``<link rel>`` values whose href a browser does not fetch by itself.
_LINK_NOT_FETCHED = {"canonical", "alternate", "author", "license", "help", "next", "prev",
                     "search", "bookmark", "external", "nofollow", "noopener", "noreferrer", "me"}
#: (tag, attribute) pairs a browser loads while rendering a page.
_FETCHED_ATTRS = {
    ("script", "src"), ("img", "src"), ("img", "srcset"), ("iframe", "src"), ("frame", "src"),
    ("embed", "src"), ("object", "data"), ("source", "src"), ("source", "srcset"),
    ("video", "src"), ("video", "poster"), ("audio", "src"), ("track", "src"),
    ("input", "src"), ("image", "href"), ("image", "xlink:href"), ("use", "href"),
    ("use", "xlink:href"), ("feimage", "href"), ("feimage", "xlink:href"), ("link", "href"),
    ("body", "background"),
}
_EXTERNAL = re.compile(r"^\s*(https?:)?//", flags=re.I)
_CSS_URL = re.compile(r"url\(\s*['\"]?([^'\")]+)|@import\s+['\"]([^'\"]+)", flags=re.I)
#: Module imports with a literal URL (``import x from "URL"``, ``import("URL")``).
_JS_IMPORT = re.compile(r"""\bimport\s*\(\s*['"]([^'"]+)['"]|\bfrom\s*['"]([^'"]+)['"]""")


class _UrlAudit(HTMLParser):
    """Collects the external URLs a browser would fetch while rendering a page."""

    def __init__(self):
        super().__init__(convert_charrefs=True)
        self.urls: list[str] = []
        self._in = ""  # "style" or "script" while inside one

    def _add(self, url: str, srcset: bool = False) -> None:
        # A srcset is "url 1x, url 2x"; every other attribute holds one URL.
        for candidate in ([p.strip().split(" ")[0] for p in url.split(",")] if srcset else [url]):
            if _EXTERNAL.match(candidate):
                self.urls.append(candidate.strip())

    def _css(self, text: str) -> None:
        for match in _CSS_URL.finditer(text):
            self._add(match.group(1) or match.group(2))

    def handle_starttag(self, tag, attrs):
        attrs = dict(attrs)
        rel = set((attrs.get("rel") or "").lower().split())
        for name, value in attrs.items():
            if value is None:
                continue
            not_fetched = tag == "link" and rel and rel <= _LINK_NOT_FETCHED
            if (tag, name) in _FETCHED_ATTRS and not not_fetched:
                self._add(value, srcset=name == "srcset")
            elif name == "style":
                self._css(value)
            elif name == "srcdoc":
                self.urls.extend(external_urls(value))
        self._in = tag if tag in ("style", "script") else ""

    def handle_startendtag(self, tag, attrs):
        self.handle_starttag(tag, attrs)
        self._in = ""

    def handle_endtag(self, tag):
        self._in = ""

    def handle_data(self, data):
        if self._in == "style":
            self._css(data)
        elif self._in == "script":
            for match in _JS_IMPORT.finditer(data):
                self._add(match.group(1) or match.group(2))


def external_urls(html_text: str) -> list[str]:
    """External URLs (``http://``, ``https://``, ``//host``) a browser would fetch.

    Counted: ``src``/``srcset``/``poster``/``data`` of script, img, iframe,
    embed, object, media and input elements; ``<link href>`` except for
    relations that are never fetched (canonical, alternate, author, ...);
    SVG ``image``/``use`` hrefs; ``url(...)`` and ``@import`` in ``<style>``
    blocks and ``style`` attributes; and, recursively, the same inside every
    ``<iframe srcdoc>`` document; in inline scripts, module imports of a
    literal URL (``import("https://...")``, ``import x from "https://..."``).
    Not counted, because nothing fetches them: ``<a href>`` links, ``xmlns``
    declarations, text (attributions, data), and other URLs inside JavaScript
    (Leaflet's comments, link strings); so a script that builds a URL and
    loads it at run time is not detected, only its own tag.
    Order of first appearance, duplicates kept once.
    """
    audit = _UrlAudit()
    audit.feed(html_text)
    audit.close()
    return list(dict.fromkeys(audit.urls))
