"""Would notebook 04 train faster with its networks side by side, one torch thread each?

Notebook 04 trains its CRNNs one after another with two torch threads
(``config.DEFAULT_TORCH_THREADS``). On a 2-core machine the second thread adds
less than a second core's worth, so two trainings in two processes of one
thread each might finish sooner than the same two one after the other. That
only helps if one thread gives the same network as two: a network trained
with other numerics is another network, and notebook 04's checked cells would
change.

For each model (``bench_crnn.MODELS``: ``crnn-compact`` is notebook 04's mel
CRNN, ``pitch-crnn`` its style pitch CRNN), each measurement in a fresh process
(``--steps`` seeded training steps on seeded random batches, after
``--warmup`` untimed ones, with the CPU kernels ``training.fit`` uses):

- ``1 thread`` and ``2 threads``: clips per second of one process alone, and
  a digest of its weights after the steps;
- ``side by side``: two processes of one thread each at once (the model with
  itself), their clips per second added;
- ``same weights``: whether the 1-thread and 2-thread digests agree, i.e. the
  same network bit for bit;
- ``side by side / 2 threads``: the throughput ratio (above 1: side by side
  trains more clips per second than one process with both threads).

A last line keeps the pitch CRNN at its two threads (its numerics as in
notebook 04) and runs the mel CRNN beside it with one: each one's clips per
second as a share of its rate alone with two threads, and their sum (above 1:
the pair finishes sooner than one after the other; three threads on two cores).

    python benchmarks/bench_threads.py --steps 30

Run it with nothing else on the machine; the shares of a shared machine are noisy.
"""
from __future__ import annotations

import argparse
import hashlib
import json
import subprocess
import sys
import time
from pathlib import Path

FRAMES = {"crnn-compact": 256, "pitch-crnn": 200}  # notebook 04's crops


def worker(model_name: str, threads: int, steps: int, warmup: int, batch_size: int) -> dict:
    """Train ``model_name`` in this process with ``threads`` torch threads -> clips/s and a weight digest."""
    import torch

    from bench_crnn import MODELS, clips_per_second
    from musicgeo_utils.config import seed_everything
    from musicgeo_utils.training import configure_torch_threads

    configure_torch_threads(threads)
    seed_everything(0)
    model = MODELS[model_name]()
    rate, share = clips_per_second(model, FRAMES[model_name], batch_size, steps, warmup)
    digest = hashlib.sha256()
    for name, value in model.state_dict().items():
        digest.update(name.encode())
        digest.update(value.detach().contiguous().numpy().tobytes())
    return {"clips_per_s": rate, "cpu_share": share, "weights": digest.hexdigest()[:16],
            "torch_threads": torch.get_num_threads()}


def _command(model_name: str, threads: int, args) -> list[str]:
    return [sys.executable, str(Path(__file__).resolve()), "--worker", model_name, str(threads),
            "--steps", str(args.steps), "--warmup", str(args.warmup), "--batch-size", str(args.batch_size)]


def _run(commands: list[list[str]]) -> list[dict]:
    """Start every command at once; each prints one JSON line."""
    processes = [subprocess.Popen(c, stdout=subprocess.PIPE, text=True) for c in commands]
    outputs = [p.communicate()[0] for p in processes]
    for p, command in zip(processes, commands):
        if p.returncode:
            raise SystemExit(f"worker failed ({p.returncode}): {' '.join(command)}")
    return [json.loads(out.strip().splitlines()[-1]) for out in outputs]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--models", nargs="+", choices=sorted(FRAMES), default=sorted(FRAMES))
    parser.add_argument("--steps", type=int, default=30, help="timed training steps per process")
    parser.add_argument("--warmup", type=int, default=3, help="untimed steps before them")
    parser.add_argument("--batch-size", type=int, default=32)
    parser.add_argument("--worker", nargs=2, metavar=("MODEL", "THREADS"), help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.worker:
        print(json.dumps(worker(args.worker[0], int(args.worker[1]), args.steps, args.warmup, args.batch_size)))
        return
    print(f"{args.steps} timed + {args.warmup} warm-up steps of {args.batch_size} clips per process")
    print(f"{'model':13s} {'2 threads':>10s} {'1 thread':>9s} {'side by side':>13s} {'same weights':>12s} "
          f"{'side by side / 2 threads':>25s}  (clips/s)")
    alone = {}
    for name in args.models:
        start = time.perf_counter()
        two, = _run([_command(name, 2, args)])
        alone[name] = two["clips_per_s"]
        one, = _run([_command(name, 1, args)])
        pair = _run([_command(name, 1, args), _command(name, 1, args)])
        side = sum(r["clips_per_s"] for r in pair)
        same = one["weights"] == two["weights"] == pair[0]["weights"] == pair[1]["weights"]
        print(f"{name:13s} {two['clips_per_s']:10.1f} {one['clips_per_s']:9.1f} {side:13.1f} "
              f"{'yes' if same else 'no':>12s} {side / two['clips_per_s']:25.2f}  "
              f"({time.perf_counter() - start:.0f} s)", flush=True)
    if set(alone) == set(FRAMES):
        pitch, mel = _run([_command("pitch-crnn", 2, args), _command("crnn-compact", 1, args)])
        shares = pitch["clips_per_s"] / alone["pitch-crnn"], mel["clips_per_s"] / alone["crnn-compact"]
        print(f"pitch-crnn (2 threads) beside crnn-compact (1 thread): {shares[0]:.2f} + {shares[1]:.2f} = "
              f"{sum(shares):.2f} of their rates alone with 2 threads")


if __name__ == "__main__":
    main()
