"""Which style model ``predict`` uses, and which CRNN the map of music is drawn from: both chosen on validation.

Notebook 04 trains CRNNs on two inputs (the mel spectrogram; the semitone
roll of the transcribed notes) and classifiers (:func:`evaluation.classifier_on_splits`)
on descriptor inputs. Each is a candidate with its validation macro-F1 (a
CRNN scored over every window of each validation clip, as ``predict`` scores
a file; a classifier by the validation score that chose it). :func:`choose`
ranks them: the best of all becomes the bundle's style model card, the best
CRNN gives the held-out outputs that notebook 05 maps and the embeddings of
the reference tunes that ``predict`` names as neighbours. The test split
plays no part in either choice.
"""
from __future__ import annotations

import dataclasses
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
import pandas as pd
from torch import nn

from . import evaluation, meldata, saved_models, training


@dataclass
class CrnnCandidate:
    """A trained CRNN: its table ``name``, input (``features``, in words), the model, its per-tune
    ``inputs`` (mel paths or rolls, indexed by tune id), ``crop_frames``, its ``checkpoint`` file,
    the model card's ``card_extra`` (how ``predict`` feeds it, e.g. ``{"input": "pitch roll", ...}``) and
    the ``window_hop`` of the windows that score a clip (``None``: half a window; the card records
    any other)."""

    name: str
    features: str
    model: nn.Module
    inputs: pd.Series
    crop_frames: int
    checkpoint: Path
    card_extra: dict = field(default_factory=dict)
    window_hop: int | None = None
    _memo: dict = field(default_factory=dict, repr=False)

    def outputs(self, tunes: pd.DataFrame, codes, splits=("val",), seed: int = 0, device=None,
                exact: bool = True) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
        """``(tune_ids, logits, embeddings)`` of the rows of ``tunes`` in ``splits`` (in that order) whose
        code is not negative, every window of each clip averaged (:data:`meldata.CLIP_WINDOWS`).

        A split's outputs are computed once per (rows, codes, exact) and reused.
        """
        codes = np.asarray(codes)
        ids, logits, embeddings = [], [], []
        for split in splits:
            rows = (codes >= 0) & (tunes["split"].to_numpy() == split)
            split_ids = tunes["tune_id"].to_numpy()[rows].astype(str)
            key = (split, tuple(split_ids), exact)
            if key not in self._memo:
                ds = meldata.split_datasets(tunes, self.inputs, codes, self.crop_frames, seed, splits=(split,),
                                            window_hop=self.window_hop)[split]
                self._memo[key] = training.predict(self.model, ds.as_eval(meldata.CLIP_WINDOWS), device, exact=exact)
            ids.append(split_ids)
            logits.append(self._memo[key][0])
            embeddings.append(self._memo[key][1])
        return np.concatenate(ids), np.concatenate(logits), np.concatenate(embeddings)

    def with_inputs(self, inputs: pd.Series) -> "CrnnCandidate":
        """The same network reading other clips' inputs (e.g. other renders of the same tunes)."""
        return dataclasses.replace(self, inputs=inputs, _memo={})

    def validation_f1(self, tunes: pd.DataFrame, codes, seed: int = 0, device=None) -> float:
        codes = np.asarray(codes)
        _, logits, _ = self.outputs(tunes, codes, ("val",), seed, device)
        truth = codes[(codes >= 0) & (tunes["split"].to_numpy() == "val")]
        return evaluation.macro_f1(truth, logits.argmax(axis=1))

    def card(self, classes, validation_f1: float, folder: Path | None = None) -> saved_models.ModelCard:
        return saved_models.ModelCard("crnn", self.name, self.features, Path(self.checkpoint), tuple(map(str, classes)),
                                      validation={"macro_f1": float(validation_f1)}, extra=self.extra())

    def extra(self) -> dict:
        """How ``predict`` feeds this network: ``card_extra`` and a ``window_hop`` other than half a window."""
        return {**({} if self.window_hop is None else {"window_hop": self.window_hop}), **self.card_extra}

    def probabilities(self, tunes: pd.DataFrame, codes, seed: int = 0, device=None) -> np.ndarray:
        """Test-split class probabilities (softmax of the clip-averaged logits)."""
        return training.softmax(self.outputs(tunes, codes, ("test",), seed, device)[1])


@dataclass
class ClassifierCandidate:
    """A classifier chosen by :func:`evaluation.classifier_on_splits`: its table ``name``, input
    ``features`` (in words), the ``chosen`` model, the input ``columns`` (as ``predict`` names them)
    and ``X``, the input of every tune (rows aligned with ``tunes``)."""

    name: str
    features: str
    chosen: evaluation.ChosenModel
    columns: list[str]
    X: np.ndarray

    def validation_f1(self, tunes=None, codes=None, seed: int = 0, device=None) -> float:
        return float(max(self.chosen.scores.values()))

    def card(self, classes, validation_f1: float, folder: Path | None = None) -> saved_models.ModelCard:
        """Writes ``style-classifier.skops`` and its card in ``folder``."""
        if folder is None:
            raise ValueError(f"{self.name}: a classifier's card needs the folder its model is saved in")
        return saved_models.read_card(saved_models.save_sklearn_card(
            folder, "style-classifier", self.chosen.model, name=self.name, features=self.features,
            classes=classes, inputs=saved_models.InputSpec(tuple(self.columns)),
            validation={"macro_f1": float(validation_f1)}))

    def probabilities(self, tunes: pd.DataFrame, codes, seed: int = 0, device=None) -> np.ndarray:
        rows = (np.asarray(codes) >= 0) & (tunes["split"].to_numpy() == "test")
        return self.chosen.model.predict_proba(self.X[rows])


@dataclass
class StyleChoice:
    """Every candidate's validation macro-F1 (best first), the best candidate and the best CRNN."""

    validation_f1: pd.Series
    best: CrnnCandidate | ClassifierCandidate
    best_crnn: CrnnCandidate

    def test_answers(self, tunes: pd.DataFrame, codes, classes, seed: int = 0, device=None) -> pd.DataFrame:
        """The best model's answer for each test tune: ``tune_id, model, style, probability``."""
        proba = self.best.probabilities(tunes, codes, seed, device)
        rows = (np.asarray(codes) >= 0) & (tunes["split"].to_numpy() == "test")
        return pd.DataFrame({"tune_id": tunes.loc[rows, "tune_id"].to_numpy(), "model": self.best.name,
                             "style": np.asarray(classes)[proba.argmax(axis=1)], "probability": proba.max(axis=1)})


def choose(crnns: list[CrnnCandidate], classifiers: list[ClassifierCandidate], tunes: pd.DataFrame, codes,
           seed: int = 0, device=None) -> StyleChoice:
    """Rank every candidate by validation macro-F1; on a tie the earlier one (CRNNs first) wins."""
    if not crnns:
        raise ValueError("choose needs at least one CRNN (the map of music is drawn from one)")
    candidates = [*crnns, *classifiers]
    names = [c.name for c in candidates]
    if len(set(names)) != len(names):
        raise ValueError(f"candidate names must differ, got {names}")
    f1 = [c.validation_f1(tunes, codes, seed, device) for c in candidates]
    best = candidates[int(np.argmax(f1))]
    best_crnn = crnns[int(np.argmax(f1[:len(crnns)]))]
    table = pd.Series(f1, index=pd.Index(names, name="model"), name="validation_macro_f1")
    return StyleChoice(table.sort_values(ascending=False, kind="stable"), best, best_crnn)
