"""Run the numbered notebooks headless with papermill, in one process.

``make report`` calls ``python -m musicgeo_utils.pipeline run``: each notebook
is executed with the run's parameters (profile, seed, dataset, data_root)
injected into its ``parameters`` cell, written to ``reports/executed/``
(``reports/<dataset>/executed/`` for a dataset other than the folk default,
:func:`executed_dir`), and timed. A notebook that needs what the dataset does
not offer (notebook 03 needs locations, which GTZAN lacks) stops at its first
cell with :class:`runs.NotOffered`; the run goes on and the report shows one
line in its place. With
``--in-place`` (``make golden``) the committed notebooks themselves are
re-executed with their default parameters, which refreshes the outputs that
nbval checks; papermill's per-cell timestamps are stripped so that a rerun
only changes what really changed. Each notebook's line names its three slowest
cells (:func:`slowest_cells`).
"""
from __future__ import annotations

import argparse
import ast
import sys
import time
from pathlib import Path

import nbformat

from .cache import atomic_path, write_json


def _parameters_cell(path: Path):
    """A notebook's cell tagged ``parameters`` (papermill's), or None."""
    nb = nbformat.read(path, as_version=4)
    return next((c for c in nb.cells if "parameters" in c.get("metadata", {}).get("tags", [])), None)


def declared_parameters(path: Path) -> set[str]:
    """Names assigned in a notebook's cell tagged ``parameters``."""
    cell = _parameters_cell(path)
    if cell is None:
        return set()
    names = set()
    for line in cell.source.splitlines():
        head = line.split("#", 1)[0]
        if "=" in head and not head.startswith((" ", "\t")):
            names.add(head.split("=", 1)[0].strip().split(":")[0].strip())
    return names


def parameter_defaults(path: Path) -> dict:
    """The literal values assigned in a notebook's cell tagged ``parameters`` (name -> value)."""
    cell = _parameters_cell(path)
    if cell is None:
        raise ValueError(f"{path}: no cell tagged 'parameters'")
    return {node.targets[0].id: ast.literal_eval(node.value) for node in ast.parse(cell.source).body
            if isinstance(node, ast.Assign) and isinstance(node.targets[0], ast.Name)}


def strip_run_metadata(path: Path) -> None:
    """Remove papermill's timestamps and durations from an executed notebook."""
    nb = nbformat.read(path, as_version=4)
    nb.metadata.pop("papermill", None)
    for cell in nb.cells:
        cell.metadata.pop("papermill", None)
        cell.metadata.pop("execution", None)
    with atomic_path(path) as tmp:
        nbformat.write(nb, tmp)


def slowest_cells(path: Path, n: int = 3) -> list[dict]:
    """The ``n`` slowest code cells of an executed notebook: ``index``, ``seconds``, ``first_line``.

    From papermill's per-cell durations (before :func:`strip_run_metadata`); where the
    ledger's time goes, cell by cell.
    """
    nb = nbformat.read(path, as_version=4)
    rows = [{"index": i, "seconds": round(float(cell.metadata.get("papermill", {}).get("duration") or 0.0), 1),
             "first_line": next((line for line in cell.source.splitlines()
                                 if line.strip() and not line.startswith(("#", "%%"))), "")[:80]}
            for i, cell in enumerate(nb.cells) if cell.cell_type == "code"]
    return sorted(rows, key=lambda row: -row["seconds"])[:n]


def run_notebook(path: Path, out: Path, parameters: dict, kernel: str = "python3") -> float:
    """Execute ``path`` into ``out`` with papermill; returns wall seconds."""
    import papermill

    wanted = declared_parameters(path)
    injected = {k: v for k, v in parameters.items() if k in wanted}
    start = time.perf_counter()
    papermill.execute_notebook(
        str(path),
        str(out),
        parameters=injected,
        kernel_name=kernel,
        cwd=str(path.parent),
        progress_bar=False,
        log_output=True,
    )
    return time.perf_counter() - start


