"""Audio -> notes (transcription.py), its scoring, its cache, and render.clip_notes."""
from __future__ import annotations

import importlib.util
import os

import numpy as np
import pandas as pd
import pytest
import soundfile as sf

from musicgeo_utils import cache, config, render
from musicgeo_utils import transcription as tr
from musicgeo_utils import transcription_eval as te
from musicgeo_utils.transcription import PitchTrack, TranscriptionError, TranscriptionParams

SR = 12000
PIANO, RECORDER = 0, 74
#: Scoring needs mir_eval (requirements.in); until the environment has it, those tests are
#: skipped with this reason and everything else still runs.
needs_mir_eval = pytest.mark.skipif(importlib.util.find_spec("mir_eval") is None,
                                    reason="mir_eval==0.8.2 is not installed (requirements.in)")


def tone(pitch: float, seconds: float, sample_rate: int = SR, attack_s: float = 0.01) -> np.ndarray:
    """A harmonic tone (partials 1-3) with a short attack and an exponential decay."""
    t = np.arange(int(round(seconds * sample_rate))) / sample_rate
    f0 = 440.0 * 2 ** ((pitch - 69) / 12)
    wave = sum(a * np.sin(2 * np.pi * k * f0 * t) for k, a in ((1, 1.0), (2, 0.5), (3, 0.25)))
    envelope = np.minimum(1.0, t / attack_s) * np.exp(-t / 0.6)
    return (0.3 * wave * envelope).astype(np.float32)


def melody(notes, sample_rate: int = SR, tail_s: float = 0.3) -> np.ndarray:
    """Concatenated tones: ``notes`` is [(pitch or None for a rest, seconds), ...]."""
    parts = [tone(p, s, sample_rate) if p is not None else np.zeros(int(s * sample_rate), np.float32)
             for p, s in notes]
    return np.concatenate(parts + [np.zeros(int(tail_s * sample_rate), np.float32)])


def truth(notes) -> pd.DataFrame:
    """The notes table of :func:`melody`'s input (rests left out)."""
    rows, t = [], 0.0
    for pitch, seconds in notes:
        if pitch is not None:
            rows.append((t, t + seconds, pitch))
        t += seconds
    return pd.DataFrame(rows, columns=["onset_s", "offset_s", "pitch_midi"])


def tune(pitches, onsets, durations, tune_id="t") -> pd.DataFrame:
    return pd.DataFrame({"tune_id": tune_id, "pitch": pitches, "onset": np.asarray(onsets, float),
                         "duration": np.asarray(durations, float)})


@pytest.fixture
def data_dir(tmp_path, monkeypatch):
    monkeypatch.setattr(config, "DATA_DIR", tmp_path)
    return tmp_path


# ----------------------------------------------------------------- known answers

SCALE = [(60, 0.3), (62, 0.3), (64, 0.3), (65, 0.3), (67, 0.45), (72, 0.3), (71, 0.2), (69, 0.6)]


@pytest.mark.parametrize("tracker", tr.TRACKERS)
def test_known_melody_transcribes_to_its_notes(tracker):
    notes = tr.transcribe(melody(SCALE), SR, TranscriptionParams(tracker=tracker))
    assert notes.columns.tolist() == ["onset_s", "duration_s", "pitch_midi"]
    assert notes["pitch_midi"].tolist() == [p for p, _ in SCALE]
    np.testing.assert_allclose(notes["onset_s"], truth(SCALE)["onset_s"], atol=0.05)


def test_another_trackers_pitch_goes_through_the_same_rule():
    audio = melody(SCALE)
    notes, track = tr.transcribe_with_track(audio, SR)
    pd.testing.assert_frame_equal(tr.notes_from_track(audio, SR, track), notes)  # yin's own track: the same notes
    # a track that calls every frame voiced at the true pitches: step 2's level test still silences the tail
    truth_track = PitchTrack(track.times, np.zeros_like(track.f0_hz), np.ones_like(track.voiced))
    for onset, offset, pitch in truth(SCALE).itertuples(index=False):
        truth_track.f0_hz[(track.times >= onset) & (track.times < offset)] = 440.0 * 2 ** ((pitch - 69) / 12)
    truth_track.f0_hz[truth_track.f0_hz == 0] = 440.0  # the silent tail too: only its level unvoices it
    heard = tr.notes_from_track(audio, SR, truth_track)
    assert heard["pitch_midi"].tolist() == [p for p, _ in SCALE]
    assert heard["onset_s"].iloc[-1] + heard["duration_s"].iloc[-1] <= truth(SCALE)["offset_s"].iloc[-1] + 0.06


