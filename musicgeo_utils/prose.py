"""Sentences about a run's results, rendered from the results: prose that cannot go stale.

A notebook states its findings with a short code cell (the pattern of scikit-learn's examples)::

    from musicgeo_utils import prose
    prose.show(f"The best method, the {best}, errs by {prose.km(value)} (balanced median).")

so that a rerun rewrites the sentence with the numbers and names it just produced.
``tools/prose_check.py`` checks that every figure left in the markdown cells is in an output.
"""
from __future__ import annotations

import ast
from collections.abc import Iterable


def km(value: float, step: int = 10) -> str:
    """A distance rounded to ``step`` km with a thousands separator: ``km(1037.3)`` -> ``'1,040 km'``."""
    return f"{round(float(value) / step) * step:,.0f} km"


def share(value: float) -> str:
    """A fraction as a whole percentage with the house spacing: ``share(0.912)`` -> ``'91 %'``."""
    return f"{100 * float(value):.0f} %"


def listing(items: Iterable[str], last: str = "and") -> str:
    """``'a, b and c'`` (``'a'`` for one item, ``''`` for none)."""
    items = [str(item) for item in items]
    if len(items) <= 1:
        return "".join(items)
    return f"{', '.join(items[:-1])} {last} {items[-1]}"


def ordinal(n: int) -> str:
    """``'1st'``, ``'2nd'``, ``'3rd'``, ``'4th'``, ..., ``'11th'``, ``'21st'``."""
    suffix = "th" if 10 <= n % 100 <= 20 else {1: "st", 2: "nd", 3: "rd"}.get(n % 10, "th")
    return f"{n}{suffix}"


def chosen(params) -> dict:
    """A method's chosen hyperparameters as a dict, from the dict itself or from the ``repr`` that
    the methods tables store (``"{'C': 0.1, 'decoding': 'median'}"``); ``{}`` when there are none."""
    if isinstance(params, dict):
        return params
    if not isinstance(params, str) or not params.strip():
        return {}
    value = ast.literal_eval(params)
    return value if isinstance(value, dict) else {}


def settings(params) -> str:
    """``'C = 0.1, decoding = median'`` for chosen hyperparameters (see :func:`chosen`)."""
    return ", ".join(f"{key} = {value}" for key, value in chosen(params).items())


def show(text: str) -> None:
    """Display ``text`` as Markdown in a notebook (printed as plain text elsewhere)."""
    try:
        from IPython import get_ipython
        from IPython.display import Markdown, display
    except ImportError:  # pragma: no cover - IPython is a dependency of every notebook run
        print(text)
        return
    if get_ipython() is None:
        print(text)
    else:
        display(Markdown(text))
