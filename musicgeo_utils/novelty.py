"""Is a clip like the music the models learned? The out-of-distribution check of ``predict``.

A model trained on monophonic folk melodies still answers for a country song,
a waltz played by a band, or noise, and its softmax can be as peaked there as
on a folk tune. The check measures three things that ``predict`` already has
for every clip, each oriented so that larger is stranger:

``embedding distance``
    the mean cosine distance (1 - similarity) from the clip's embedding (the
    map CRNN's penultimate features, every window averaged) to its ``k``
    nearest reference tunes (training and validation tunes: ``predict``'s
    reference; a reference tune scored against it leaves itself out);
``percussive share``
    the share of the mel spectrogram's power that harmonic-percussive source
    separation (``librosa.decompose.hpss``, median filters of :data:`HPSS_KERNEL`) gives to the
    percussive part: drums, noise and clicks;
``unpitched share``
    the share of the clip's frames in which the melody front end
    (:mod:`musicgeo_utils.transcription`) hears no stable pitch: chords,
    noise and speech as well as rests.

Each statistic becomes a robust z-score against the validation clips
(median, and 1.4826 x the median absolute deviation), the clip's
**novelty** is the largest of the three, and a clip is **unfamiliar** when its
novelty exceeds the validation clips' ``1 - false_alarm`` quantile
(:func:`calibrate`, ``false_alarm`` 3 % by default, so that the share of
in-distribution clips flagged stays under 5 %). Notebook 04 calibrates it,
reports the false alarms on the test split and on held-out timbre, and the
detection rate on the clips of :mod:`musicgeo_utils.unlike`; it calibrates the
check where the dataset has scores (the held-out-timbre renders and the
front end's tracks come with them), so other datasets' bundles have none.
"""
from __future__ import annotations

from dataclasses import asdict, dataclass

import numpy as np
import pandas as pd

from .embedding import cosine_nearest

#: The statistics, in the order of :class:`NoveltyCheck`'s fields.
STATISTICS = ("embedding distance", "percussive share", "unpitched share")
#: Neighbours averaged for the embedding distance.
K_NEIGHBOURS = 10
#: Default share of validation clips the threshold lets through as flagged.
FALSE_ALARM = 0.03
#: The median filters' length, in frames (0.36 s) and in mel bands, of the separation: shorter than
#: librosa's default of 31 (made for 1,025 STFT bins) on 96 mel bands, and half the time.
HPSS_KERNEL = 17
_MAD_TO_SD = 1.4826


def percussive_share(mel_db: np.ndarray) -> float:
    """Share of a log-mel spectrogram's power (dB, ``power_to_db``) in its percussive part (``librosa`` HPSS)."""
    import librosa

    power = librosa.db_to_power(np.asarray(mel_db, dtype=np.float64))
    harmonic, percussive = librosa.decompose.hpss(power, kernel_size=HPSS_KERNEL)
    total = float(harmonic.sum() + percussive.sum())
    return float(percussive.sum() / total) if total > 0 else 0.0


def unpitched_share(voiced: np.ndarray) -> float:
    """Share of frames without a stable pitch, from a :class:`transcription.PitchTrack`'s ``voiced`` mask."""
    voiced = np.asarray(voiced, dtype=bool)
    return float(1.0 - voiced.mean()) if voiced.size else 1.0


def _percussive_of(mel) -> float:
    """:func:`percussive_share` of a log-mel array or of a ``.npy`` file holding one."""
    return percussive_share(np.load(mel) if isinstance(mel, (str, bytes)) or hasattr(mel, "__fspath__") else mel)


def _percussive_shares(mels: list) -> list[float]:
    """:func:`percussive_share` of many clips; hundreds go to worker processes (HPSS costs ~20 ms a clip)."""
    from . import config

    jobs = config.n_jobs()
    if len(mels) < 64 or jobs == 1:
        return [_percussive_of(m) for m in mels]
    from joblib import Parallel, delayed

    return Parallel(n_jobs=jobs, batch_size=32)(delayed(_percussive_of)(m) for m in mels)


def embedding_distances(embeddings: np.ndarray, reference: np.ndarray, k: int = K_NEIGHBOURS,
                        exclude: np.ndarray | None = None) -> np.ndarray:
    """Mean cosine distance of each embedding row to its ``k`` nearest ``reference`` rows.

    ``exclude[i]``: a reference row left out for query ``i`` (the clip itself), or -1.
    """
    _, similarity = cosine_nearest(reference, np.atleast_2d(embeddings), k, exclude=exclude)
    return 1.0 - similarity.mean(axis=1)


