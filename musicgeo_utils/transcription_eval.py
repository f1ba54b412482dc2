"""Scoring a transcription against the notes that were rendered (mir_eval), and a piano-roll figure.

The true notes of a clip are the notes the renderer actually put into it,
after transposition, tempo and looping (:func:`render.clip_notes`);
:func:`reference_notes` collects them for many clips. :func:`score_clip` uses
``mir_eval.transcription`` (onset within 50 ms and pitch within 50 cents,
offsets ignored; and the offset-aware score beside it) and
``mir_eval.melody.raw_pitch_accuracy`` on the tracker's frames;
:func:`score_many` and :func:`summarize_scores` pool the counts by instrument
family or tempo band.
"""
from __future__ import annotations

from typing import Sequence

import numpy as np
import pandas as pd

from musicgeo_utils.transcription import PitchTrack, empty_notes


# --------------------------------------------------------------------------- true notes


def reference_notes(clips: pd.DataFrame, notes: pd.DataFrame, params=None) -> pd.DataFrame:
    """The notes sounding in each rendered clip, from the renderer itself.

    ``clips``: one row per clip with ``tune_id, program, qpm, transpose`` (as
    :func:`render.draw_augmentation` or :func:`render.render_many` return),
    optionally ``clip_id`` (default: the tune id); ``notes``: the corpus notes
    table; ``params``: the :class:`render.RenderParams` the clips were
    rendered with. Returns ``clip_id, onset_s, offset_s, pitch_midi, program``
    (see :func:`render.clip_notes`). A tune the renderer refuses is left out.
    """
    from musicgeo_utils import render

    params = params or render.RenderParams()
    by_tune = {str(t): group for t, group in notes.groupby("tune_id", sort=False)}
    frames = []
    for row in clips.itertuples(index=False):
        tune = by_tune.get(str(row.tune_id), notes.iloc[:0])
        try:
            table = render.clip_notes(tune, row.program, row.qpm, row.transpose, params,
                                      tune_id=str(row.tune_id))
        except render.RenderError:
            continue
        frames.append(table.assign(clip_id=str(getattr(row, "clip_id", row.tune_id))))
    columns = ["clip_id", "onset_s", "offset_s", "pitch_midi", "program"]
    if not frames:
        return pd.DataFrame({c: pd.Series(dtype=object if c == "clip_id" else "float64") for c in columns})
    return pd.concat(frames, ignore_index=True)[columns]


# --------------------------------------------------------------------------- scoring

#: mir_eval's note tolerances used throughout: onsets within 50 ms, pitch within 50 cents.
ONSET_TOLERANCE_S = 0.05
PITCH_TOLERANCE_CENTS = 50.0
#: mir_eval's default offset rule for the offset-aware score: within 20% of the
#: reference note's duration or 50 ms, whichever is larger.
OFFSET_RATIO = 0.2
#: Tempo bands (quarter notes per minute) for :func:`score_many`; the render default is 80-140.
TEMPO_EDGES = (80.0, 100.0, 120.0, 140.0)


def _midi_to_hz(midi) -> np.ndarray:
    return 440.0 * 2.0 ** ((np.asarray(midi, dtype=np.float64) - 69.0) / 12.0)


def note_intervals(notes: pd.DataFrame) -> tuple[np.ndarray, np.ndarray]:
    """(intervals in s, shape (n, 2); pitches in Hz) of a notes table with ``onset_s``,
    ``pitch_midi`` and ``offset_s`` (as :func:`render.clip_notes`) or ``duration_s``."""
    onsets = notes["onset_s"].to_numpy(float)
    offsets = (notes["offset_s"].to_numpy(float) if "offset_s" in notes
               else onsets + notes["duration_s"].to_numpy(float))
    return np.stack([onsets, offsets], axis=1).reshape(-1, 2), _midi_to_hz(notes["pitch_midi"])


def notes_to_frames(notes: pd.DataFrame, times: np.ndarray) -> np.ndarray:
    """f0 in Hz at each time (0 where no note sounds; the highest where notes overlap)."""
    intervals, pitches = note_intervals(notes)
    f0 = np.zeros(len(times))
    for index in np.argsort(pitches, kind="stable"):
        start, end = intervals[index]
        f0[(times >= start) & (times < end)] = pitches[index]
    return f0


