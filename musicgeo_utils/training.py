"""One training loop for every model: fit, checkpoints, prediction.

The data come from :mod:`musicgeo_utils.meldata` (:class:`~musicgeo_utils.meldata.MelDataset`).

- :func:`fit` trains any model of :mod:`musicgeo_utils.models` with AdamW,
  early stopping, mixed precision on CUDA only, and a per-epoch tqdm bar; it
  returns a :class:`History` whose ``frame`` holds the learning curves.
- :func:`save_checkpoint` / :func:`load_checkpoint` store weights, the training
  config and the normalisation statistics in plain types, loaded with
  ``torch.load(..., weights_only=True)``.

Threads: the first call of :func:`fit` or :func:`predict` sets
``torch.set_num_threads(config.torch_threads())`` once per process (2 unless
``MUSICGEO_THREADS`` says otherwise, whatever the machine's core count: torch's
CPU kernels split their sums by thread count, and the checked numbers were made
with 2); :func:`configure_torch_threads` sets another number explicitly, and
that choice then stands.

Determinism: one ``seed`` drives dropout and weight noise (``torch.manual_seed``),
the shuffling order (a seeded ``DataLoader`` generator), the crops (seeded per
``(seed, epoch, clip)`` so they do not depend on which worker loads a clip) and
the workers (``worker_init_fn``). ``torch.use_deterministic_algorithms`` is on
during :func:`fit` (warn-only, so a CUDA op without a deterministic kernel
warns instead of failing) and restored afterwards. Build the model after
``seed_everything(seed)`` so that its initial weights are seeded too.
"""
from __future__ import annotations

import contextlib
import dataclasses
import logging
import os
import random
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Callable, Iterator

import numpy as np
import pandas as pd
import torch
from torch import nn
from torch.utils.data import DataLoader, Dataset

from . import config as mg_config
from .cache import atomic_path, content_key
from .evaluation import accuracy, macro_f1
from .fit_state import CHECKPOINT_FORMAT, load_fit_state, resume_path, save_fit_state, to_plain
from .meldata import CLIP_WINDOWS, MelDataset, mel_normalization_stats, pad_collate
from .models import MODELS, build_model

__all__ = [
    "pick_device", "configure_torch_threads", "TrainConfig", "History", "fit", "train_step",
    "save_checkpoint", "load_checkpoint", "predict", "fit_or_load", "training_key", "softmax",
    "portable_cpu", "make_optimizer", "CPU_NUMERICS",
]

log = logging.getLogger(__name__)
_logged_devices: set[str] = set()
_threads_configured = False


# --------------------------------------------------------------------------- devices


def _mps_available() -> bool:
    backend = getattr(torch.backends, "mps", None)
    return bool(backend is not None and backend.is_available())


def pick_device(prefer: str | None = None) -> torch.device:
    """The device to train on: CUDA, then Apple MPS, then CPU.

    ``prefer`` (``"cuda"``, ``"mps"``, ``"cpu"``, or ``"cuda:1"``) forces one;
    asking for an unavailable accelerator raises ``RuntimeError``. The choice is
    logged once per device per process.
    """
    if prefer is not None:
        device = torch.device(prefer)
        available = {"cpu": True, "cuda": torch.cuda.is_available(), "mps": _mps_available()}
        if not available.get(device.type, False):
            raise RuntimeError(f"device {prefer!r} was requested but is not available here")
    elif torch.cuda.is_available():
        device = torch.device("cuda")
    elif _mps_available():
        device = torch.device("mps")
    else:
        device = torch.device("cpu")
    if str(device) not in _logged_devices:
        _logged_devices.add(str(device))
        log.info("training device: %s", device)
    return device


def configure_torch_threads(n_threads: int | None = None) -> int:
    """Set torch's intra-op threads; return the number in use.

    Called explicitly, it always sets ``n_threads`` (default
    ``config.torch_threads()``). :func:`fit` and :func:`predict` call it without
    arguments and it acts only the first time in a process, so an explicit
    choice made earlier (e.g. one thread for tiny test models, where OpenMP
    barriers on a shared machine cost more than a second thread gains) stands.
    """
    global _threads_configured
    torch.set_num_threads(n_threads or mg_config.torch_threads())
    _threads_configured = True
    return torch.get_num_threads()


def _ensure_torch_threads() -> None:
    if not _threads_configured:
        configure_torch_threads()


# --------------------------------------------------------------------------- config


