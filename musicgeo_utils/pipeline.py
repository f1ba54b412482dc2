"""Run the numbered notebooks headless with papermill, in one process.

``make report`` calls ``python -m musicgeo_utils.pipeline run``: each notebook
is executed with the run's parameters (profile, seed, dataset) injected into
its ``parameters`` cell, written to ``reports/executed/``, and timed. With
``--in-place`` (``make golden``) the committed notebooks themselves are
re-executed with their default parameters, which refreshes the outputs that
nbval checks; papermill's per-cell timestamps are stripped so that a rerun
only changes what really changed.
"""
from __future__ import annotations

import argparse
import sys
import time
from pathlib import Path

import nbformat

from .cache import atomic_path, write_json


def declared_parameters(path: Path) -> set[str]:
    """Names assigned in a notebook's cell tagged ``parameters``."""
    nb = nbformat.read(path, as_version=4)
    for cell in nb.cells:
        if "parameters" in cell.get("metadata", {}).get("tags", []):
            names = set()
            for line in cell.source.splitlines():
                head = line.split("#", 1)[0]
                if "=" in head and not head.startswith((" ", "\t")):
                    names.add(head.split("=", 1)[0].strip().split(":")[0].strip())
            return names
    return set()


def strip_run_metadata(path: Path) -> None:
    """Remove papermill's timestamps and durations from an executed notebook."""
    nb = nbformat.read(path, as_version=4)
    nb.metadata.pop("papermill", None)
    for cell in nb.cells:
        cell.metadata.pop("papermill", None)
        cell.metadata.pop("execution", None)
    with atomic_path(path) as tmp:
        nbformat.write(nb, tmp)


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


def run_all(notebooks: list[Path], out_dir: Path | None, parameters: dict) -> dict[str, float]:
    """Run notebooks in order; in place when ``out_dir`` is None. Returns timings."""
    timings = {}
    for path in notebooks:
        target = path if out_dir is None else out_dir / path.name
        target.parent.mkdir(parents=True, exist_ok=True)
        print(f"[pipeline] {path.name} ...", flush=True)
        seconds = run_notebook(path, target, parameters if out_dir is not None else {})
        if out_dir is None:
            strip_run_metadata(target)
        timings[path.name] = round(seconds, 1)
        print(f"[pipeline] {path.name} done in {seconds:.1f} s", flush=True)
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
    run.add_argument("--out", type=Path, default=Path("reports/executed"))
    run.add_argument("--in-place", action="store_true", help="refresh the committed notebooks")
    args = parser.parse_args(argv)
    parameters = {"profile": args.profile, "seed": args.seed, "dataset": args.dataset}
    start = time.perf_counter()
    timings = run_all(args.notebooks, None if args.in_place else args.out, parameters)
    print(f"[pipeline] {len(timings)} notebooks in {time.perf_counter() - start:.1f} s")
    return 0


if __name__ == "__main__":
    sys.exit(main())