def score_clip(reference: pd.DataFrame, estimate: pd.DataFrame,
               track: PitchTrack | None = None) -> dict:
    """mir_eval scores of one clip's transcription against its true notes.

    ``precision, recall, f1``: a note matches on onset (within 50 ms) and
    pitch (within 50 cents), offsets ignored (``offset_ratio=None``);
    ``*_offset``: the same and the offset within 20% of the true note's
    duration or 50 ms; ``raw_pitch_accuracy``: mir_eval.melody's share of
    truly voiced frames (a true note sounding, note-on to note-off) whose
    tracked pitch is within 50 cents, on the track's frame times (NaN without
    a ``track``). Also the counts for pooling: ``n_ref, n_est, n_match,
    n_match_offset, n_voiced_frames, n_pitch_frames``. An empty reference or
    estimate scores 0 where mir_eval would divide by zero.
    """
    import mir_eval

    ref_intervals, ref_pitches = note_intervals(reference)
    est_intervals, est_pitches = note_intervals(estimate)
    n_ref, n_est = len(ref_intervals), len(est_intervals)
    scores: dict = {"n_ref": n_ref, "n_est": n_est}
    for suffix, offset_ratio in (("", None), ("_offset", OFFSET_RATIO)):
        matched = 0
        if n_ref and n_est:
            matched = len(mir_eval.transcription.match_notes(
                ref_intervals, ref_pitches, est_intervals, est_pitches,
                onset_tolerance=ONSET_TOLERANCE_S, pitch_tolerance=PITCH_TOLERANCE_CENTS,
                offset_ratio=offset_ratio))
        scores[f"n_match{suffix}"] = matched
        scores.update(_prf(matched, n_ref, n_est, suffix))
    scores.update(raw_pitch_accuracy=float("nan"), n_voiced_frames=0, n_pitch_frames=0)
    if track is not None and len(track.times):
        ref_f0 = notes_to_frames(reference, np.asarray(track.times))
        ref_v, ref_c, est_v, est_c = mir_eval.melody.to_cent_voicing(
            np.asarray(track.times), ref_f0, np.asarray(track.times),
            np.where(track.voiced, track.f0_hz, 0.0))
        voiced = int(np.sum(ref_v > 0))
        if voiced:
            rpa = float(mir_eval.melody.raw_pitch_accuracy(ref_v, ref_c, est_v, est_c,
                                                           cent_tolerance=PITCH_TOLERANCE_CENTS))
            scores.update(raw_pitch_accuracy=rpa, n_voiced_frames=voiced,
                          n_pitch_frames=int(round(rpa * voiced)))
    return scores


def _prf(matched: int, n_ref: int, n_est: int, suffix: str = "") -> dict:
    precision = matched / n_est if n_est else 0.0
    recall = matched / n_ref if n_ref else 0.0
    f1 = 2 * precision * recall / (precision + recall) if precision + recall else 0.0
    return {f"precision{suffix}": precision, f"recall{suffix}": recall, f"f1{suffix}": f1}


def instrument_family(program: int) -> str:
    """General MIDI family of a 0-based program (pretty_midi's names: 'Piano', 'Reed', ...)."""
    import pretty_midi

    return pretty_midi.program_to_instrument_class(int(program))


def tempo_band(qpm, edges: Sequence[float] = TEMPO_EDGES) -> pd.Series:
    """Tempo bands like ``'100-120 qpm'`` (lower end included); outside the edges ``'<80 qpm'``, ``'>=140 qpm'``."""
    qpm = pd.Series(np.asarray(qpm, dtype=float))
    edges = [float(e) for e in edges]
    labels = ([f"<{edges[0]:g} qpm"] + [f"{a:g}-{b:g} qpm" for a, b in zip(edges[:-1], edges[1:])]
              + [f">={edges[-1]:g} qpm"])
    bins = [-np.inf, *edges, np.inf]
    return pd.cut(qpm, bins=bins, labels=labels, right=False).astype(str)


