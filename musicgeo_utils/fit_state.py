"""A fit on disk: the plain data of checkpoints and the state of an unfinished fit.

- :func:`to_plain` turns configs, hyperparameters and histories into plain
  dicts, lists, strings and numbers, so that every file is read back with
  ``torch.load(..., weights_only=True)`` (nothing is unpickled);
- :func:`save_fit_state` / :func:`load_fit_state` write and restore the whole
  training state after an epoch (weights, optimiser, scaler, schedule, the
  weights' moving average, best weights, history, random number generators) at :func:`resume_path`, so that
  :func:`musicgeo_utils.training.fit` interrupted after epoch k continues at
  epoch k + 1 and ends as an uninterrupted fit would.

The finished model's checkpoint (:func:`musicgeo_utils.training.save_checkpoint`)
carries the same :data:`CHECKPOINT_FORMAT`.
"""
from __future__ import annotations

import copy
import logging
import os
from pathlib import Path
from typing import Any

import numpy as np
import torch

from .cache import atomic_path

log = logging.getLogger(__name__)
#: Written into every checkpoint and training state; a file without it is refused.
CHECKPOINT_FORMAT = "musicgeo-checkpoint-v1"


def to_plain(value: Any) -> Any:
    """Convert to dict/list/str/float/int/bool/None (NumPy and tuples included)."""
    if isinstance(value, dict):
        return {str(k): to_plain(v) for k, v in value.items()}
    if isinstance(value, (list, tuple)):
        return [to_plain(v) for v in value]
    if isinstance(value, np.ndarray):
        return to_plain(value.tolist())
    if isinstance(value, np.generic):
        return value.item()
    if isinstance(value, os.PathLike):
        return os.fspath(value)
    if value is None or isinstance(value, (str, int, float, bool)):
        return value
    raise TypeError(f"checkpoint metadata must be plain data, got {type(value).__name__}: {value!r}")


def resume_path(checkpoint_path: str | os.PathLike) -> Path:
    """Where :func:`musicgeo_utils.training.fit` keeps the training state of an unfinished fit: ``<checkpoint>.resume``."""
    path = Path(checkpoint_path)
    return path.with_name(path.name + ".resume")


def save_fit_state(path: Path, config, model, optimizer, scaler, stopper, shuffle, rows, scheduler=None,
                   averaged=None) -> None:
    """The whole training state after an epoch, atomically (tensors and plain data only)."""
    payload = {
        "format": CHECKPOINT_FORMAT, "config": to_plain(config.to_dict()),
        "model": {k: v.detach().cpu() for k, v in model.state_dict().items()},
        "optimizer": optimizer.state_dict(), "scaler": scaler.state_dict(),
        "scheduler": None if scheduler is None else scheduler.state_dict(),
        "averaged": None if averaged is None else {k: v.detach().cpu() for k, v in averaged.state_dict().items()},
        "best": float(stopper.best), "best_epoch": stopper.best_epoch,
        "best_state": None if stopper.state is None else {k: v.detach().cpu() for k, v in stopper.state.items()},
        "rows": to_plain(rows), "torch_rng": torch.get_rng_state(), "shuffle_rng": shuffle.get_state(),
        "cuda_rng": torch.cuda.get_rng_state_all() if torch.cuda.is_available() else [],
    }
    with atomic_path(path) as tmp:
        torch.save(payload, tmp)


def load_fit_state(path: Path, config, model, optimizer, scaler, stopper, shuffle, device, scheduler=None,
                   averaged=None) -> list[dict]:
    """Restore a state saved by :func:`save_fit_state`; return the finished epochs' rows.

    No file: a fresh start (``[]``). A file of another configuration, or one
    that cannot be read, is reported and ignored (the fit starts over).
    """
    if not path.is_file():
        return []
    fresh = (copy.deepcopy(model.state_dict()), copy.deepcopy(optimizer.state_dict()), scaler.state_dict(),
             None if averaged is None else copy.deepcopy(averaged.state_dict()))
    try:
        state = torch.load(path, map_location="cpu", weights_only=True)
        if state.get("format") != CHECKPOINT_FORMAT or state.get("config") != to_plain(config.to_dict()):
            raise ValueError("it belongs to another configuration")
        model.load_state_dict(state["model"])
        optimizer.load_state_dict(state["optimizer"])
        scaler.load_state_dict(state["scaler"])
        if scheduler is not None:
            scheduler.load_state_dict(state["scheduler"])
        if averaged is not None:
            averaged.load_state_dict(state["averaged"])
    except Exception as exc:  # a damaged or foreign file must not stop the run
        log.warning("ignoring the training state %s (%s); training from the start", path, exc)
        # a file that failed half-way must not leave its weights behind
        model.load_state_dict(fresh[0])
        optimizer.load_state_dict(fresh[1])
        scaler.load_state_dict(fresh[2])
        if averaged is not None:
            averaged.load_state_dict(fresh[3])
        return []
    model.to(device)
    if averaged is not None:
        averaged.to(device)
    stopper.best, stopper.best_epoch = state["best"], state["best_epoch"]
    stopper.state = None if state["best_state"] is None else {k: v.to(device) for k, v in state["best_state"].items()}
    torch.set_rng_state(state["torch_rng"])
    shuffle.set_state(state["shuffle_rng"])
    if state["cuda_rng"] and torch.cuda.is_available():
        torch.cuda.set_rng_state_all(state["cuda_rng"])
    rows = [dict(row) for row in state["rows"]]
    log.info("resuming %s after epoch %d", path, len(rows))
    return rows