def executed_dir(dataset: str = "folk") -> Path:
    """Where ``make report`` writes executed notebooks: ``reports/[<dataset>/]executed``."""
    return Path("reports") / ("executed" if dataset == "folk" else f"{dataset}/executed")


def _title(path: Path) -> str:
    """The first Markdown heading of a notebook (its title), else its file name."""
    for cell in nbformat.read(path, as_version=4).cells:
        if cell.cell_type == "markdown":
            for line in cell.source.splitlines():
                if line.startswith("# "):
                    return line[2:].strip()
    return path.stem


def write_skip_notice(path: Path, target: Path, reason: str) -> None:
    """In place of an executed notebook: its title and one line saying why it did not run."""
    nb = nbformat.v4.new_notebook()
    nb.cells = [nbformat.v4.new_markdown_cell(f"# {_title(path)}\n\n**Not run:** {reason}.")]
    with atomic_path(target) as tmp:
        nbformat.write(nb, tmp)


def _not_offered(err: Exception) -> str | None:
    """The reason if papermill stopped on :class:`runs.NotOffered`, else None."""
    return str(getattr(err, "evalue", "")) if getattr(err, "ename", "") == "NotOffered" else None


def run_all(notebooks: list[Path], out_dir: Path | None, parameters: dict) -> dict[str, float | str]:
    """Run notebooks in order; in place when ``out_dir`` is None. Returns timings (or skip reasons)."""
    from papermill.exceptions import PapermillExecutionError

    timings: dict[str, float | str] = {}
    for path in notebooks:
        target = path if out_dir is None else out_dir / path.name
        target.parent.mkdir(parents=True, exist_ok=True)
        print(f"[pipeline] {path.name} ...", flush=True)
        try:
            seconds = run_notebook(path, target, parameters if out_dir is not None else {})
        except PapermillExecutionError as err:
            reason = _not_offered(err)
            if reason is None or out_dir is None:
                raise
            write_skip_notice(path, target, reason)
            timings[path.name] = f"not run: {reason}"
            print(f"[pipeline] {path.name} not run: {reason}", flush=True)
            continue
        slowest = "; ".join(f"cell {c['index']} {c['seconds']:.0f} s ({c['first_line']})" for c in slowest_cells(target))
        if out_dir is None:
            strip_run_metadata(target)
        timings[path.name] = round(seconds, 1)
        print(f"[pipeline] {path.name} done in {seconds:.1f} s; slowest cells: {slowest}", flush=True)
    if out_dir is not None:
        write_json(out_dir / "timings.json", {"parameters": parameters, "seconds": timings})
    return timings


def main(argv: list[str] | None = None) -> int:
    """Command line: ``python -m musicgeo_utils.pipeline run [options] NOTEBOOK...``."""
    parser = argparse.ArgumentParser(prog="python -m musicgeo_utils.pipeline")
    sub = parser.add_subparsers(dest="command", required=True)
    run = sub.add_parser("run", help="execute notebooks with papermill")
    run.add_argument("notebooks", nargs="+", type=Path)
    run.add_argument("--profile", default="small")
    run.add_argument("--seed", type=int, default=0)
    run.add_argument("--dataset", default="folk")
    run.add_argument("--data-root", default="", help="the dataset's folder (default <data>/raw/<dataset>)")
    run.add_argument("--out", type=Path, default=None, help="default reports/[<dataset>/]executed")
    run.add_argument("--in-place", action="store_true", help="refresh the committed notebooks")
    args = parser.parse_args(argv)
    parameters = {"profile": args.profile, "seed": args.seed, "dataset": args.dataset,
                  "data_root": args.data_root}
    start = time.perf_counter()
    out = args.out if args.out is not None else executed_dir(args.dataset)
    timings = run_all(args.notebooks, None if args.in_place else out, parameters)
    print(f"[pipeline] {len(timings)} notebooks in {time.perf_counter() - start:.1f} s")
    return 0


if __name__ == "__main__":
    sys.exit(main())