@dataclass
class TrainConfig:
    """Everything :func:`fit` needs; plain values only, so it goes into checkpoints.

    ``task``: ``"classify"`` (cross-entropy on logits, integer targets) or
    ``"regress"`` (MSE, float targets). ``monitor``: the early-stopping score,
    ``"val_loss"`` (default: smoother on small validation sets) or
    ``"val_macro_f1"`` (classification; fairer to rare classes). ``patience``:
    epochs without improvement before stopping. ``crop_frames``: frames per
    training crop (~46.9 per second). ``amp``: ``"auto"`` = mixed precision on
    CUDA only; it is never used on CPU/MPS. ``class_weight``: ``"balanced"``
    weighs the cross-entropy by inverse class frequency. ``sampler``:
    ``"balanced"`` draws each epoch's training clips with replacement, every
    class equally often in expectation (seeded; an alternative to
    ``class_weight``). ``lr_schedule``: ``"cosine"`` lowers the learning rate
    from ``lr`` to ``lr / 100`` along a half cosine over ``epochs`` (stepped
    once per epoch); ``None`` keeps it constant. ``ema_decay``: keep an
    exponential moving average of the weights (and batch-norm statistics),
    updated after every step with this decay (e.g. 0.998), and validate, stop
    and save with the averaged weights (Polyak averaging: a smoother model
    than the last step's); ``None`` uses the raw weights. ``mixup``: train
    on mixtures of two clips of a batch (Zhang et al. 2018), the mixing weight
    drawn per batch from Beta(``mixup``, ``mixup``) and the loss mixed alike
    (seeded by ``seed`` and the epoch); classification only; ``None``: off.
    ``epoch_size``: training clips per epoch, drawn afresh each epoch without
    replacement (seeded; with ``sampler="balanced"``, with replacement), so an
    epoch, its validation and the patience count cover that many clips
    however large the training set; ``None``: every clip once.
    ``model`` and
    ``model_kwargs`` name the architecture in :data:`musicgeo_utils.models.MODELS`
    (:meth:`build_model` makes it); :func:`fit` trains the model it is given
    and the checkpoint rebuilds it from the model's own ``hparams``, so these
    two fields are a record for notebooks, not read by the loop.
    """

    task: str = "classify"
    epochs: int = 25
    batch_size: int = 32
    lr: float = 1e-3
    weight_decay: float = 1e-2
    crop_frames: int | None = 256
    patience: int = 5
    monitor: str = "val_loss"
    seed: int = 0
    num_workers: int = 0
    amp: str | bool = "auto"
    eval_crops: int = 1
    class_weight: str | None = None
    sampler: str | None = None
    lr_schedule: str | None = None
    ema_decay: float | None = None
    mixup: float | None = None
    epoch_size: int | None = None
    device: str | None = None
    progress: bool = True
    model: str = "crnn"
    model_kwargs: dict = field(default_factory=dict)

    def __post_init__(self) -> None:
        if self.task not in ("classify", "regress"):
            raise ValueError(f"task must be 'classify' or 'regress', got {self.task!r}")
        if self.monitor not in ("val_loss", "val_macro_f1"):
            raise ValueError(f"monitor must be 'val_loss' or 'val_macro_f1', got {self.monitor!r}")
        if self.monitor == "val_macro_f1" and self.task != "classify":
            raise ValueError("monitor 'val_macro_f1' needs task 'classify'")
        if self.sampler not in (None, "balanced"):
            raise ValueError(f"sampler must be None or 'balanced', got {self.sampler!r}")
        if self.sampler is not None and self.task != "classify":
            raise ValueError("sampler 'balanced' needs task 'classify'")
        if self.lr_schedule not in (None, "cosine"):
            raise ValueError(f"lr_schedule must be None or 'cosine', got {self.lr_schedule!r}")
        if self.ema_decay is not None and not 0.0 < self.ema_decay < 1.0:
            raise ValueError(f"ema_decay must be None or in (0, 1), got {self.ema_decay!r}")
        if self.mixup is not None and (self.task != "classify" or not self.mixup > 0):
            raise ValueError(f"mixup needs task 'classify' and a positive Beta parameter, got {self.mixup!r}")
        if self.epoch_size is not None and (isinstance(self.epoch_size, bool) or not isinstance(self.epoch_size, int)
                                            or self.epoch_size <= 0):
            raise ValueError(f"epoch_size must be None or a positive int, got {self.epoch_size!r}")

    def to_dict(self) -> dict:
        """The config as a plain dict (JSON- and ``weights_only``-safe)."""
        return to_plain(dataclasses.asdict(self))

    def build_model(self) -> nn.Module:
        """A fresh model named by ``model`` with ``model_kwargs``."""
        return build_model(self.model, **self.model_kwargs)


#: Notebook 04's early stopping for the mel style CRNN: 3 epochs without a higher validation macro-F1.
#: Its validation macro-F1 jumps by up to 0.15 from one epoch to the next; under patience 6 (the
#: pitch CRNN's) the `small` run went on to epoch 20 for a best of 0.344 at epoch 14 against 0.328 at
#: epoch 8, and each mel epoch costs 30-47 s of two CPU cores (docs/experiments.md, "CI over its 90 minutes").
MEL_STYLE_PATIENCE = 3


