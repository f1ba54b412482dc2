"""Colours of categories: fixed style colours, tab10, then turbo or tab20."""
from musicgeo_utils import colors


def test_category_colors_are_stable_and_complete():
    assert colors.category_colors(["b", "a", "b"]) == {"a": "#1f77b4", "b": "#ff7f0e"}
    many = colors.category_colors(range(15))
    assert len(set(many.values())) == 15 and list(many) == sorted(str(i) for i in range(15))


def test_distinct_colors_stay_distinct_beyond_the_style_palette():
    few = colors.distinct_colors(["German folk", "x"])
    assert few["German folk"] == colors.STYLE_COLORS["German folk"]
    many = colors.distinct_colors([f"program {i}" for i in range(16)])
    assert len(set(many.values())) == 16
