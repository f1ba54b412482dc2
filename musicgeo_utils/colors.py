"""Colours of categories, the same in every figure (matplotlib) and map (folium).

:data:`STYLE_COLORS` fixes one colour per style; :func:`category_colors`
gives every other label a colour of matplotlib's tab10 (then 'turbo'), and
:func:`distinct_colors` switches to tab20 past ten labels. :mod:`plots`,
:mod:`maps`, :mod:`musicmap` and :mod:`embedding` all take their colours from
here.
"""
from __future__ import annotations

from collections.abc import Iterable

import numpy as np

#: One colour per style, the same in every figure and map.
STYLE_COLORS = {
    "Chinese folk": "#d62728",
    "German folk": "#1f77b4",
    "European folk": "#17becf",
    "Irish dance": "#2ca02c",
    "American fiddle": "#ff7f0e",
    "Scottish airs": "#9467bd",
    "Anglo-American folk": "#8c564b",
}

#: matplotlib's tab10, the categorical palette of :func:`category_colors`.
TAB10 = ["#1f77b4", "#ff7f0e", "#2ca02c", "#d62728", "#9467bd",
         "#8c564b", "#e377c2", "#7f7f7f", "#bcbd22", "#17becf"]


def category_colors(values: Iterable[object]) -> dict[str, str]:
    """A fixed colour for each distinct category (sorted by name), as ``{label: '#rrggbb'}``.

    Styles keep their colour of :data:`STYLE_COLORS`, so a style looks the
    same on every map and figure. Other labels, up to 10 in all, get
    matplotlib's tab10 (colours not already taken); more are spread evenly
    over the 'turbo' colour map (neighbours then differ less: prefer few
    classes).
    """
    labels = sorted({str(v) for v in values})
    fixed = {label: STYLE_COLORS[label] for label in labels if label in STYLE_COLORS}
    others = [label for label in labels if label not in fixed]
    free = [c for c in TAB10 if c not in fixed.values()]
    if len(others) <= len(free):
        colors = free[: len(others)]
    else:
        from matplotlib import colormaps
        from matplotlib.colors import to_hex

        turbo = colormaps["turbo"]
        colors = [to_hex(turbo(x)) for x in np.linspace(0.05, 0.95, len(others))]
    return {label: fixed.get(label) or dict(zip(others, colors))[label] for label in labels}


def distinct_colors(values) -> dict[str, str]:
    """A colour per category: :func:`category_colors` for up to 10, else tab20 (20 distinct)."""
    labels = sorted(set(map(str, values)))
    if len(labels) <= 10:
        return category_colors(labels)
    from matplotlib import colormaps
    from matplotlib.colors import to_hex

    cmap = colormaps["tab20"]
    return {label: to_hex(cmap(i % 20)) for i, label in enumerate(labels)}