def test_repeated_same_pitch_notes_are_split_at_their_attacks():
    repeated = [(69, 0.25)] * 4 + [(72, 0.4)] + [(72, 0.4)]
    notes = tr.transcribe(melody(repeated), SR)
    assert notes["pitch_midi"].tolist() == [69, 69, 69, 69, 72, 72]
    np.testing.assert_allclose(notes["onset_s"], truth(repeated)["onset_s"], atol=0.05)


def test_held_tone_is_one_note_and_a_rest_separates_notes():
    notes = tr.transcribe(melody([(67, 1.5), (None, 0.3), (67, 0.5)]), SR)
    assert notes["pitch_midi"].tolist() == [67, 67]
    assert notes["duration_s"].iloc[0] == pytest.approx(1.5, abs=0.1)


@needs_mir_eval
def test_rendered_clip_transcribes_to_the_rendered_notes():
    """Through the real soundfont: a recorder tune with a repeated note, tempo, transposition, looping."""
    notes = tune([60, 64, 64, 67, 65, 62], [0, 1, 2, 3, 4, 5.5], [1, 1, 1, 1, 1.5, 0.5])
    params = render.RenderParams(clip_seconds=6.0)
    audio = render.render_tune(notes, RECORDER, 110, 3, params)
    reference = render.clip_notes(notes, RECORDER, 110, 3, params)
    scores = te.score_clip(reference, tr.transcribe(audio, SR))
    assert scores["f1"] >= 0.9, scores


def test_silence_gives_no_notes():
    for audio in (np.zeros(2 * SR, np.float32), np.full(SR, 1e-9, np.float32)):
        notes = tr.transcribe(audio, SR)
        assert notes.empty and notes.columns.tolist() == list(tr.NOTE_COLUMNS)


def test_other_sample_rates_are_resampled():
    notes = tr.transcribe(melody(SCALE, sample_rate=24000), 24000)
    assert notes["pitch_midi"].tolist() == [p for p, _ in SCALE]


@pytest.mark.parametrize("audio, rate, message", [
    (np.full(SR, np.nan, np.float32), SR, "NaN/inf"),
    (np.zeros((2, SR), np.float32), SR, "mono"),
    (np.zeros(100, np.float32), SR, "shorter than one analysis frame"),
    (np.zeros(SR, np.float32), 0, "sample rate"),
    (np.zeros(SR, np.float32), "fast", "sample rate"),
    (["a", "b"], SR, "not numeric"),
])
def test_bad_input_is_a_clear_error_naming_the_clip(audio, rate, message):
    with pytest.raises(TranscriptionError, match=message) as caught:
        tr.transcribe(audio, rate, clip_id="tune-42")
    assert "tune-42" in str(caught.value) and caught.value.clip_id == "tune-42"


def test_transcription_is_deterministic():
    audio = melody(SCALE)
    first, second = tr.transcribe_with_track(audio, SR), tr.transcribe_with_track(audio, SR)
    pd.testing.assert_frame_equal(first[0], second[0])
    np.testing.assert_array_equal(first[1].f0_hz, second[1].f0_hz)


def test_bad_params_are_refused():
    with pytest.raises(ValueError, match="tracker"):
        TranscriptionParams(tracker="crepe")
    with pytest.raises(ValueError, match="odd"):
        TranscriptionParams(median_frames=4)
    assert TranscriptionParams().key() != TranscriptionParams(min_note_s=0.05).key()


# ----------------------------------------------------------------- the frames -> notes rule


def track_of(semitones, voiced=None, frame_s=0.01) -> PitchTrack:
    """A pitch track from per-frame semitones (None = unvoiced)."""
    values = np.array([np.nan if s is None else s for s in semitones], float)
    voiced = ~np.isnan(values) if voiced is None else np.asarray(voiced)
    f0 = np.where(voiced, 440 * 2 ** ((np.nan_to_num(values) - 69) / 12), 0.0)
    return PitchTrack(np.arange(len(values)) * frame_s, f0, voiced)


