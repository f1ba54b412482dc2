"""Training throughput of the CRNNs on CPU against the epoch-time target.

Target: one epoch of 1,000 clips in <= 40 s on 2 CPU cores (the Music-Mapp
write-up quoted 40 s per epoch of 1,000 songs on a GTX 1080). For each model
and crop length, this times ``training.train_step`` (forward + backward +
AdamW step, the step :func:`musicgeo_utils.training.fit` runs) on random
log-mel batches, after warm-up steps that are not timed, and prints clips per
second, the implied epoch time for 1,000 clips and its ratio to 40 s
(<= 1.00 meets the target). Data loading is not included. Peak RSS is the
process maximum so far (it only grows down the table). ``cpu_share`` is the
process CPU time over (wall time x threads): well under 1 means other jobs took
the cores during the row, and the row is slower than this machine alone; the
1-minute load average is printed with each row for the same reason.
``cpu_epoch_s`` = ``epoch_s`` x ``cpu_share``: the CPU seconds per thread that
the epoch consumed, i.e. the wall time it would take with both cores to itself
if the work scales (spin-waiting threads under contention inflate it a little).

    python benchmarks/bench_crnn.py --batch-size 32 --steps 5

The machine's cores may be shared with other jobs: numbers are noisy.
"""
from __future__ import annotations

import argparse
import os
import resource
import time

import torch
from torch import nn

from musicgeo_utils.config import seed_everything
from musicgeo_utils.models import COMPACT_CRNN_KWARGS, CRNN
from musicgeo_utils.pitchroll import N_PITCHES, PITCH_CRNN_KWARGS
from musicgeo_utils.training import configure_torch_threads, make_optimizer, portable_cpu, train_step

TARGET_EPOCH_S = 40.0
EPOCH_CLIPS = 1000
N_CLASSES = 8

MODELS = {  # name: (32,64,64,64) is the default CRNN, (16,32,32,32) the narrow one
    "crnn-w32": lambda: CRNN(N_CLASSES),
    "crnn-w16": lambda: CRNN(N_CLASSES, channels=(16, 32, 32, 32), gru_hidden=16),
    "crnn-deep": lambda: CRNN.deep(N_CLASSES),
    # notebook 04's compact CRNN: frequency pooled early, frames averaged in pairs at the input
    "crnn-compact": lambda: CRNN(N_CLASSES, **COMPACT_CRNN_KWARGS),
    # notebook 04's style pitch CRNN: a 60-semitone roll (its 200-frame crops: --frames 200)
    "pitch-crnn": lambda: CRNN(N_CLASSES, n_mels=N_PITCHES, **PITCH_CRNN_KWARGS),
}


def input_rows(model: nn.Module) -> int:
    """Rows of the model's input: mel bands or semitones."""
    return len(model.normalizer.mean)


def peak_rss_mib() -> float:
    """Peak resident set size of this process so far, MiB (Linux reports KiB)."""
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024


def clips_per_second(model: nn.Module, frames: int, batch_size: int, steps: int,
                     warmup: int) -> tuple[float, float]:
    """Clips per second of forward + backward + AdamW on ``(batch, 1, rows, frames)`` (rows: :func:`input_rows`).

    Also returns the CPU share: process CPU seconds / (wall seconds x threads),
    1.0 when the timed steps had every thread's core to themselves.
    """
    x = torch.randn(batch_size, 1, input_rows(model), frames)
    y = torch.randint(0, N_CLASSES, (batch_size,))
    optimizer = make_optimizer(model, 1e-3, 0.01, torch.device("cpu"))
    scaler = torch.amp.GradScaler("cuda", enabled=False)
    loss_fn = nn.CrossEntropyLoss()
    model.train()
    with portable_cpu(torch.device("cpu")):  # the kernels fit uses on the CPU
        for _ in range(warmup):
            train_step(model, x, y, loss_fn, optimizer, scaler, False)
        start, cpu_start = time.perf_counter(), time.process_time()
        for _ in range(steps):
            train_step(model, x, y, loss_fn, optimizer, scaler, False)
        wall, cpu = time.perf_counter() - start, time.process_time() - cpu_start
    return batch_size * steps / wall, cpu / (wall * torch.get_num_threads())


def main() -> None:
    """Print one row per (model, crop length)."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--batch-size", type=int, default=32)
    parser.add_argument("--steps", type=int, default=5, help="timed steps per row")
    parser.add_argument("--warmup", type=int, default=3, help="untimed steps per row")
    parser.add_argument("--frames", type=int, nargs="+", default=[128, 256, 512, 704])
    parser.add_argument("--models", nargs="+", choices=sorted(MODELS), default=sorted(MODELS),
                        help="models to time (default: all)")
    parser.add_argument("--threads", type=int, default=None,
                        help="torch threads (default: config.n_jobs(), i.e. all cores)")
    args = parser.parse_args()
    threads = configure_torch_threads(args.threads)
    print(f"torch {torch.__version__}, {threads} threads, batch {args.batch_size}, "
          f"{args.steps} timed + {args.warmup} warm-up steps; target {EPOCH_CLIPS} clips "
          f"in <= {TARGET_EPOCH_S:.0f} s")
    print(f"{'model':10s} {'params':>8s} {'frames':>6s} {'clips/s':>8s} {'epoch_s':>8s} "
          f"{'ratio':>6s} {'cpu_share':>9s} {'cpu_epoch_s':>11s} {'load1':>5s} {'peak_rss_MiB':>12s}")
    for name in args.models:
        for frames in args.frames:
            seed_everything(0)
            model = MODELS[name]()
            params = sum(p.numel() for p in model.parameters())
            rate, share = clips_per_second(model, frames, args.batch_size, args.steps, args.warmup)
            epoch_s = EPOCH_CLIPS / rate
            print(f"{name:10s} {params:8d} {frames:6d} {rate:8.1f} {epoch_s:8.1f} "
                  f"{epoch_s / TARGET_EPOCH_S:6.2f} {share:9.2f} {epoch_s * share:11.1f} "
                  f"{os.getloadavg()[0]:5.1f} "
                  f"{peak_rss_mib():12.0f}", flush=True)


if __name__ == "__main__":
    main()
