"""Compare the checked outputs of two sets of executed notebooks (a two-clone determinism check).

    python tools/compare_checked_outputs.py notebooks/ other-clone/reports/executed/

For every notebook present in both folders, the outputs of the cells marked
``# NBVAL_CHECK_OUTPUT`` (the ones `make test`'s nbval stage compares) are
compared after the same sanitising nbval applies (tests/nbval_sanitize.cfg).
Prints one line per notebook and each differing cell; exits 1 if any differ.
"""
from __future__ import annotations

import configparser
import re
import sys
from pathlib import Path

import nbformat

ROOT = Path(__file__).resolve().parent.parent
MARKER = "# NBVAL_CHECK_OUTPUT"


def sanitizers(path: Path = ROOT / "tests" / "nbval_sanitize.cfg") -> list[tuple[re.Pattern, str]]:
    """(pattern, replacement) pairs of nbval's sanitize file."""
    parser = configparser.ConfigParser()
    parser.read(path)
    return [(re.compile(parser[s]["regex"]), parser[s]["replace"]) for s in parser.sections()]


def checked_outputs(path: Path, rules) -> list[str]:
    """The sanitised text of each checked cell's outputs, in order."""
    nb = nbformat.read(path, as_version=4)
    texts = []
    for cell in nb.cells:
        if cell.cell_type != "code" or MARKER not in cell.source:
            continue
        parts = []
        for out in cell.get("outputs", []):
            if out.output_type == "stream":
                parts.append(out.text)
            elif "data" in out:
                parts.append(out.data.get("text/plain", ""))
        text = "".join(parts)
        for pattern, replacement in rules:
            text = pattern.sub(replacement, text)
        texts.append(text)
    return texts


def main(argv: list[str]) -> int:
    if len(argv) != 2:
        print(__doc__)
        return 2
    a, b = map(Path, argv)
    rules, differing = sanitizers(), 0
    for left in sorted(a.glob("[0-9][0-9]_*.ipynb")):
        right = b / left.name
        if not right.is_file():
            print(f"{left.name}: not in {b}")
            continue
        x, y = checked_outputs(left, rules), checked_outputs(right, rules)
        bad = [i for i, (p, q) in enumerate(zip(x, y)) if p != q] + list(range(min(len(x), len(y)), max(len(x), len(y))))
        differing += len(bad)
        print(f"{left.name}: {len(x)} checked cells, {'identical' if not bad else f'{len(bad)} differ'}")
        for i in bad:
            print(f"  checked cell {i + 1}:\n    {a.name}: {x[i] if i < len(x) else '(missing)'!r}\n"
                  f"    {b.name}: {y[i] if i < len(y) else '(missing)'!r}")
    return 1 if differing else 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