def test_rule_segments_by_pitch_and_drops_blips_and_short_pieces():
    params = TranscriptionParams()
    frames = [60] * 30 + [75] + [60] * 20 + [62] * 5 + [None] * 30 + [64] * 30
    notes = tr.frames_to_notes(track_of(frames), np.array([], int), params)
    # the one-frame 75 is smoothed away; the 5-frame (50 ms) 62 is shorter than min_note_s
    assert notes["pitch_midi"].tolist() == [60, 64]
    assert notes["onset_s"].tolist() == pytest.approx([0.0, 0.86])


def test_rule_splits_a_repeated_pitch_at_an_onset_only():
    frames = [69] * 60
    assert len(tr.frames_to_notes(track_of(frames), np.array([], int))) == 1
    split = tr.frames_to_notes(track_of(frames), np.array([30]))
    assert split["onset_s"].tolist() == pytest.approx([0.0, 0.30])
    assert split["duration_s"].tolist() == pytest.approx([0.30, 0.30])
    # an onset closer than min_note_s to the segment's end does not split it
    assert len(tr.frames_to_notes(track_of(frames), np.array([56]))) == 1


def test_rule_gives_octave_slips_and_short_gaps_to_the_next_note():
    slip = [69] * 30 + [45] * 8 + [57] * 30
    notes = tr.frames_to_notes(track_of(slip), np.array([], int))
    assert notes["pitch_midi"].tolist() == [69, 57]
    assert notes["onset_s"].tolist() == pytest.approx([0.0, 0.30])
    gap = [69] * 30 + [None] * 10 + [64] * 30
    notes = tr.frames_to_notes(track_of(gap), np.array([], int))
    assert notes["onset_s"].tolist() == pytest.approx([0.0, 0.30])


def test_rule_gives_a_transition_blip_far_from_both_neighbours_to_the_next_note():
    blip = [69] * 30 + [57] * 8 + [76] * 30  # A4 -> E5 heard for 80 ms as their common subharmonic A3
    notes = tr.frames_to_notes(track_of(blip), np.array([], int))
    assert notes["pitch_midi"].tolist() == [69, 76]
    assert notes["onset_s"].tolist() == pytest.approx([0.0, 0.30])
    off = TranscriptionParams(blip_semitones=0)
    assert tr.frames_to_notes(track_of(blip), np.array([], int), off)["pitch_midi"].tolist() == [69, 57, 76]
    # a short passing note between its neighbours, or one that is only a third away, stays
    for frames, pitches in (([69] * 30 + [71] * 8 + [72] * 30, [69, 71, 72]),
                            ([69] * 30 + [73] * 8 + [69] * 30, [69, 73, 69])):
        assert tr.frames_to_notes(track_of(frames), np.array([], int))["pitch_midi"].tolist() == pitches


def test_rule_moves_a_late_onset_back_to_an_onset_peak():
    frames = [60] * 30 + [62] * 30
    notes = tr.frames_to_notes(track_of(frames), np.array([26]))
    assert notes["onset_s"].tolist() == pytest.approx([0.0, 0.26])
    assert notes["duration_s"].iloc[0] == pytest.approx(0.26)
    near = TranscriptionParams(snap_s=0.03)  # 50 ms back is out of reach: not moved
    assert tr.frames_to_notes(track_of(frames), np.array([25]), near)["onset_s"].tolist() == [0.0, 0.30]