def statistics(embeddings, reference, mels, voiced_masks, k: int = K_NEIGHBOURS,
               exclude: np.ndarray | None = None, index=None) -> pd.DataFrame:
    """The :data:`STATISTICS` of many clips: one row per clip, columns in that order.

    ``embeddings``: (n, d); ``reference``: the reference tunes' (m, d);
    ``mels``: n log-mel arrays (or ``.npy`` paths); ``voiced_masks``: n voiced
    masks (an empty one, for a clip the front end skipped, counts as unpitched).
    """
    mels, voiced_masks = list(mels), list(voiced_masks)
    if not len(np.atleast_2d(embeddings)) == len(mels) == len(voiced_masks):
        raise ValueError(f"need one embedding, mel and voiced mask per clip, got {len(np.atleast_2d(embeddings))}, "
                         f"{len(mels)} and {len(voiced_masks)}")
    return pd.DataFrame({"embedding distance": embedding_distances(embeddings, reference, k, exclude),
                         "percussive share": _percussive_shares(mels),
                         "unpitched share": [unpitched_share(v) for v in voiced_masks]}, index=index)


def clip_statistics(ids, embeddings, mels, tracks: dict, reference_ids, reference, k: int = K_NEIGHBOURS
                    ) -> pd.DataFrame:
    """:func:`statistics` of the clips named by ``ids``, as a notebook has them.

    ``mels[id]``: a log-mel array or ``.npy`` path; ``tracks[id]``: the clip's
    :class:`transcription.PitchTrack` (missing for a clip the front end
    skipped); ``reference_ids`` name the ``reference`` rows, and a clip that
    is itself a reference tune is left out of its own neighbours.
    """
    ids = [str(t) for t in ids]
    position = {str(t): i for i, t in enumerate(reference_ids)}
    exclude = np.array([position.get(t, -1) for t in ids], dtype=np.int64)
    voiced = [getattr(tracks.get(t), "voiced", np.zeros(0, dtype=bool)) for t in ids]
    return statistics(embeddings, reference, [mels[t] for t in ids], voiced, k, exclude,
                      index=pd.Index(ids, name="clip_id"))


@dataclass(frozen=True)
class NoveltyCheck:
    """A calibrated check: per statistic the validation ``centre`` and ``scale``, and the ``threshold``."""

    centre: tuple
    scale: tuple
    threshold: float
    k: int = K_NEIGHBOURS
    false_alarm: float = FALSE_ALARM

    def _z(self, stats: pd.DataFrame) -> np.ndarray:
        """(n, 3) robust z-scores of the :data:`STATISTICS` columns of ``stats``."""
        missing = [s for s in STATISTICS if s not in stats]
        if missing:
            raise ValueError(f"statistics table lacks {missing}")
        return (stats[list(STATISTICS)].to_numpy(float) - np.asarray(self.centre)) / np.asarray(self.scale)

    def novelty(self, stats: pd.DataFrame) -> pd.Series:
        """Each clip's largest robust z-score over :data:`STATISTICS`."""
        return pd.Series(self._z(stats).max(axis=1), index=stats.index, name="novelty")

    def reasons(self, stats: pd.DataFrame) -> pd.Series:
        """The statistic that made each clip's novelty."""
        return pd.Series(np.asarray(STATISTICS)[self._z(stats).argmax(axis=1)], index=stats.index, name="reason")

    def unfamiliar(self, stats: pd.DataFrame) -> pd.Series:
        """True where the clip lies outside what the models learned."""
        return (self.novelty(stats) > self.threshold).rename("unfamiliar")

    def to_dict(self) -> dict:
        return {key: list(value) if isinstance(value, tuple) else value for key, value in asdict(self).items()}

    @classmethod
    def from_dict(cls, raw: dict) -> "NoveltyCheck":
        """Rebuild from :meth:`to_dict`; raises ``ValueError`` naming what is wrong."""
        try:
            check = cls(centre=tuple(map(float, raw["centre"])), scale=tuple(map(float, raw["scale"])),
                        threshold=float(raw["threshold"]), k=int(raw["k"]), false_alarm=float(raw["false_alarm"]))
        except (KeyError, TypeError, ValueError) as err:
            raise ValueError(f"novelty check: missing or mistyped field ({err})") from None
        if len(check.centre) != len(STATISTICS) or len(check.scale) != len(STATISTICS) or min(check.scale) <= 0:
            raise ValueError(f"novelty check: need {len(STATISTICS)} centres and positive scales")
        return check


def calibrate(validation: pd.DataFrame, false_alarm: float = FALSE_ALARM, k: int = K_NEIGHBOURS) -> NoveltyCheck:
    """The check whose threshold lets ``false_alarm`` of the ``validation`` clips' statistics through as flagged."""
    if not 0 < false_alarm < 1:
        raise ValueError(f"false_alarm must be in (0, 1), got {false_alarm}")
    values = validation[list(STATISTICS)].to_numpy(float)
    if len(values) < 20:
        raise ValueError(f"calibrating the novelty check needs at least 20 validation clips, got {len(values)}")
    centre = np.median(values, axis=0)
    spread = _MAD_TO_SD * np.median(np.abs(values - centre), axis=0)
    scale = np.where(spread > 0, spread, np.maximum(values.std(axis=0), 1e-6))
    partial = NoveltyCheck(tuple(centre), tuple(scale), np.inf, k, false_alarm)
    threshold = float(np.quantile(partial.novelty(validation), 1.0 - false_alarm, method="higher"))
    return NoveltyCheck(tuple(map(float, centre)), tuple(map(float, scale)), threshold, k, false_alarm)
