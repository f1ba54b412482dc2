"""Cached log-mel spectrograms as PyTorch datasets, one per split.

- :func:`screen_mel_files` checks cached ``.npy`` spectrograms before training
  and says why a file is skipped;
- :class:`MelDataset` serves them (``(n_mels, frames)``, float32) with random
  crops for training and a deterministic centre crop (or several evenly spaced
  crops, or every window of the clip: :data:`CLIP_WINDOWS`, averaged) for
  evaluation; crops are seeded per ``(seed, epoch, clip)``
  so they do not depend on which worker loads a clip;
- :func:`split_datasets` makes one dataset per split of a tunes table;
- :func:`mel_normalization_stats` and :func:`pad_collate` serve the training
  loop of :mod:`musicgeo_utils.training`.
"""
from __future__ import annotations

import copy
import os
from typing import Any, Sequence

import numpy as np
import pandas as pd
import torch
from torch.utils.data import Dataset


#: ``eval_crops`` value: every window of the clip (:func:`window_starts`), as ``predict`` scores a file.
CLIP_WINDOWS = "clip"


def window_starts(frames: int, crop_frames: int, hop: int | None = None) -> list[int]:
    """First frames of the windows that score a whole clip: 0, hop, 2 hop, ...

    ``hop``: frames from one window's start to the next; ``None`` (default):
    half a window. Windows are taken while a whole one fits (a tail shorter
    than a hop is left out); a clip shorter than one window gives the single
    start 0 (padded).
    """
    if hop is not None and int(hop) < 1:
        raise ValueError(f"window hop must be a positive number of frames, got {hop}")
    hop = max(1, crop_frames // 2) if hop is None else int(hop)
    return list(range(0, max(frames - crop_frames, 0) + 1, hop))


# --------------------------------------------------------------------------- files


def _load_mel(source: str | os.PathLike | np.ndarray) -> np.ndarray:
    """A ``(n_mels, frames)`` float array, memory-mapped when read from a file."""
    if isinstance(source, np.ndarray):
        mel = source
    else:
        try:
            mel = np.load(source, mmap_mode="r", allow_pickle=False)
        except FileNotFoundError:
            raise FileNotFoundError(f"mel spectrogram file not found: {source}") from None
        except (ValueError, OSError, EOFError) as exc:
            raise ValueError(f"{source}: cannot read mel spectrogram ({exc})") from exc
    if mel.ndim != 2 or not np.issubdtype(mel.dtype, np.floating):
        raise ValueError(f"{_name(source)}: expected a 2-D float (n_mels, frames) array, "
                         f"got shape {mel.shape} dtype {mel.dtype}")
    return mel


def _name(source: Any) -> str:
    return "<array>" if isinstance(source, np.ndarray) else str(source)


def _finite(mel: np.ndarray, source: Any) -> np.ndarray:
    """A float32 copy of ``mel``; NaN or infinity raises an error naming the clip."""
    piece = np.array(mel, dtype=np.float32)
    if not np.isfinite(piece).all():
        raise ValueError(f"{_name(source)}: contains NaN or infinite values")
    return piece


def screen_mel_files(sources: Sequence[str | os.PathLike | np.ndarray],
                     n_mels: int | None = None) -> tuple[np.ndarray, pd.DataFrame]:
    """Check every mel spectrogram before a long run; return (good indices, skips).

    A file that is missing, unreadable, pickled, not 2-D float, with another
    number of mel bands than ``n_mels`` or with non-finite values is skipped and
    listed in the skips table (columns ``index``, ``source``, ``reason``).
    """
    good, skips = [], []
    for index, source in enumerate(sources):
        try:
            mel = _load_mel(source)
            if n_mels is not None and mel.shape[0] != n_mels:
                raise ValueError(f"{_name(source)}: {mel.shape[0]} mel bands, expected {n_mels}")
            _finite(mel, source)
            good.append(index)
        except (OSError, ValueError) as exc:
            skips.append({"index": index, "source": _name(source), "reason": str(exc)})
    return np.asarray(good, dtype=np.int64), pd.DataFrame(skips, columns=["index", "source", "reason"])


class MelDataset(Dataset):
    """Log-mel clips with their targets, cropped to a fixed number of frames.

    Args:
        sources: ``.npy`` paths (read with ``allow_pickle=False``, memory-mapped)
            or in-memory ``(n_mels, frames)`` arrays.
        targets: integer class labels ``(n,)`` for classification, or floats
            ``(n, k)`` (e.g. scaled latitude/longitude) for regression.
        crop_frames: frames per example (~46.9 frames per second); ``None``
            serves whole clips (a batch is then padded to its longest clip).
            Clips shorter than ``crop_frames`` are padded on the right with
            their minimum (the silence floor of a log-mel clip).
        train: random crops (augmentation) if ``True``; otherwise the centre
            crop, or ``eval_crops`` evenly spaced crops stacked as
            ``(eval_crops, 1, n_mels, crop_frames)`` for :func:`predict` to
            average; ``eval_crops=CLIP_WINDOWS`` serves every window of
            :func:`window_starts` (their number depends on the clip's length),
            ``window_hop`` frames apart (``None``: half a window).
        seed: random crops depend only on ``(seed, epoch, index)``; call
            :meth:`set_epoch` every epoch (:func:`fit` does).
        shift_bins: training only: each crop is also shifted along the first
            (frequency) axis by a random whole number of bins in
            ``[-shift_bins, shift_bins]``, the vacated bins filled with the
            clip's minimum: transposition, for inputs with one bin per
            semitone (:mod:`musicgeo_utils.pitchroll`); 0 (default) = off.
        stretch: training only: each crop is read from a span of ``crop_frames
            * f`` frames, ``f`` drawn log-uniformly from ``[1/stretch,
            stretch]`` (and shortened to fit the clip), and resampled to
            ``crop_frames``: a tempo change, each output frame the maximum of
            the frames it covers (so a note's onset frame survives a faster
            tempo), a repeated frame the lower of its frame and the next (so a
            slower tempo does not double an onset); 1 (default) = off. Meant
            for note rolls, whose values a change of tempo does not smear the
            way it smears a spectrogram's.
        alternates: training only: ``alternates[i]`` holds other versions of
            clip ``i`` in the same form as ``sources`` (e.g. the rolls of the
            same tune rendered by other instruments and transcribed); each
            epoch's crop of clip ``i`` is read from one of ``sources[i]`` and
            its alternates, drawn from ``(seed, epoch, index)`` (its own
            stream), so an epoch still holds one crop per clip. Evaluation
            reads ``sources`` alone. ``None`` (default) or an empty entry = off.
    """

    def __init__(self, sources: Sequence[str | os.PathLike | np.ndarray], targets: Any,
                 crop_frames: int | None = None, train: bool = True, seed: int = 0,
                 eval_crops: int | str = 1, shift_bins: int = 0, stretch: float = 1.0,
                 window_hop: int | None = None, alternates: Sequence[Sequence[Any]] | None = None) -> None:
        self.sources = list(sources)
        self.alternates = None if alternates is None else [tuple(a) for a in alternates]
        if self.alternates is not None and len(self.alternates) != len(self.sources):
            raise ValueError(f"{len(self.sources)} clips but {len(self.alternates)} entries of alternates")
        self.targets = np.asarray(targets)
        if len(self.targets) != len(self.sources):
            raise ValueError(f"{len(self.sources)} clips but {len(self.targets)} targets")
        if crop_frames is not None and crop_frames < 1:
            raise ValueError("crop_frames must be positive")
        if eval_crops != CLIP_WINDOWS and (not isinstance(eval_crops, int) or eval_crops < 1):
            raise ValueError(f"eval_crops must be a positive integer or {CLIP_WINDOWS!r}, got {eval_crops!r}")
        if shift_bins < 0:
            raise ValueError(f"shift_bins must be non-negative, got {shift_bins}")
        if not np.isfinite(stretch) or stretch < 1:
            raise ValueError(f"stretch must be a finite factor of at least 1, got {stretch}")
        if window_hop is not None and int(window_hop) < 1:
            raise ValueError(f"window_hop must be a positive number of frames, got {window_hop}")
        self.window_hop = None if window_hop is None else int(window_hop)
        self.crop_frames, self.train, self.seed, self.shift_bins = crop_frames, train, seed, int(shift_bins)
        self.stretch = float(stretch)
        self.eval_crops, self.epoch = eval_crops, 0

    def __len__(self) -> int:
        return len(self.sources)

    def set_epoch(self, epoch: int) -> None:
        """Select the random crops of ``epoch`` (training only)."""
        self.epoch = int(epoch)

    def as_eval(self, eval_crops: int | str | None = None) -> "MelDataset":
        """A copy that serves deterministic evaluation crops."""
        evaluation = copy.copy(self)
        evaluation.train = False
        if eval_crops is not None:
            evaluation.eval_crops = eval_crops
        return evaluation

    def _crop_starts(self, index: int, frames: int) -> list[int]:
        span = max(frames - self.crop_frames, 0)
        if self.train:
            rng = np.random.default_rng((self.seed, self.epoch, index))
            return [int(rng.integers(0, span + 1))]
        if self.eval_crops == CLIP_WINDOWS:
            return window_starts(frames, self.crop_frames, self.window_hop)
        if self.eval_crops == 1:
            return [span // 2]
        return [int(s) for s in np.linspace(0, span, self.eval_crops).round()]

    def _crop(self, mel: np.ndarray, start: int, source: Any) -> np.ndarray:
        piece = _finite(mel[:, start:start + self.crop_frames], source)
        missing = self.crop_frames - piece.shape[1]
        if missing > 0:
            piece = np.pad(piece, ((0, 0), (0, missing)), constant_values=piece.min())
        return piece

    def _stretched_crop(self, mel: np.ndarray, index: int, source: Any) -> np.ndarray:
        """A training crop read at a seeded tempo factor (``stretch``), resampled to ``crop_frames``."""
        frames = mel.shape[1]
        rng = np.random.default_rng((self.seed, self.epoch, index, 2))  # its own stream, as for the shift
        factor = float(np.exp(rng.uniform(-np.log(self.stretch), np.log(self.stretch))))
        span = max(1, min(int(np.ceil(self.crop_frames * factor)), frames))
        factor = min(factor, span / self.crop_frames)
        start = int(rng.integers(0, frames - span + 1))
        piece = _finite(mel[:, start:start + span], source)
        starts = np.minimum(np.floor(np.arange(self.crop_frames) * factor).astype(int), span - 1)
        crop = np.maximum.reduceat(piece, starts, axis=1)
        # a slower reading repeats frames: a repeat takes the lower of its frame and the next, so an
        # onset (followed by its sustain) is not doubled
        repeat = np.flatnonzero(np.r_[False, starts[1:] == starts[:-1]])
        crop[:, repeat] = np.minimum(crop[:, repeat], piece[:, np.minimum(starts[repeat] + 1, span - 1)])
        return crop

    def _shift(self, crop: np.ndarray, index: int) -> np.ndarray:
        """The crop moved by a seeded number of bins along its first axis (``shift_bins``)."""
        rng = np.random.default_rng((self.seed, self.epoch, index, 1))  # its own stream: crops stay as they were
        return shift_rows(crop, int(rng.integers(-self.shift_bins, self.shift_bins + 1)))

    def _source(self, index: int) -> Any:
        """The clip's source, or in training one of its alternates (seeded per epoch and clip)."""
        others = self.alternates[index] if self.train and self.alternates is not None else ()
        if not others:
            return self.sources[index]
        pick = int(np.random.default_rng((self.seed, self.epoch, index, 3)).integers(0, len(others) + 1))
        return self.sources[index] if pick == 0 else others[pick - 1]

    def __getitem__(self, index: int) -> tuple[torch.Tensor, torch.Tensor]:
        source = self._source(index)
        mel = _load_mel(source)
        if self.crop_frames is None:
            x = torch.from_numpy(_finite(mel, source))[None]
        else:
            if self.train and self.stretch > 1:
                crops = [self._stretched_crop(mel, index, source)]
            else:
                crops = [self._crop(mel, s, source) for s in self._crop_starts(index, mel.shape[1])]
            if self.train and self.shift_bins:
                crops = [self._shift(c, index) for c in crops]
            x = torch.from_numpy(np.stack(crops))[:, None]
            x = x[0] if len(crops) == 1 else x
        return x, self._target(index)

    def _target(self, index: int) -> torch.Tensor:
        value = self.targets[index]
        if np.issubdtype(self.targets.dtype, np.integer):
            return torch.tensor(value, dtype=torch.long)
        return torch.as_tensor(np.asarray(value, dtype=np.float32))


def pad_collate(batch: list[tuple[torch.Tensor, torch.Tensor]]) -> tuple[torch.Tensor, torch.Tensor]:
    """Stack a batch, padding clips of unequal length with each clip's minimum."""
    frames = max(x.shape[-1] for x, _ in batch)
    xs = [x if x.shape[-1] == frames else
          torch.nn.functional.pad(x, (0, frames - x.shape[-1]), value=float(x.min()))
          for x, _ in batch]
    return torch.stack(xs), torch.stack([y for _, y in batch])


def mel_normalization_stats(dataset: MelDataset) -> tuple[np.ndarray, np.ndarray]:
    """Per-mel-band mean and standard deviation over every frame of every clip.

    Whole clips are read (not crops), in float64; units are those of the
    log-mel input (e.g. dB). Use the training set only.
    """
    total = total_sq = None
    count = 0
    for source in dataset.sources:
        mel = np.asarray(_load_mel(source), dtype=np.float64)
        sums, sq = mel.sum(axis=1), np.square(mel).sum(axis=1)
        total = sums if total is None else total + sums
        total_sq = sq if total_sq is None else total_sq + sq
        count += mel.shape[1]
    if not count:
        raise ValueError("cannot measure normalisation statistics on an empty dataset")
    mean = total / count
    std = np.sqrt(np.maximum(total_sq / count - mean**2, 0.0))
    return mean.astype(np.float32), std.astype(np.float32)


def shift_rows(array: np.ndarray, shift: int) -> np.ndarray:
    """``array`` moved by ``shift`` rows along its first axis (up for a positive shift: a transposition of a
    semitone roll), the vacated rows filled with its minimum (its silence); ``shift`` 0 returns it as is."""
    if shift == 0:
        return array
    moved = np.full_like(array, array.min())
    if shift > 0:
        moved[shift:] = array[:-shift]
    else:
        moved[:shift] = array[-shift:]
    return moved


def split_datasets(tunes: pd.DataFrame, mel_paths: pd.Series, targets, crop_frames: int | None,
                   seed: int, splits: Sequence[str] = ("train", "val", "test"),
                   shift_bins: int = 0, stretch: float = 1.0, window_hop: int | None = None,
                   alternates: pd.Series | None = None) -> dict[str, MelDataset]:
    """One :class:`MelDataset` per split of ``tunes`` (``tune_id``, ``split`` columns).

    ``mel_paths`` maps tune id to its cached mel ``.npy``; ``targets`` is aligned
    with ``tunes`` rows (class codes or scaled coordinates); rows whose target is
    a negative class code (an excluded class) are left out. Training sets crop
    randomly (and, with ``shift_bins`` and ``stretch``, transpose and change
    tempo: see :class:`MelDataset`), the others use deterministic centre crops; ``window_hop``: the frames
    between the windows that score a whole clip (:func:`window_starts`). ``mel_paths`` may hold in-memory
    arrays instead of paths (e.g. :func:`pitchroll.clip_rolls`). ``alternates``: tune id -> a tuple of
    other versions of its clip (:class:`MelDataset`'s ``alternates``), for the training set only; a tune
    missing from it has none.
    """
    targets = np.asarray(targets)
    keep = np.ones(len(targets), dtype=bool)
    if targets.ndim == 1 and np.issubdtype(targets.dtype, np.integer):
        keep = targets >= 0
    result = {}
    for name in splits:
        rows = np.flatnonzero(keep & (tunes["split"].to_numpy() == name))
        ids = tunes["tune_id"].to_numpy()[rows]
        paths = mel_paths.loc[ids].tolist()
        others = None
        if alternates is not None and name == "train":
            others = [tuple(alternates.get(tune_id, ())) for tune_id in ids]
        result[name] = MelDataset(paths, targets[rows], crop_frames=crop_frames,
                                  train=(name == "train"), seed=seed, shift_bins=shift_bins, stretch=stretch,
                                  window_hop=window_hop, alternates=others)
    return result