def spectrum_with(levels_db: dict[int, np.ndarray], params: TranscriptionParams = TranscriptionParams()) -> np.ndarray:
    """A magnitude STFT for step 9 whose only energy is at the harmonics of the given MIDI pitches,
    with the given per-frame amplitude (dB) each; elsewhere -100 dB."""
    n_frames = len(next(iter(levels_db.values())))
    spectrum = np.full((params.backtrack_fft // 2 + 1, n_frames), 1e-5)
    bin_hz = params.sample_rate / params.backtrack_fft
    for pitch, level in levels_db.items():
        f0 = 440.0 * 2 ** ((pitch - 69) / 12)
        for harmonic in range(1, tr.BACKTRACK_HARMONICS + 1):
            for b in {int(np.floor(harmonic * f0 / bin_hz)), int(np.ceil(harmonic * f0 / bin_hz))}:
                spectrum[b] = 10 ** (np.asarray(level) / 20)
    return spectrum


def test_rule_step_9_moves_a_slow_attack_back_to_where_its_pitch_began_to_rise():
    frames = [60] * 30 + [62] * 30  # the tracker hears 62 from frame 30 on
    swell = np.clip(-40 + 40 * (np.arange(60) - 13) / 17, -40, 0)  # 62 rises from frame 13 to 30 (dB)
    spectrum = spectrum_with({60: np.zeros(60), 62: swell})
    notes = tr.frames_to_notes(track_of(frames), np.array([], int), TranscriptionParams(), spectrum)
    # half of the rise in dB (-40 -> 0) is passed at frame 21.5: the onset is frame 22
    assert notes["onset_s"].tolist() == pytest.approx([0.0, 0.22])
    assert notes["duration_s"].tolist() == pytest.approx([0.22, 0.38])
    off = TranscriptionParams(backtrack_s=0.0)
    assert tr.frames_to_notes(track_of(frames), np.array([], int), off, spectrum)["onset_s"].tolist() == \
        pytest.approx([0.0, 0.30])
    short = TranscriptionParams(backtrack_s=0.05)  # reach 5 frames: the level at frame 25 is the low point
    assert tr.frames_to_notes(track_of(frames), np.array([], int), short, spectrum)["onset_s"].tolist() == \
        pytest.approx([0.0, 0.28])
    # a level that does not fall before the onset (a sharp attack heard on time) leaves it in place
    flat = spectrum_with({60: np.zeros(60), 62: np.where(np.arange(60) < 30, -60.0, 0.0)})
    assert tr.frames_to_notes(track_of(frames), np.array([], int), TranscriptionParams(), flat)["onset_s"].tolist() \
        == pytest.approx([0.0, 0.30])


# ----------------------------------------------------------------- true notes


def test_clip_notes_apply_tempo_transposition_and_looping():
    notes = tune([60, 62], [0, 1], [1, 1])
    params = render.RenderParams(sample_rate=SR, clip_seconds=2.5)
    table = render.clip_notes(notes, PIANO, 120, 2, params)  # 0.5 s a quarter; period 1 s
    assert table["pitch_midi"].tolist() == [62, 64, 62, 64, 62]
    assert table["onset_s"].tolist() == pytest.approx([0, 0.5, 1, 1.5, 2])
    assert table["offset_s"].tolist() == pytest.approx([0.5, 1, 1.5, 2, 2.5])  # the last cut at the end
    assert set(table["program"]) == {PIANO}


def test_clip_notes_match_where_the_audio_sounds():
    notes = tune([69], [1.0], [1.0])
    params = render.RenderParams(sample_rate=SR, clip_seconds=2.0)
    table = render.clip_notes(notes, RECORDER, 60, 0, params)  # note-on at 1 s
    audio = render.render_tune(notes, RECORDER, 60, 0, params)
    assert table["onset_s"].tolist() == [1.0]
    assert np.abs(audio[:SR]).max() == 0 and np.abs(audio[SR:SR + SR // 100]).max() > 0
    late = render.clip_notes(tune([60, 62], [0, 10], [1, 1]), PIANO, 60, 0, params)
    assert late["onset_s"].tolist() == [0.0]  # the note after the clip end never sounds


def test_clip_notes_refuse_what_render_refuses():
    with pytest.raises(render.RenderError, match="'bad'"):
        render.clip_notes(tune([127], [0], [1], "bad"), PIANO, 120, 6, tune_id="bad")


def test_reference_notes_of_many_clips():
    notes = pd.concat([tune([60, 62], [0, 1], [1, 1], "a"), tune([70], [0], [2], "b"),
                       tune([], [], [], "empty")])
    draws = pd.DataFrame({"tune_id": ["a", "b", "empty"], "program": [0, 40, 0], "qpm": [120, 60, 90],
                          "transpose": [0, -2, 0]})
    table = te.reference_notes(draws, notes, render.RenderParams(clip_seconds=2.0))
    assert table.groupby("clip_id").size().to_dict() == {"a": 4, "b": 1}
    assert table.loc[table.clip_id == "b", "pitch_midi"].tolist() == [68]


# ----------------------------------------------------------------- scoring


def ref_notes(*rows) -> pd.DataFrame:
    return pd.DataFrame(rows, columns=["onset_s", "offset_s", "pitch_midi"])


def est_notes(*rows) -> pd.DataFrame:
    return pd.DataFrame(rows, columns=["onset_s", "duration_s", "pitch_midi"])


@needs_mir_eval
def test_score_counts_onset_and_pitch_matches():
    reference = ref_notes((0.0, 0.5, 60), (0.5, 1.0, 62), (1.0, 2.0, 64), (2.0, 2.5, 65))
    estimate = est_notes((0.04, 0.46, 60),   # 40 ms late: a match
                         (0.56, 0.44, 62),   # 60 ms late: no match
                         (1.0, 0.2, 64),     # onset and pitch right, offset far too early
                         (2.0, 0.5, 66))     # a semitone off: no match
    scores = te.score_clip(reference, estimate)
    assert (scores["n_match"], scores["precision"], scores["recall"]) == (2, 0.5, 0.5)
    assert scores["n_match_offset"] == 1 and scores["f1_offset"] == pytest.approx(0.25)
    assert np.isnan(scores["raw_pitch_accuracy"])


@needs_mir_eval
def test_perfect_and_empty_estimates():
    reference = ref_notes((0.0, 0.5, 60), (0.5, 1.0, 62))
    perfect = est_notes((0.0, 0.5, 60), (0.5, 0.5, 62))
    assert te.score_clip(reference, perfect)["f1"] == te.score_clip(reference, perfect)["f1_offset"] == 1.0
    empty = te.score_clip(reference, tr.empty_notes())
    assert (empty["f1"], empty["recall"], empty["n_est"]) == (0.0, 0.0, 0)


@needs_mir_eval
def test_raw_pitch_accuracy_on_frames():
    reference = ref_notes((0.0, 1.0, 69))
    times = np.arange(100) * 0.01
    half_wrong = np.where(times < 0.5, 440.0, 466.16)  # a semitone sharp in the second half
    track = PitchTrack(times, half_wrong, np.ones(100, bool))
    scores = te.score_clip(reference, est_notes((0.0, 1.0, 69)), track)
    assert scores["raw_pitch_accuracy"] == pytest.approx(0.5)
    assert (scores["n_voiced_frames"], scores["n_pitch_frames"]) == (100, 50)


@needs_mir_eval
def test_score_many_pools_by_family_and_tempo():
    references = pd.concat([ref_notes((0, 1, 60), (1, 2, 62)).assign(clip_id="a"),
                            ref_notes((0, 1, 70), (1, 2, 70)).assign(clip_id="b")])
    estimates = pd.concat([est_notes((0, 1, 60), (1, 1, 62)).assign(clip_id="a"),
                           est_notes((0, 2, 70)).assign(clip_id="b")])
    clips = pd.DataFrame({"clip_id": ["a", "b"], "program": [0, 40], "qpm": [85.0, 130.0]})
    scores = te.score_many(references, estimates, clips=clips)
    assert scores.set_index("clip_id")["family"].to_dict() == {"a": "Piano", "b": "Strings"}
    assert scores.set_index("clip_id")["tempo"].to_dict() == {"a": "80-100 qpm", "b": "120-140 qpm"}
    pooled = te.summarize_scores(scores).iloc[0]
    assert (pooled["n_ref"], pooled["n_est"]) == (4, 3)
    assert pooled["precision"] == pytest.approx(1.0) and pooled["recall"] == pytest.approx(0.75)
    by_family = te.summarize_scores(scores, by="family")
    assert by_family.loc["Strings", "recall"] == pytest.approx(0.5)
    assert by_family.loc["Piano", "f1"] == pytest.approx(1.0)


def test_tempo_bands_cover_the_ends():
    assert te.tempo_band([79.9, 80, 139.9, 140]).tolist() == ["<80 qpm", "80-100 qpm", "120-140 qpm",
                                                             ">=140 qpm"]


@needs_mir_eval
def test_piano_roll_figure_marks_matches():
    import matplotlib

    matplotlib.use("Agg")
    reference = ref_notes((0.0, 0.5, 60), (0.5, 1.0, 62))
    estimate = est_notes((0.0, 0.5, 60), (0.7, 0.3, 62))
    track = PitchTrack(np.arange(100) * 0.01, np.full(100, 261.6), np.ones(100, bool))
    figure = te.piano_roll_figure(reference, estimate, track, title="clip")
    top, bottom = figure.axes
    assert len(top.patches) == 2 and len(bottom.patches) == 2
    colors = [matplotlib.colors.to_hex(p.get_facecolor()) for p in bottom.patches]
    assert colors == ["#2ca02c", "#d62728"]
    assert "1 matched" in bottom.get_title()


# ----------------------------------------------------------------- batch and cache


def write_clip(path, audio, sample_rate=SR):
    sf.write(path, audio, sample_rate, format="FLAC", subtype="PCM_16")
    return str(path)


def test_transcribe_many_caches_skips_and_counts(data_dir, tmp_path):
    good = write_clip(tmp_path / "good.flac", melody(SCALE))
    quiet = write_clip(tmp_path / "quiet.flac", np.zeros(SR, np.float32))
    short = write_clip(tmp_path / "short.flac", np.zeros(50, np.float32))
    garbage = tmp_path / "garbage.flac"
    garbage.write_bytes(b"not audio at all")
    items = pd.DataFrame({"clip_id": ["good", "quiet", "short", "garbage", "missing", "good"],
                          "audio_path": [good, quiet, short, str(garbage), str(tmp_path / "none.flac"),
                                         quiet]})
    result = tr.transcribe_many(items, n_jobs=1)
    assert result.counts == {"clips": 6, "computed": 2, "from_cache": 0, "skipped": 4,
                             "skips_from_cache": 0}
    reasons = result.skips.set_index("clip_id")["reason"]
    assert "shorter than one analysis frame" in reasons["short"]
    assert "cannot decode" in reasons["garbage"] and "cannot read" in reasons["missing"]
    assert "duplicate clip_id" in reasons["good"]
    assert result.notes.loc[result.notes.clip_id == "good", "pitch_midi"].tolist() == [p for p, _ in SCALE]
    assert set(result.tracks) == {"good", "quiet"} and "quiet" not in set(result.notes.clip_id)

    again = tr.transcribe_many(items, n_jobs=1)
    assert again.counts == {"clips": 6, "computed": 0, "from_cache": 2, "skipped": 4,
                            "skips_from_cache": 2}  # short and garbage were remembered; missing was not
    pd.testing.assert_frame_equal(again.notes, result.notes)
    np.testing.assert_array_equal(again.tracks["good"].f0_hz, result.tracks["good"].f0_hz.astype(np.float32))

    root = data_dir / "transcription" / TranscriptionParams().key()
    assert len(os.listdir(root / "notes")) == 2 and (root / "params.json").exists()
    other = tr.transcribe_many([("good", good)], TranscriptionParams(min_note_s=0.05), n_jobs=1)
    assert other.counts["computed"] == 1  # other parameters, other cache entry


def test_cached_and_computed_clips_keep_the_order_of_the_items(data_dir, tmp_path):
    low = write_clip(tmp_path / "low.flac", melody([(p - 12, d) for p, d in SCALE]))
    mid = write_clip(tmp_path / "mid.flac", melody(SCALE))
    high = write_clip(tmp_path / "high.flac", melody([(p + 12, d) for p, d in SCALE]))
    tr.transcribe_many([("mid", mid)], n_jobs=1)  # cached first, read in this process below
    items = [("high", high), ("mid", mid), ("low", low)]
    mixed = tr.transcribe_many(items, n_jobs=2)  # the other two in worker processes
    assert mixed.counts == {"clips": 3, "computed": 2, "from_cache": 1, "skipped": 0, "skips_from_cache": 0}
    assert mixed.notes["clip_id"].unique().tolist() == ["high", "mid", "low"] == list(mixed.tracks)
    fresh = tr.transcribe_many(items, n_jobs=1, use_cache=False)
    pd.testing.assert_frame_equal(mixed.notes, fresh.notes)
    assert fresh.counts["computed"] == 3


def test_cache_key_follows_the_audio_not_the_name(data_dir, tmp_path):
    first = write_clip(tmp_path / "a.flac", melody(SCALE))
    tr.transcribe_many([("a", first)], n_jobs=1)
    renamed = tmp_path / "b.flac"
    renamed.write_bytes((tmp_path / "a.flac").read_bytes())
    assert tr.transcribe_many([("b", str(renamed))], n_jobs=1).counts["from_cache"] == 1
    changed = write_clip(tmp_path / "a.flac", melody(SCALE[:3]))
    assert tr.transcribe_many([("a", changed)], n_jobs=1).counts["computed"] == 1


def test_interrupted_write_leaves_no_cache_entry(data_dir, tmp_path, monkeypatch):
    path = write_clip(tmp_path / "a.flac", melody(SCALE[:3]))

    def fail(*args, **kwargs):
        raise OSError("disk full")

    monkeypatch.setattr(np, "savez_compressed", fail)
    result = tr.transcribe_many([("a", path)], n_jobs=1)
    assert "unexpected OSError: disk full" in result.skips["reason"].iloc[0]
    root = data_dir / "transcription" / TranscriptionParams().key()
    assert not (root / "notes").exists() or os.listdir(root / "notes") == []
    monkeypatch.undo()
    assert tr.transcribe_many([("a", path)], n_jobs=1).counts["computed"] == 1


def test_parallel_and_serial_runs_agree(data_dir, tmp_path):
    items = [(f"c{i}", write_clip(tmp_path / f"c{i}.flac", melody(SCALE[i:i + 4]))) for i in range(4)]
    serial = tr.transcribe_many(items, n_jobs=1, use_cache=False)
    parallel = tr.transcribe_many(items, n_jobs=2, use_cache=False)
    assert parallel.counts["computed"] == 4
    pd.testing.assert_frame_equal(serial.notes, parallel.notes)


def test_cached_npz_refuses_pickles(data_dir, tmp_path):
    path = write_clip(tmp_path / "a.flac", melody(SCALE[:2]))
    tr.transcribe_many([("a", path)], n_jobs=1)
    npz = next((data_dir / "transcription").rglob("*.npz"))
    assert set(cache.read_npz(npz)) == {"notes", "times", "f0_hz", "voiced", "tempo_bpm", "beats"}


def test_condition_table_pools_all_clips_then_each_group():
    scores = pd.DataFrame({"n_ref": [10, 10, 20], "n_est": [10, 5, 20], "n_match": [10, 5, 10],
                           "n_match_offset": [8, 5, 10], "n_voiced_frames": [100, 100, 100],
                           "n_pitch_frames": [90, 50, 100], "f1": [1.0, 2 / 3, 0.5],
                           "family": ["Reed", "Reed", "Piano"], "tempo": ["80-100 qpm"] * 3})
    table = te.condition_table(scores).set_index("condition")
    assert list(table.index) == ["in-domain", "family: Piano", "family: Reed", "tempo: 80-100 qpm"]
    assert table.loc["in-domain", "n"] == 3
    assert table.loc["in-domain", "note_f1"] == pytest.approx(2 * 25 / (40 + 35))  # pooled counts
    assert table.loc["family: Reed", "note_f1"] == pytest.approx(2 * 15 / (20 + 15))
    assert table.loc["family: Piano", "raw_pitch_accuracy"] == pytest.approx(1.0)


def test_melody_summary_and_figure_describe_unscored_audio(data_dir, tmp_path):
    """Two clips: a melody of four notes and silence; densities, voicing and pitch spread per clip."""
    sr = 12000
    t = np.arange(int(0.5 * sr)) / sr
    melody = np.concatenate([0.5 * np.sin(2 * np.pi * 440.0 * 2 ** (k / 12) * t) for k in (0, 2, 4, 7)])
    paths = {"melody": tmp_path / "melody.wav", "quiet": tmp_path / "quiet.wav"}
    sf.write(paths["melody"], melody.astype(np.float32), sr)
    sf.write(paths["quiet"], np.zeros_like(melody, dtype=np.float32), sr)
    heard = tr.transcribe_many([(k, str(v)) for k, v in paths.items()], n_jobs=1, use_cache=False)
    summary = te.melody_summary(heard)
    assert summary.at["melody", "notes_per_s"] == pytest.approx(4 / 2.0, rel=0.05)  # four notes in 2 s
    assert summary.at["melody", "median_pitch"] == 72.0 and summary.at["melody", "voiced_share"] > 0.9
    assert summary.at["melody", "pitch_iqr"] == pytest.approx(3.25)  # quartiles of 69, 71, 73, 76
    assert summary.loc["quiet"].tolist()[:2] == [0.0, 0.0] and summary.loc["quiet"].isna().sum() == 2
    figure = te.melody_estimate_figure(pd.DataFrame({"clip_id": ["melody"], "title": ["a tune"]}), heard, seconds=2)
    assert figure.axes[0].get_title() == f"a tune ({int(summary.at['melody', 'notes_per_s'] * 2 + 0.5)} notes)"