def score_many(references: pd.DataFrame, estimates: pd.DataFrame, tracks: dict | None = None,
               clips: pd.DataFrame | None = None) -> pd.DataFrame:
    """:func:`score_clip` for every clip of ``references``, one row each.

    ``references``: true notes of many clips (``clip_id, onset_s, offset_s,
    pitch_midi``, as :func:`reference_notes` returns); ``estimates``:
    transcribed notes (``clip_id, onset_s, duration_s, pitch_midi``, as
    :attr:`TranscriptionSet.notes`); a clip with no estimated notes scores
    zero recall (drop skipped clips first if they should not count).
    ``tracks``: clip_id -> PitchTrack for the raw pitch accuracy. ``clips``:
    optional ``clip_id, program, qpm`` per clip, adding ``family`` and
    ``tempo`` (see :func:`instrument_family`, :func:`tempo_band`).
    """
    estimated = {str(k): g for k, g in estimates.groupby("clip_id", sort=False)}
    empty = empty_notes()
    rows = []
    for clip_id, reference in references.groupby("clip_id", sort=False):
        clip_id = str(clip_id)
        scores = score_clip(reference, estimated.get(clip_id, empty), (tracks or {}).get(clip_id))
        rows.append({"clip_id": clip_id, **scores})
    table = pd.DataFrame(rows)
    if clips is not None and len(table):
        info = clips.assign(clip_id=clips["clip_id"].astype(str))[["clip_id", "program", "qpm"]]
        table = table.merge(info, on="clip_id", how="left")
        table["family"] = [instrument_family(p) if pd.notna(p) else "unknown" for p in table["program"]]
        table["tempo"] = tempo_band(table["qpm"]).to_numpy()
    return table


def summarize_scores(scores: pd.DataFrame, by: str | Sequence[str] | None = None) -> pd.DataFrame:
    """Pooled scores, overall or per group (e.g. ``by='family'`` or ``'tempo'``).

    Pooled = from the summed counts (all notes of the group together), so
    long clips weigh more; ``f1_clip_mean`` is the plain mean of per-clip F1
    beside it. Columns: ``clips, n_ref, n_est, precision, recall, f1,
    precision_offset, recall_offset, f1_offset, raw_pitch_accuracy, f1_clip_mean``.
    """
    def pooled(group: pd.DataFrame) -> pd.Series:
        n_ref, n_est = int(group["n_ref"].sum()), int(group["n_est"].sum())
        row = {"clips": len(group), "n_ref": n_ref, "n_est": n_est,
               **_prf(int(group["n_match"].sum()), n_ref, n_est),
               **_prf(int(group["n_match_offset"].sum()), n_ref, n_est, "_offset")}
        voiced = int(group["n_voiced_frames"].sum())
        row["raw_pitch_accuracy"] = group["n_pitch_frames"].sum() / voiced if voiced else float("nan")
        row["f1_clip_mean"] = float(group["f1"].mean())
        return pd.Series(row)

    if by is None:
        return pooled(scores).to_frame("all").T
    return pd.DataFrame({key: pooled(group) for key, group in scores.groupby(by, sort=True)}).T


def condition_table(scores: pd.DataFrame, by: Sequence[str] = ("family", "tempo"), name: str = "in-domain") -> pd.DataFrame:
    """Pooled note scores for all clips and for each group of every column in ``by``, one row each.

    ``condition`` reads ``"in-domain"`` (``name``) for all clips, then e.g.
    ``"family: Reed"`` or ``"tempo: 100-120 qpm"``; columns ``condition, n``
    (clips), ``note_f1`` (onset and pitch), ``note_f1_offset``, ``precision``,
    ``recall``, ``raw_pitch_accuracy`` (the layout of the
    ``transcription-<profile>-<seed>.parquet`` results file).
    """
    parts = [summarize_scores(scores).set_axis([name])]
    parts += [summarize_scores(scores, by=column).rename(index=lambda g, c=column: f"{c}: {g}") for column in by]
    table = pd.concat(parts).rename_axis("condition").reset_index()
    return (table.rename(columns={"clips": "n", "f1": "note_f1", "f1_offset": "note_f1_offset"})
            [["condition", "n", "note_f1", "note_f1_offset", "precision", "recall", "raw_pitch_accuracy"]]
            .astype({"n": int}))


# --------------------------------------------------------------------------- figure


