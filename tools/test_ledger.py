"""Run `make test`'s stages in order, time each, and print the ledger at the end.

    python tools/test_ledger.py [--out FILE] "NAME:BUDGET_S:COMMAND" ...

Each stage is a shell command run from the repository root. Every stage runs
even when an earlier one failed, except that a stage whose name ends in
``(after nbval)`` needs the notebooks' outputs and is reported "not run" when
nbval failed. The table (stage, budget, measured, result), headed by the machine's
processor, goes to standard output and, as TSV, to ``reports/test-ledger.tsv`` (or ``--out FILE``). A stage over its budget is
flagged, not failed: budgets are for planning (CI allows 90 minutes), and
speed is checked by the benchmarks, not by tests. The exit status is 1 when
any stage failed.
"""
from __future__ import annotations

import subprocess
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent


def parse_stage(text: str) -> tuple[str, float, str]:
    """``"name:budget_s:command"`` -> (name, budget seconds, command)."""
    try:
        name, budget, command = text.split(":", 2)
        return name, float(budget), command
    except ValueError:
        raise SystemExit(f"stage {text!r} is not NAME:BUDGET_SECONDS:COMMAND") from None


def machine() -> str:
    """The processor the numbers were made on: model name, cores, AVX-512 or not (Linux; else the platform)."""
    import os
    import platform

    try:
        info = Path("/proc/cpuinfo").read_text()
    except OSError:
        return f"{platform.machine()}, {os.cpu_count()} cores"
    model = next((line.split(":", 1)[1].strip() for line in info.splitlines() if line.startswith("model name")),
                 platform.machine())
    return f"{model}, {os.cpu_count()} cores, AVX-512 {'yes' if ' avx512f' in info else 'no'}"


def main(argv: list[str]) -> int:
    out = ROOT / "reports" / "test-ledger.tsv"
    if argv[:1] == ["--out"]:
        out, argv = Path(argv[1]), argv[2:]
    stages = [parse_stage(arg) for arg in argv]
    if not stages:
        raise SystemExit("no stages given")
    rows, failed = [], set()
    total_start = time.perf_counter()
    for name, budget, command in stages:
        if name.endswith("(after nbval)") and any(f.startswith("nbval") for f in failed):
            rows.append((name, budget, 0.0, "not run (nbval failed)"))
            failed.add(name)
            continue
        print(f"\n=== {name}: {command}", flush=True)
        start = time.perf_counter()
        code = subprocess.call(command, shell=True, cwd=ROOT)
        seconds = time.perf_counter() - start
        result = "passed" if code == 0 else f"FAILED (exit {code})"
        if code != 0:
            failed.add(name)
        if seconds > budget:
            result += ", over budget"
        rows.append((name, budget, seconds, result))
    total = time.perf_counter() - total_start
    width = max(len(r[0]) for r in rows + [("total", 0, 0, "")])
    lines = [f"{'stage':<{width}}  {'budget':>8}  {'measured':>8}  result"]
    lines += [f"{n:<{width}}  {b / 60:>6.1f} m  {s / 60:>6.1f} m  {r}" for n, b, s, r in rows]
    lines.append(f"{'total':<{width}}  {sum(r[1] for r in rows) / 60:>6.1f} m  {total / 60:>6.1f} m")
    print(f"\n=== test ledger (machine: {machine()})\n" + "\n".join(lines), flush=True)
    out.parent.mkdir(parents=True, exist_ok=True)
    tmp = out.with_suffix(".tsv.tmp")
    tmp.write_text("stage\tbudget_s\tmeasured_s\tresult\n"
                   + "".join(f"{n}\t{b:.0f}\t{s:.1f}\t{r}\n" for n, b, s, r in rows))
    tmp.replace(out)
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
