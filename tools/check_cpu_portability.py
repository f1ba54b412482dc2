"""Does a seeded CRNN fit give the same weights on other x86-64 processors?

    python tools/check_cpu_portability.py [--cpus EPYC-Rome Haswell]

Runs one small seeded :func:`musicgeo_utils.training.fit` (the compact CRNN on
96-band synthetic mels, two epochs, then :func:`~musicgeo_utils.training.predict`
on every window of the validation clips) natively, then again under QEMU's user
mode emulating each CPU model named (``qemu-x86_64 -cpu MODEL``, Debian package
``qemu-user``): another vendor's CPUID, another instruction set, other cache
sizes, so MKL, oneDNN and torch choose kernels as they would on that machine.
Prints one row per CPU (SHA-256 of the trained weights and of the outputs) and
exits 1 if any row differs from the native one, 0 if all agree. Under
emulation the run is slow (about a minute per CPU model, most of it importing
torch).

It checks the environment it is given: run it through make (which exports the
CPU pins, README "Same seed, same numbers") or export them yourself. It exits 2
when a pin is missing or QEMU is not installed.
"""
from __future__ import annotations

import argparse
import hashlib
import json
import os
import shutil
import site
import subprocess
import sys
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
PINS = ("ATEN_CPU_CAPABILITY", "MKL_CBWR")


def child() -> dict:
    """The fit itself; prints and returns hashes of its weights and outputs."""
    import numpy as np
    import torch

    from musicgeo_utils import models
    from musicgeo_utils.config import seed_everything
    from musicgeo_utils.meldata import CLIP_WINDOWS, MelDataset
    from musicgeo_utils.training import TrainConfig, configure_torch_threads, fit, predict

    configure_torch_threads()
    rng = np.random.default_rng(0)
    labels = np.arange(24) % 4
    clips = []
    for label in labels:
        clip = rng.normal(-40.0, 3.0, size=(96, int(rng.integers(150, 260)))).astype(np.float32)
        clip[20 * label:20 * label + 6] += 8.0
        clips.append(clip)
    train = MelDataset(clips[:16], labels[:16], crop_frames=128, seed=0)
    val = MelDataset(clips[16:], labels[16:], crop_frames=128, train=False, eval_crops=CLIP_WINDOWS)
    seed_everything(0)
    model = models.build_model("crnn", n_classes=4, n_mels=96, **models.COMPACT_CRNN_KWARGS)
    config = TrainConfig(epochs=2, batch_size=8, lr=3e-3, crop_frames=128, progress=False, device="cpu",
                         model="crnn", model_kwargs=dict(models.COMPACT_CRNN_KWARGS), sampler="balanced",
                         lr_schedule="cosine", monitor="val_macro_f1")
    history = fit(model, train, val, config)
    outputs, _ = predict(model, val, "cpu")
    digest = hashlib.sha256(b"".join(t.detach().numpy().tobytes() for t in model.state_dict().values()))
    return {"weights": digest.hexdigest()[:16], "outputs": hashlib.sha256(outputs.tobytes()).hexdigest()[:16],
            "val_loss": float(history.frame["val_loss"].iloc[-1]),
            "capability": torch.backends.cpu.get_cpu_capability()}


def run(cpu: str | None) -> dict:
    """The child natively (``cpu=None``) or under ``qemu-x86_64 -cpu cpu``; its JSON answer."""
    python = [sys.executable] if cpu is None else [
        "qemu-x86_64", "-cpu", cpu, os.path.realpath(sys.executable)]
    env = dict(os.environ)
    if cpu is not None:  # the emulated interpreter is the base one: give it this venv's packages
        env["PYTHONPATH"] = os.pathsep.join([*site.getsitepackages(), str(REPO), env.get("PYTHONPATH", "")])
    done = subprocess.run([*python, __file__, "--child"], env=env, cwd=REPO, capture_output=True, text=True)
    if done.returncode:
        raise SystemExit(f"the run on {cpu or 'this CPU'} failed:\n{done.stderr[-2000:]}")
    return json.loads(done.stdout.strip().splitlines()[-1])


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--cpus", nargs="+", default=["EPYC-Rome", "Haswell"],
                        help="QEMU CPU models to compare with this machine (qemu-x86_64 -cpu help)")
    parser.add_argument("--child", action="store_true", help=argparse.SUPPRESS)
    args = parser.parse_args(argv)
    if args.child:
        print(json.dumps(child()))
        return 0
    missing = [name for name in PINS if not os.environ.get(name)]
    if missing:
        print(f"not checked: {', '.join(missing)} not set (run through make, which exports them)")
        return 2
    if shutil.which("qemu-x86_64") is None:
        print("not checked: qemu-x86_64 not found (Debian: apt-get install qemu-user)")
        return 2
    rows = {"this CPU": run(None)} | {f"QEMU {cpu}": run(cpu) for cpu in args.cpus}
    native = rows["this CPU"]
    print(f"{'cpu':<16} {'weights':<17} {'outputs':<17} {'last val loss':<15} torch kernels")
    for name, row in rows.items():
        print(f"{name:<16} {row['weights']:<17} {row['outputs']:<17} {row['val_loss']:<15.9f} {row['capability']}")
    same = all((row["weights"], row["outputs"]) == (native["weights"], native["outputs"]) for row in rows.values())
    print("same weights and outputs on every CPU" if same else "DIFFERENT results across CPUs")
    return 0 if same else 1


if __name__ == "__main__":
    sys.exit(main())