def piano_roll_figure(reference: pd.DataFrame, estimate: pd.DataFrame, track: PitchTrack | None = None,
                      title: str = "", seconds: float | None = None):
    """True and transcribed piano rolls of one clip, one above the other (matplotlib Figure).

    Top: the true notes. Bottom: the transcribed notes, green where they
    match a true note (onset within 50 ms, pitch within 50 cents), red where
    not, over the tracked pitch of voiced frames (grey dots) when ``track`` is
    given. Time in seconds (the first ``seconds`` only, if given), pitch in MIDI numbers.
    """
    import matplotlib.pyplot as plt
    import mir_eval

    ref_intervals, ref_pitches = note_intervals(reference)
    est_intervals, est_pitches = note_intervals(estimate)
    matched = set()
    if len(ref_intervals) and len(est_intervals):
        matched = {j for _, j in mir_eval.transcription.match_notes(
            ref_intervals, ref_pitches, est_intervals, est_pitches, onset_tolerance=ONSET_TOLERANCE_S,
            pitch_tolerance=PITCH_TOLERANCE_CENTS, offset_ratio=None)}
    fig, (top, bottom) = plt.subplots(2, 1, figsize=(10, 5), sharex=True, sharey=True)
    top.barh(reference["pitch_midi"], ref_intervals[:, 1] - ref_intervals[:, 0], left=ref_intervals[:, 0],
             height=0.8, color="#1f77b4")
    top.set_title(f"{title} true notes ({len(ref_intervals)})".strip(), fontsize=9)
    colors = ["#2ca02c" if j in matched else "#d62728" for j in range(len(est_intervals))]
    _transcription_axes(bottom, estimate, track, colors)
    bottom.set_title(f"transcribed ({len(est_intervals)} notes, {len(matched)} matched: green; "
                     f"unmatched: red)", fontsize=9)
    for ax in (top, bottom):
        ax.set_ylabel("MIDI pitch")
        ax.grid(axis="y", linewidth=0.3)
    bottom.set_xlabel("time (s)")
    if seconds is not None:
        bottom.set_xlim(0, seconds)
    fig.tight_layout()
    return fig


def _transcription_axes(ax, estimate: pd.DataFrame, track: PitchTrack | None, colors) -> None:
    """Transcribed notes as bars over the tracked pitch of voiced frames (grey dots), time in s."""
    intervals, _ = note_intervals(estimate)
    if track is not None:
        voiced = np.asarray(track.voiced, bool) & (np.asarray(track.f0_hz) > 0)
        ax.plot(np.asarray(track.times)[voiced], 69 + 12 * np.log2(np.asarray(track.f0_hz)[voiced] / 440.0),
                ".", color="#999999", markersize=1.5, label="tracked pitch (voiced frames)")
    ax.barh(estimate["pitch_midi"], intervals[:, 1] - intervals[:, 0], left=intervals[:, 0],
            height=0.8, color=colors, alpha=0.8)


# --------------------------------------------------------------------------- audio without scores


def melody_summary(heard) -> pd.DataFrame:
    """What a transcription of unscored audio says, per clip: a description, not a score.

    ``heard``: a :class:`transcription.TranscriptionSet`. Columns: ``notes_per_s``
    (over the pitch track's span), ``voiced_share`` (frames the tracker called
    voiced), ``median_pitch`` (MIDI) and ``pitch_iqr`` (semitones between the
    25th and 75th percentile of the notes).
    """
    rows = []
    for clip_id, track in heard.tracks.items():
        notes = heard.notes[heard.notes["clip_id"] == clip_id]["pitch_midi"].to_numpy(float)
        q1, q2, q3 = np.percentile(notes, [25, 50, 75]) if len(notes) else (np.nan,) * 3
        times = np.asarray(track.times, float)
        span = times[-1] - times[0] + (times[1] - times[0]) if len(times) > 1 else np.nan
        rows.append({"clip_id": clip_id, "notes_per_s": len(notes) / span,
                     "voiced_share": float(np.mean(np.asarray(track.voiced, bool))),
                     "median_pitch": q2, "pitch_iqr": q3 - q1})
    return pd.DataFrame(rows).set_index("clip_id")


def melody_estimate_figure(examples: pd.DataFrame, heard, seconds: float | None = None):
    """One row per example clip (``clip_id``, ``title``): its transcribed notes over its pitch track.

    For audio without scores nothing can be marked right or wrong: every note
    is drawn in one colour. Time in seconds (the first ``seconds`` only, if given).
    """
    import matplotlib.pyplot as plt

    fig, axes = plt.subplots(len(examples), 1, figsize=(10, 1.6 * len(examples)), sharex=True, squeeze=False)
    for ax, row in zip(axes[:, 0], examples.itertuples(index=False)):
        estimate = heard.notes[heard.notes["clip_id"] == row.clip_id]
        _transcription_axes(ax, estimate, heard.tracks.get(row.clip_id), "#1f77b4")
        ax.set_title(f"{row.title} ({len(estimate)} notes)", fontsize=9)
        ax.set_ylabel("MIDI")
    axes[-1, 0].set_xlabel("time (s)")
    if seconds is not None:
        axes[-1, 0].set_xlim(0, seconds)
    fig.tight_layout()
    return fig


__all__ = [
    "melody_estimate_figure", "melody_summary",
    "note_intervals", "notes_to_frames", "piano_roll_figure", "reference_notes", "score_clip", "score_many",
    "summarize_scores", "instrument_family", "tempo_band", "condition_table",
]