def style_config(*, epochs: int, batch_size: int, crop_frames: int, seed: int, model_kwargs: dict,
                 device: str | None = None, patience: int = 6) -> TrainConfig:
    """Notebook 04's recipe for a style CRNN, in one place for its mel and pitch networks and the benchmarks.

    AdamW at lr 1e-3, cross-entropy weighted by inverse class frequency, the
    best epoch by validation macro-F1 and early stopping after ``patience``
    epochs without a gain (the pitch CRNN's 6; the mel CRNN's
    :data:`MEL_STYLE_PATIENCE`); ``model_kwargs`` are the network's (``models.CRNN``).
    """
    return TrainConfig(task="classify", epochs=epochs, batch_size=batch_size, crop_frames=crop_frames, seed=seed,
                       device=device, progress=False, model="crnn", model_kwargs=model_kwargs, patience=patience,
                       lr=1e-3, class_weight="balanced", monitor="val_macro_f1")


def geo_mel_config(*, epochs: int, batch_size: int, crop_frames: int, seed: int, model_kwargs: dict,
                   device: str | None = None) -> TrainConfig:
    """Notebook 04's fine-tune of the style mel CRNN into the geographic mel CRNN, in one place.

    Half the profile's ``epochs`` (at least 3), AdamW at lr 1e-3, cross-entropy
    weighted by inverse region frequency, early stopping after 2 epochs
    without a lower validation loss (the geographic pitch CRNN's recipe is
    :func:`pitchroll.fit_geo_crnn`'s).
    """
    return TrainConfig(task="classify", epochs=max(3, epochs // 2), batch_size=batch_size, crop_frames=crop_frames,
                       seed=seed, device=device, progress=False, model="crnn", model_kwargs=model_kwargs, patience=2,
                       lr=1e-3, class_weight="balanced")


@dataclass
class History:
    """Result of :func:`fit`.

    ``frame``: one row per epoch with ``epoch``, ``train_loss``,
    ``train_accuracy`` (on augmented crops, dropout on), ``val_loss``,
    ``val_accuracy``, ``val_macro_f1`` (NaN for regression), ``lr`` and
    ``seconds`` (wall time of the epoch). ``best_epoch`` is the epoch whose
    weights the model holds after :func:`fit`.
    """

    frame: pd.DataFrame
    best_epoch: int
    best_score: float
    monitor: str
    stopped_early: bool
    #: File name of the checkpoint (set by :func:`fit_or_load`).
    checkpoint: str | None = None


# --------------------------------------------------------------------------- loop


def _seed_worker(worker_id: int) -> None:
    """Seed NumPy and ``random`` in a DataLoader worker from torch's per-worker seed."""
    seed = torch.initial_seed() % 2**32
    np.random.seed(seed)
    random.seed(seed)


#: Enters every checkpoint key: a network trained with other CPU kernels is another network.
CPU_NUMERICS = "portable-v1"


@contextlib.contextmanager
def portable_cpu(device: torch.device) -> Iterator[None]:
    """On the CPU, kernels that round the same way on every x86-64 processor.

    oneDNN (``torch.backends.mkldnn``) picks its convolution and GRU kernels,
    and their blocking, by instruction set and cache size, so a network trained
    on an AVX-512 Xeon and on an AMD EPYC parts ways after a few steps. Inside
    this context torch's own convolution and GRU run instead, on MKL's GEMM,
    which ``MKL_CBWR=COMPATIBLE`` (exported by the Makefile) makes the same on
    every x86-64 CPU; the optimiser is the fused AdamW (its square root is an
    IEEE one, not MKL's vector sqrt, which differs between vendors). Checked by
    ``tools/check_cpu_portability.py``: the same weights, bit for bit, natively
    on an AVX-512 Xeon and under QEMU as an AMD EPYC and an Intel Haswell. About
    1.4x slower than oneDNN for the compact CRNN. No effect on CUDA or MPS.
    """
    if device.type != "cpu":
        yield
        return
    previous = torch.backends.mkldnn.enabled  # (mkldnn.flags() would also set TF32 and warn about it)
    torch.backends.mkldnn.enabled = False
    try:
        yield
    finally:
        torch.backends.mkldnn.enabled = previous


def make_optimizer(model: nn.Module, lr: float, weight_decay: float, device: torch.device) -> torch.optim.Optimizer:
    """The AdamW of :func:`fit`; fused on the CPU (see :func:`portable_cpu`)."""
    return torch.optim.AdamW(model.parameters(), lr=lr, weight_decay=weight_decay,
                             fused=True if device.type == "cpu" else None)


@contextlib.contextmanager
def _deterministic(device: torch.device) -> Iterator[None]:
    """Deterministic kernels for the duration of a fit; the previous mode is restored."""
    previous = torch.are_deterministic_algorithms_enabled()
    previous_warn = torch.is_deterministic_algorithms_warn_only_enabled()
    cudnn = torch.backends.cudnn
    previous_cudnn = (cudnn.deterministic, cudnn.benchmark)
    if device.type == "cuda":
        os.environ.setdefault("CUBLAS_WORKSPACE_CONFIG", ":4096:8")
        torch.use_deterministic_algorithms(True, warn_only=True)
        cudnn.deterministic, cudnn.benchmark = True, False
    # On the CPU the kernels this loop uses are deterministic already, and the
    # global deterministic mode halved training throughput (measured: 19 vs 9
    # clips/s for the compact CRNN), so it is left off; tests check that two
    # seeded fits give identical histories.
    try:
        with portable_cpu(device):
            yield
    finally:
        torch.use_deterministic_algorithms(previous, warn_only=previous_warn)
        cudnn.deterministic, cudnn.benchmark = previous_cudnn


def _use_amp(amp: str | bool, device: torch.device) -> bool:
    if amp not in ("auto", True, False):
        raise ValueError(f"amp must be 'auto', True or False, got {amp!r}")
    if amp is True and device.type != "cuda":
        log.warning("mixed precision requested on %s; it is used on CUDA only", device)
    return amp is not False and device.type == "cuda"


def _loader(ds: Dataset, cfg: TrainConfig, shuffle: bool, device: torch.device,
            generator: torch.Generator | None = None) -> DataLoader:
    sampler = None
    if shuffle and cfg.sampler == "balanced":
        labels = np.asarray(ds.targets, dtype=np.int64)
        counts = np.bincount(labels)
        sampler = torch.utils.data.WeightedRandomSampler(
            torch.as_tensor(1.0 / counts[labels], dtype=torch.float64), cfg.epoch_size or len(labels),
            replacement=True, generator=generator)
    elif shuffle and cfg.epoch_size is not None and cfg.epoch_size < len(ds):
        sampler = torch.utils.data.RandomSampler(ds, num_samples=cfg.epoch_size, generator=generator)
    return DataLoader(
        ds, batch_size=cfg.batch_size, shuffle=shuffle and sampler is None, sampler=sampler,
        num_workers=cfg.num_workers, collate_fn=pad_collate, generator=generator,
        worker_init_fn=_seed_worker, pin_memory=device.type == "cuda",
    )


def _scheduler(optimizer: torch.optim.Optimizer, cfg: TrainConfig):
    """The learning-rate schedule of ``cfg.lr_schedule``, stepped after each epoch (``None``: constant)."""
    if cfg.lr_schedule is None:
        return None
    return torch.optim.lr_scheduler.CosineAnnealingLR(optimizer, T_max=max(cfg.epochs, 1), eta_min=cfg.lr / 100)


def _loss_fn(cfg: TrainConfig, train_ds: MelDataset, device: torch.device) -> nn.Module:
    if cfg.task == "regress":
        return nn.MSELoss()
    if cfg.class_weight is None:
        return nn.CrossEntropyLoss()
    if cfg.class_weight != "balanced":
        raise ValueError(f"class_weight must be None or 'balanced', got {cfg.class_weight!r}")
    labels = np.asarray(train_ds.targets, dtype=np.int64)
    counts = np.bincount(labels).astype(np.float64)
    weights = np.where(counts > 0, len(labels) / (len(counts) * np.maximum(counts, 1)), 0.0)
    return nn.CrossEntropyLoss(weight=torch.as_tensor(weights, dtype=torch.float32, device=device))


def _forward(model: nn.Module, x: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
    """(outputs, embeddings); a 5-D batch of several crops per clip is averaged."""
    crops = x.shape[1] if x.dim() == 5 else 1
    flat = x.flatten(0, 1) if x.dim() == 5 else x
    emb = model.embed(flat)
    out = model.head(emb)
    if crops > 1:
        out = out.unflatten(0, (-1, crops)).mean(dim=1)
        emb = emb.unflatten(0, (-1, crops)).mean(dim=1)
    return out, emb


def train_step(model: nn.Module, x: torch.Tensor, y: torch.Tensor, loss_fn: nn.Module,
               optimizer: torch.optim.Optimizer, scaler: torch.amp.GradScaler,
               use_amp: bool, mix: tuple[float, torch.Tensor] | None = None) -> tuple[float, torch.Tensor]:
    """One forward + backward + optimizer step; returns (loss, detached outputs).

    ``mix``: ``(weight, permutation)``: the batch is ``weight * x + (1 - weight)
    * x[permutation]`` and the loss is mixed with the same weight (mixup).
    """
    optimizer.zero_grad(set_to_none=True)
    if mix is not None:
        weight, order = mix
        x = weight * x + (1.0 - weight) * x[order]
    with torch.autocast(device_type=x.device.type, dtype=torch.float16, enabled=use_amp):
        out = model(x)
        loss = loss_fn(out, y) if mix is None else weight * loss_fn(out, y) + (1.0 - weight) * loss_fn(out, y[order])
    scaler.scale(loss).backward()
    scaler.step(optimizer)
    scaler.update()
    return float(loss.detach()), out.detach().float()


def _averaged(model: nn.Module, cfg: TrainConfig):
    """The moving average of ``model``'s weights and buffers that ``cfg.ema_decay`` asks for (``None``: none)."""
    if cfg.ema_decay is None:
        return None
    from torch.optim.swa_utils import AveragedModel, get_ema_multi_avg_fn

    return AveragedModel(model, multi_avg_fn=get_ema_multi_avg_fn(cfg.ema_decay), use_buffers=True)


def _run_epoch(model, loader, loss_fn, optimizer, scaler, use_amp, device, cfg, averaged, epoch):
    from tqdm.auto import tqdm

    model.train()
    total_loss, correct, seen = 0.0, 0, 0
    bar = tqdm(loader, desc=f"epoch {epoch}", leave=False, disable=not cfg.progress)
    mixing = None if cfg.mixup is None else np.random.default_rng([cfg.seed, epoch, 0x6D6978])  # "mix"
    for x, y in bar:
        x, y = x.to(device, non_blocking=True), y.to(device, non_blocking=True)
        mix = None
        if mixing is not None:
            mix = (float(mixing.beta(cfg.mixup, cfg.mixup)), torch.from_numpy(mixing.permutation(len(y))).to(device))
        loss, out = train_step(model, x, y, loss_fn, optimizer, scaler, use_amp, mix)
        if averaged is not None:
            averaged.update_parameters(model)
        total_loss += loss * len(y)
        seen += len(y)
        if cfg.task == "classify":
            correct += int((out.argmax(dim=1) == y).sum())
        bar.set_postfix(loss=f"{total_loss / seen:.4f}")
    accuracy_ = correct / seen if cfg.task == "classify" else float("nan")
    return total_loss / seen, accuracy_


@torch.no_grad()
def _evaluate(model, loader, loss_fn, device, cfg, use_amp) -> dict[str, float]:
    if loader is None:
        return {"val_loss": np.nan, "val_accuracy": np.nan, "val_macro_f1": np.nan}
    model.eval()
    outs, ys = [], []
    for x, y in loader:
        with torch.autocast(device_type=device.type, dtype=torch.float16, enabled=use_amp):
            out, _ = _forward(model, x.to(device))
        outs.append(out.float())
        ys.append(y.to(device))
    out, y = torch.cat(outs), torch.cat(ys)
    scores = {"val_loss": float(loss_fn(out, y)), "val_accuracy": float("nan"),
              "val_macro_f1": float("nan")}
    if cfg.task == "classify":
        labels, pred = y.cpu().numpy(), out.argmax(dim=1).cpu().numpy()
        scores.update(val_accuracy=accuracy(labels, pred), val_macro_f1=macro_f1(labels, pred))
    return scores


def _check_targets(ds: MelDataset, cfg: TrainConfig, name: str) -> None:
    integer = np.issubdtype(np.asarray(ds.targets).dtype, np.integer)
    if (cfg.task == "classify") != integer:
        kind = "integer class labels" if cfg.task == "classify" else "float targets"
        raise ValueError(f"task {cfg.task!r} needs {kind}; {name} has {ds.targets.dtype}")


def _prepare_normalizer(model: nn.Module, train_ds: MelDataset) -> None:
    """Measure per-band stats on the training set if the model has none yet."""
    normalizer = getattr(model, "normalizer", None)
    if normalizer is not None and not bool(normalizer.fitted):
        normalizer.set_stats(*mel_normalization_stats(train_ds))


class _EarlyStopping:
    """Tracks the best score of ``monitor`` and a copy of the weights that made it."""

    def __init__(self, monitor: str, patience: int) -> None:
        self.monitor, self.patience = monitor, patience
        self.maximize = monitor == "val_macro_f1"
        self.best = -np.inf if self.maximize else np.inf
        self.best_epoch, self.state = 0, None

    def update(self, epoch: int, score: float, model: nn.Module) -> bool:
        """Record ``score``; return True if it is a new best (weights copied)."""
        if not (score > self.best if self.maximize else score < self.best):
            return False
        self.best, self.best_epoch = float(score), epoch
        self.state = {k: v.detach().clone() for k, v in model.state_dict().items()}
        return True

    def should_stop(self, epoch: int) -> bool:
        """True once ``patience`` epochs have passed without a new best."""
        return epoch - self.best_epoch >= self.patience


def fit(model: nn.Module, train_ds: MelDataset, val_ds: MelDataset | None,
        config: TrainConfig, checkpoint_path: str | os.PathLike | None = None,
        on_epoch: Callable[[int, nn.Module], None] | None = None) -> History:
    """Train ``model`` with AdamW and early stopping; return its :class:`History`.

    Validation uses ``val_ds`` in evaluation mode (deterministic crops); with no
    ``val_ds`` the training loss is monitored instead. Training stops after
    ``config.patience`` epochs without improvement of ``config.monitor`` and the
    best weights are restored before returning. If ``checkpoint_path`` is given,
    the best model is saved there (atomically) at every improvement and once
    more at the end with the history in ``extra``; the full training state
    after each epoch (weights, optimiser, best weights, history, random number
    generators) goes to :func:`~musicgeo_utils.fit_state.resume_path` of it, so that a fit interrupted
    after epoch k and called again continues at epoch k + 1 and ends with the
    same weights and history as an uninterrupted one (the file is removed
    when the fit completes). Missing normalisation statistics are measured on
    ``train_ds`` first. ``on_epoch(epoch, model)``, if given, is called after
    each epoch's validation with the weights that were validated (e.g. to keep
    every epoch's weights for a benchmark); it must not change them.
    """
    _ensure_torch_threads()
    device = pick_device(config.device)
    use_amp = _use_amp(config.amp, device)
    _check_targets(train_ds, config, "train_ds")
    torch.manual_seed(config.seed)
    _prepare_normalizer(model, train_ds)
    model.to(device)
    optimizer = make_optimizer(model, config.lr, config.weight_decay, device)
    scheduler = _scheduler(optimizer, config)
    averaged = _averaged(model, config)
    judged = model if averaged is None else averaged.module  # the weights that are validated, kept and saved
    scaler = torch.amp.GradScaler("cuda", enabled=use_amp)
    loss_fn = _loss_fn(config, train_ds, device)
    shuffle = torch.Generator().manual_seed(config.seed)
    train_loader = _loader(train_ds, config, True, device, shuffle)
    val_loader = _loader(val_ds.as_eval(config.eval_crops), config, False, device) if val_ds else None
    stopper = _EarlyStopping(config.monitor if val_ds is not None else "train_loss", config.patience)
    state_path = resume_path(checkpoint_path) if checkpoint_path is not None else None
    rows = (load_fit_state(state_path, config, model, optimizer, scaler, stopper, shuffle, device, scheduler, averaged)
            if state_path else [])
    with _deterministic(device):
        for epoch in range(len(rows) + 1, config.epochs + 1):
            if rows and stopper.should_stop(len(rows)):
                break
            start = time.perf_counter()
            train_ds.set_epoch(epoch)
            loss, acc = _run_epoch(model, train_loader, loss_fn, optimizer, scaler, use_amp,
                                   device, config, averaged, epoch)
            row = {"epoch": epoch, "train_loss": loss, "train_accuracy": acc,
                   **_evaluate(judged, val_loader, loss_fn, device, config, use_amp),
                   "lr": optimizer.param_groups[0]["lr"], "seconds": time.perf_counter() - start}
            rows.append(row)
            if on_epoch is not None:
                on_epoch(epoch, judged)
            if scheduler is not None:
                scheduler.step()
            log.info("epoch %d: %s", epoch, {k: round(v, 4) for k, v in row.items()})
            if stopper.update(epoch, row[stopper.monitor], judged) and checkpoint_path:
                save_checkpoint(checkpoint_path, judged, config,
                                {"epoch": epoch, stopper.monitor: stopper.best})
            if state_path is not None:
                save_fit_state(state_path, config, model, optimizer, scaler, stopper, shuffle, rows, scheduler,
                               averaged)
            if stopper.should_stop(epoch):
                break
    history = _finish(model, stopper, pd.DataFrame(rows), config, checkpoint_path)
    if state_path is not None:
        state_path.unlink(missing_ok=True)
    return history


def _finish(model, stopper, frame, config, checkpoint_path) -> History:
    """Restore the best weights, write the final checkpoint, build the History."""
    if stopper.state is not None:
        model.load_state_dict(stopper.state)
        if checkpoint_path is not None:
            save_checkpoint(checkpoint_path, model, config, {
                "epoch": stopper.best_epoch, stopper.monitor: stopper.best,
                "history": frame.to_dict(orient="list")})
    return History(frame, stopper.best_epoch, stopper.best, stopper.monitor,
                   len(frame) < config.epochs)


# --------------------------------------------------------------------------- checkpoints


def save_checkpoint(path: str | os.PathLike, model: nn.Module, config: TrainConfig | None = None,
                    extra: dict | None = None) -> Path:
    """Write weights, model hparams, config, normalisation stats and ``extra``.

    Everything but the weights is plain data, so :func:`load_checkpoint` reads
    it with ``weights_only=True``. The file is written to a temporary file and
    renamed (atomic). Returns ``path``.
    """
    normalizer = getattr(model, "normalizer", None)
    payload = {
        "format": CHECKPOINT_FORMAT,
        "model_name": type(model).registry_name,
        "model_kwargs": to_plain(model.hparams),
        "state_dict": {k: v.detach().cpu() for k, v in model.state_dict().items()},
        "config": config.to_dict() if config is not None else None,
        "normalization": normalizer.stats() if normalizer is not None else None,
        "extra": to_plain(extra or {}),
        "torch_version": str(torch.__version__),
    }
    with atomic_path(path) as tmp:
        torch.save(payload, tmp)
    return Path(path)


def load_checkpoint(path: str | os.PathLike, device: str | torch.device | None = None
                    ) -> tuple[nn.Module, TrainConfig | None, dict]:
    """Rebuild a model saved by :func:`save_checkpoint`; return (model, config, extra).

    Reads with ``torch.load(..., weights_only=True)`` (no arbitrary unpickling).
    The model is put in eval mode on ``device`` (default: :func:`pick_device`).
    A missing, corrupt or foreign file raises an error naming it.
    """
    path = Path(path)
    if not path.is_file():
        raise FileNotFoundError(f"checkpoint not found: {path}")
    try:
        payload = torch.load(path, map_location="cpu", weights_only=True)
    except Exception as exc:  # torch raises several types for a damaged file
        raise ValueError(f"checkpoint {path} is corrupt or unreadable: {exc}") from exc
    if not isinstance(payload, dict) or payload.get("format") != CHECKPOINT_FORMAT:
        raise ValueError(f"{path} is not a musicgeo checkpoint ({CHECKPOINT_FORMAT})")
    name = payload["model_name"]
    if name not in MODELS:
        raise ValueError(f"checkpoint {path}: unknown model {name!r}")
    model = build_model(name, **payload["model_kwargs"])
    try:
        model.load_state_dict(payload["state_dict"])
    except RuntimeError as exc:
        raise ValueError(f"checkpoint {path}: weights do not fit model {name!r}: {exc}") from exc
    try:
        config = TrainConfig(**payload["config"]) if payload["config"] is not None else None
    except TypeError as exc:
        raise ValueError(f"checkpoint {path}: stored config does not fit TrainConfig: {exc}") from exc
    device = pick_device(None if device is None else str(device))
    return model.to(device).eval(), config, payload["extra"]


# --------------------------------------------------------------------------- inference


@torch.no_grad()
def predict(model: nn.Module, ds: Dataset, device: str | torch.device | None = None,
            batch_size: int = 64, exact: bool = True) -> tuple[np.ndarray, np.ndarray]:
    """(outputs, embeddings) for every item of ``ds``, in order, as NumPy arrays.

    Outputs are logits for classifiers (apply a softmax for probabilities) and
    scaled coordinates for :class:`~musicgeo_utils.models.CifarNet`; embeddings
    are the penultimate features (``model.embed``). A training-mode
    :class:`MelDataset` is switched to its deterministic evaluation crops; with
    several evaluation crops per clip, outputs (logits) and embeddings are
    averaged. With every window of each clip (``eval_crops=CLIP_WINDOWS``, as
    ``predict`` scores a file) clips go one at a time, so that a clip's answer
    is bit for bit the one ``predict`` gives (a batched convolution rounds the
    last bits differently); ``exact=False`` batches clips with the same number
    of windows instead (faster: for embeddings where the last bits do not matter).
    """
    _ensure_torch_threads()
    device = pick_device(None if device is None else str(device))
    if isinstance(ds, MelDataset) and ds.train:
        ds = ds.as_eval()
    model.to(device).eval()
    if isinstance(ds, MelDataset) and ds.eval_crops == CLIP_WINDOWS:
        groups = _same_window_groups(ds, 1 if exact else batch_size)
    else:
        groups = [list(range(start, min(start + batch_size, len(ds)))) for start in range(0, len(ds), batch_size)]
    outs, embs = [None] * len(ds), [None] * len(ds)
    with portable_cpu(device):
        for rows in groups:
            x, _ = pad_collate([ds[i] for i in rows])
            out, emb = _forward(model, x.to(device))
            for i, o, e in zip(rows, out.float().cpu().numpy(), emb.float().cpu().numpy()):
                outs[i], embs[i] = o, e
    if not len(ds):
        raise ValueError("predict needs at least one clip")
    return np.stack(outs), np.stack(embs)


def clip_logits(model: nn.Module, tunes: pd.DataFrame, clips: pd.Series, codes, crop_frames: int, seed: int = 0, *,
                split: str = "test", window_hop: int | None = None, device=None) -> np.ndarray:
    """Logits of each clip of ``tunes``' ``split`` rows whose class code is not negative, averaged over every
    window of the clip (windows ``window_hop`` frames apart; ``None``: half a window), exactly as notebook 04
    scores a test clip and ``predict`` a file. ``clips`` maps tune id to a mel path or an in-memory roll; the
    same tunes rendered otherwise (held-out timbre) give their clips here."""
    from .meldata import split_datasets

    ds = split_datasets(tunes, clips, codes, crop_frames, seed, splits=(split,), window_hop=window_hop)[split]
    return predict(model, ds.as_eval(CLIP_WINDOWS), device)[0]


def _same_window_groups(ds: MelDataset, batch_size: int) -> list[list[int]]:
    """Indices of ``ds`` in batches of at most ``batch_size`` clips that have the same number of windows."""
    from .meldata import _load_mel, window_starts

    by_count: dict[int, list[int]] = {}
    for i, source in enumerate(ds.sources):
        by_count.setdefault(len(window_starts(_load_mel(source).shape[1], ds.crop_frames, ds.window_hop)),
                            []).append(i)
    return [rows[start:start + batch_size] for rows in by_count.values() for start in range(0, len(rows), batch_size)]


def training_key(config: TrainConfig, model: nn.Module, train_ds: MelDataset, val_ds: MelDataset | None) -> str:
    """A content key of what a fit depends on: config, architecture and data."""
    def data_part(ds):
        if ds is None:
            return None
        # File names (content keys of the cache), not absolute paths: the key
        # survives moving the checkout or the data folder.
        def key_of(source):
            return Path(source).name if isinstance(source, (str, os.PathLike)) else content_key(np.asarray(source))

        sources = [key_of(s) for s in ds.sources]
        part = [sources, np.asarray(ds.targets).tolist()]
        augment = {name: getattr(ds, name) for name, off in (("shift_bins", 0), ("stretch", 1.0))
                   if getattr(ds, name, off) != off}  # only when used: earlier trainings keep their keys
        if any(getattr(ds, "alternates", None) or ()):
            augment["alternates"] = [[key_of(a) for a in others] for others in ds.alternates]
        return part + [augment] if augment else part

    # settings added later enter the key only when used, so earlier trainings keep their keys
    settings = {k: v for k, v in config.to_dict().items()
                if k not in ("sampler", "lr_schedule", "ema_decay", "mixup", "epoch_size") or v is not None}
    return content_key(CHECKPOINT_FORMAT, CPU_NUMERICS, settings, type(model).registry_name,
                       to_plain(model.hparams), data_part(train_ds), data_part(val_ds))


def fit_or_load(model: nn.Module, train_ds: MelDataset, val_ds: MelDataset | None,
                config: TrainConfig, checkpoint_dir: str | os.PathLike, name: str) -> tuple[nn.Module, History]:
    """:func:`fit`, unless a checkpoint of the very same fit exists: then load it.

    The checkpoint is ``checkpoint_dir/<name>-<training_key>.pt``; its key covers
    the config, the architecture and the training/validation data, so a
    notebook rerun (or nbval's re-execution) reuses a finished training and
    any change retrains. Returns the trained model (best weights) and its history,
    whose ``checkpoint`` attribute names the checkpoint file.
    """
    path = Path(checkpoint_dir) / f"{name}-{training_key(config, model, train_ds, val_ds)}.pt"
    model, history = _fit_or_load(model, train_ds, val_ds, config, path)
    history.checkpoint = path.name
    return model, history


def _fit_or_load(model, train_ds, val_ds, config, path: Path) -> tuple[nn.Module, History]:
    if path.is_file():
        loaded, _, extra = load_checkpoint(path, config.device)
        if "history" in extra:
            frame = pd.DataFrame(extra["history"])
            monitor = next(k for k in extra if k not in ("epoch", "history"))
            log.info("fit_or_load: reusing %s", path)
            return loaded, History(frame, extra["epoch"], extra[monitor], monitor,
                                   len(frame) < config.epochs)
    history = fit(model, train_ds, val_ds, config, checkpoint_path=path)
    return model, history


def softmax(logits: np.ndarray) -> np.ndarray:
    """Row-wise softmax of logits ``(n, classes)`` -> probabilities (float64)."""
    z = np.asarray(logits, dtype=np.float64)
    z = np.exp(z - z.max(axis=1, keepdims=True))
    return z / z.sum(axis=1, keepdims=True)
