"""Each notebook follows what its dataset offers: no cell that runs reads a name that only a skipped cell makes.

A static walk through the committed notebooks, no kernel: for each dataset, a cell marked
``%%needs ...`` that the dataset cannot feed is skipped (as :func:`runs.needs` skips it), and so
is the body of ``if run.offers("notes"):`` (or the ``... if run.offers(...) else ...`` branch)
where the dataset lacks it; a notebook whose setup cell calls ``run.require(...)`` with something
the dataset lacks stops there (the pipeline's one line). Every name a running cell reads must
then come from an earlier running cell, the parameters, or Python and IPython themselves. This is
what lets notebook 04's geographic sections run on FMA without the pitch-roll model, and notebook
06 on any dataset with locations, without running the chain.
"""
from __future__ import annotations

import ast
import builtins
import re
from pathlib import Path

import nbformat
import pytest

from musicgeo_utils import runs

NOTEBOOKS = sorted((Path(__file__).resolve().parents[1] / "notebooks").glob("[0-9][0-9]_*.ipynb"))
IPYTHON_NAMES = {"display", "get_ipython", "In", "Out", "_"}


def _offers_test(node: ast.AST) -> str | None:
    """The capability of ``run.offers("x")`` (or None for any other expression)."""
    if (isinstance(node, ast.Call) and isinstance(node.func, ast.Attribute) and node.func.attr == "offers"
            and isinstance(node.func.value, ast.Name) and node.func.value.id == "run" and len(node.args) == 1
            and isinstance(node.args[0], ast.Constant)):
        return node.args[0].value
    return None


class _Pruner(ast.NodeTransformer):
    """Drop the branches of ``run.offers(...)`` tests that the dataset does not take."""

    def __init__(self, run: runs.Run):
        self.run = run

    def visit_If(self, node):
        self.generic_visit(node)
        capability = _offers_test(node.test)
        if capability is None:
            return node
        return node.body if self.run.offers(capability) else (node.orelse or ast.Pass())

    def visit_IfExp(self, node):
        self.generic_visit(node)
        capability = _offers_test(node.test)
        if capability is None:
            return node
        return node.body if self.run.offers(capability) else node.orelse


def _python(source: str) -> tuple[list[str], str]:
    """A cell's ``%%needs`` words and its Python (IPython's ``!`` and ``%`` lines as ``pass``)."""
    lines = source.splitlines()
    needs = lines[0].split()[1:] if lines and lines[0].startswith("%%needs") else []
    body = [(line[:len(line) - len(line.lstrip())] + "pass" if line.lstrip().startswith(("!", "%")) else line)
            for line in lines]
    return needs, "\n".join(body)


def _names(tree: ast.AST) -> tuple[set[str], set[str]]:
    """(names the cell binds anywhere, names it reads)."""
    bound, read = set(), set()
    for node in ast.walk(tree):
        if isinstance(node, ast.Name):
            (read if isinstance(node.ctx, ast.Load) else bound).add(node.id)
        elif isinstance(node, (ast.FunctionDef, ast.ClassDef)):
            bound.add(node.name)
        elif isinstance(node, ast.ExceptHandler) and node.name:
            bound.add(node.name)
        elif isinstance(node, ast.arg):
            bound.add(node.arg)
        elif isinstance(node, (ast.Import, ast.ImportFrom)):
            bound.update((alias.asname or alias.name).split(".")[0] for alias in node.names)
    return bound, read


def _required(tree: ast.AST) -> list[str]:
    """What a ``run.require("a", "b", what=...)`` call in the cell asks for."""
    return [arg.value for node in ast.walk(tree) if isinstance(node, ast.Call) and isinstance(node.func, ast.Attribute)
            and node.func.attr == "require" for arg in node.args if isinstance(arg, ast.Constant)]


def undefined_reads(path: Path, dataset: str) -> tuple[bool, list[str]]:
    """Whether the notebook runs on ``dataset`` (no ``run.require`` stop), and ``"cell-id: name"`` for each
    name that a running cell reads before any running cell made it."""
    run = runs.Run(dataset, profile="tiny")
    known = set(dir(builtins)) | IPYTHON_NAMES
    problems = []
    for cell in nbformat.read(path, as_version=4).cells:
        if cell.cell_type != "code":
            continue
        needs, source = _python(cell.source)
        if run.missing(*[w for w in needs if not w.startswith("-")]) or any(
                run.offers(w[1:]) for w in needs if w.startswith("-")):
            continue
        tree = ast.fix_missing_locations(_Pruner(run).visit(ast.parse(source)))
        bound, read = _names(tree)
        problems += [f"{cell.get('id')}: {name}" for name in sorted(read - bound - known)]
        known |= bound
        if run.missing(*_required(tree)):
            return False, problems
    return True, problems


@pytest.mark.parametrize("dataset", ["folk", "gtzan", "fma", "lmd_msd", "uci_gom"])
@pytest.mark.parametrize("path", NOTEBOOKS, ids=lambda p: p.name[:2])
def test_no_running_cell_reads_what_a_skipped_cell_would_have_made(path, dataset):
    _, problems = undefined_reads(path, dataset)
    assert not problems, f"{path.name} on {dataset}: read but never made: {problems}"


def test_the_geographic_notebooks_run_where_there_are_locations_without_scores():
    by_name = {p.name[:2]: p for p in NOTEBOOKS}
    for dataset in ("fma", "lmd_msd"):
        assert undefined_reads(by_name["04"], dataset)[0] and undefined_reads(by_name["06"], dataset)[0]
    assert not undefined_reads(by_name["06"], "gtzan")[0]  # no locations: the pipeline's one line
    assert not undefined_reads(by_name["06"], "uci_gom")[0]  # no audio, so no notebook 04 to compare with
    # notebook 04: besides the pitch-roll geographic CRNN, only the geographic CRNNs' held-out-timbre cells and
    # the out-of-distribution check's cells need scores among the geographic cells (both use the held-out
    # timbre renders, which the melody front end transcribes)
    cells = {c.get("id"): c.source for c in nbformat.read(by_name["04"], as_version=4).cells}
    geographic = {cid: re.match(r"%%needs (.*)", source).group(1) for cid, source in cells.items()
                  if source.startswith("%%needs") and "locations" in source.splitlines()[0]}
    assert [cid for cid, words in geographic.items() if "notes" in words.split()] == [
        "ce49560eb19", "geo-held-out", "geo-held-out-prose", "novelty-calibrate", "novelty-evaluate",
        "novelty-prose"], geographic
    assert "geo_pitch_model" in cells["ce49560eb19"]
