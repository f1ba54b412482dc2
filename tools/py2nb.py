"""Build a notebook from a percent-format script (``# %%`` cells), or back.

Authors may write a notebook as a plain Python file, which diffs and reviews
well, and turn it into ``.ipynb``::

    python tools/py2nb.py notebooks/src/01_data_matching.py notebooks/01_data_matching.ipynb

Cell markers: ``# %%`` starts a code cell, ``# %% [markdown]`` a markdown cell
(each line's leading ``# `` is removed), and ``# %% tags=["parameters"]`` a
code cell with tags. Outputs are not kept: execute the notebook afterwards
(``make golden``). Running it twice gives the same file.
"""
from __future__ import annotations

import json
import re
import sys
from pathlib import Path

import nbformat

_MARKER = re.compile(r"^# %%(?P<md> \[markdown\])?(?: tags=(?P<tags>\[.*\]))?\s*$")


def script_to_notebook(text: str) -> nbformat.NotebookNode:
    """Parse percent-format ``text`` into a notebook (no outputs)."""
    cells, kind, tags, lines = [], None, [], []

    def flush():
        if kind is None:
            return
        body = "\n".join(lines).strip("\n")
        if kind == "markdown":
            body = "\n".join(re.sub(r"^# ?", "", line) for line in body.splitlines())
            cells.append(nbformat.v4.new_markdown_cell(body))
        else:
            cell = nbformat.v4.new_code_cell(body)
            if tags:
                cell.metadata["tags"] = tags
            cells.append(cell)

    for line in text.splitlines():
        match = _MARKER.match(line)
        if match:
            flush()
            kind = "markdown" if match.group("md") else "code"
            tags = json.loads(match.group("tags")) if match.group("tags") else []
            lines = []
        else:
            lines.append(line)
    flush()
    nb = nbformat.v4.new_notebook(cells=cells)
    nb.metadata["kernelspec"] = {"name": "python3", "display_name": "Python 3 (ipykernel)", "language": "python"}
    nb.metadata["language_info"] = {"name": "python"}
    for index, cell in enumerate(nb.cells):
        cell["id"] = f"cell-{index:02d}"
    return nb


def main(argv: list[str]) -> int:
    """``py2nb.py SCRIPT.py NOTEBOOK.ipynb``."""
    if len(argv) != 2:
        print(__doc__)
        return 2
    source, target = map(Path, argv)
    nbformat.write(script_to_notebook(source.read_text()), target)
    print(f"wrote {target}")
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
