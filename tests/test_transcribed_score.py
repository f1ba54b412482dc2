"""Known answers for the transcribed score and the clip score (transcribed_score.py)."""
from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from musicgeo_utils import render, symbolic, transcribed_score as ts, transcription
from musicgeo_utils import transcription_eval

C_MAJOR = [60, 62, 64, 65, 67, 69, 71, 72]


def tune(pitches, durations, tune_id="t1"):
    onsets = np.r_[0.0, np.cumsum(durations)[:-1]]
    return pd.DataFrame({"tune_id": tune_id, "pitch": pitches, "onset": onsets, "duration": durations})


def test_tonic_of_major_and_minor_melodies():
    # a C major melody that dwells on C, E and G
    pitch = [60, 64, 67, 72, 67, 64, 62, 60, 65, 69, 67, 60]
    dur = [2, 1, 1, 2, 1, 1, 1, 2, 1, 1, 1, 3]
    assert ts.estimate_tonic(pitch, dur) == 0
    assert ts.estimate_tonic(np.asarray(pitch) + 5, dur) == 5
    # A natural minor, dwelling on A, C and E
    minor = [69, 72, 76, 74, 72, 71, 69, 64, 65, 67, 69]
    assert ts.estimate_tonic(minor, [2, 1, 2, 1, 1, 1, 3, 1, 1, 1, 3]) == 9
    with pytest.raises(ValueError, match="at least one note"):
        ts.estimate_tonic([], [])


def test_seconds_to_beats_interpolates_and_extrapolates():
    beats = np.array([1.0, 1.5, 2.0, 2.5])
    got = ts.seconds_to_beats([1.25, 0.5, 3.0, 2.0], beats, tempo_bpm=0.0)
    np.testing.assert_allclose(got, [0.5, -1.0, 4.0, 2.0])
    np.testing.assert_allclose(ts.seconds_to_beats([1.5], np.empty(0), 120.0), [3.0])
    with pytest.raises(ValueError, match="positive tempo"):
        ts.seconds_to_beats([1.0], np.array([0.5]), 0.0)


def test_clip_score_of_one_whole_pass_equals_the_whole_score():
    notes = tune(C_MAJOR + [67, 64, 60], [1, 0.5, 0.5, 1, 1, 0.5, 0.5, 1, 1, 1, 1])  # 9 quarter notes
    params = render.RenderParams(clip_seconds=9 * 60 / 120)  # exactly one pass at 120 qpm
    clips = pd.DataFrame({"clip_id": ["c1"], "tune_id": ["t1"], "program": [0], "qpm": [120.0], "transpose": [3]})
    reference = transcription_eval.reference_notes(clips, notes, params)
    tonics = ts.true_tonic(notes, clips)
    assert tonics["c1"] == (60 + 3) % 12
    clip = ts.clip_score_descriptors(reference, clips, tonics)
    whole = symbolic.score_descriptors(notes)
    np.testing.assert_allclose(clip.loc["c1"].to_numpy(), whole.loc["t1"].to_numpy(), atol=1e-9)


def test_clip_score_refuses_a_clip_without_notes():
    clips = pd.DataFrame({"clip_id": ["c1", "c2"], "qpm": [100.0, 100.0]})
    reference = pd.DataFrame({"clip_id": ["c1"], "onset_s": [0.0], "offset_s": [0.5], "pitch_midi": [60]})
    with pytest.raises(ValueError, match="c2"):
        ts.clip_score_descriptors(reference, clips, pd.Series({"c1": 0, "c2": 0}))


def test_transcribed_score_of_a_rendered_melody_is_close_to_its_clip_score(tmp_path, monkeypatch):
    import soundfile as sf

    monkeypatch.setenv("MUSICGEO_DATA", str(tmp_path / "data"))
    pitches = [62, 66, 69, 74, 69, 66, 64, 62, 67, 71, 69, 62] * 2
    notes = tune(pitches, [1, 0.5, 0.5, 1, 0.5, 0.5, 1, 1, 0.5, 0.5, 1, 2] * 2)
    params = render.RenderParams(clip_seconds=10.0)
    clips = pd.DataFrame({"clip_id": ["c1"], "tune_id": ["t1"], "program": [0], "qpm": [110.0], "transpose": [0]})
    audio = render.render_tune(notes, 0, 110.0, 0, params, tune_id="t1")
    path = tmp_path / "c1.wav"
    sf.write(path, audio, params.sample_rate)
    heard = transcription.transcribe_many([("c1", str(path))], n_jobs=1)
    described, estimates = ts.transcribed_score_descriptors(heard, ["c1"])
    truth = ts.clip_score_descriptors(transcription_eval.reference_notes(clips, notes, params), clips,
                                      ts.true_tonic(notes, clips))
    assert estimates.loc["c1", "tonic_pc"] == 2  # D
    assert ts.tempo_agreement(estimates["tempo_bpm"], [110.0])["any_level"] == 1.0
    pcs = [c for c in described.columns if c.startswith("pc_from_final")]
    assert np.corrcoef(described.loc["c1", pcs], truth.loc["c1", pcs])[0, 1] > 0.95
    # read back from the cache: the same beats, hence the same descriptors
    again = transcription.transcribe_many([("c1", str(path))], n_jobs=1)
    assert again.counts["from_cache"] == 1
    pd.testing.assert_frame_equal(ts.transcribed_score_descriptors(again, ["c1"])[0], described)


def test_a_clip_without_notes_gets_zeros_and_says_so(tmp_path, monkeypatch):
    import soundfile as sf

    monkeypatch.setenv("MUSICGEO_DATA", str(tmp_path / "data"))
    silent, bad = tmp_path / "silent.wav", tmp_path / "bad.wav"
    sf.write(silent, np.zeros(12000 * 2, dtype=np.float32), 12000)
    bad.write_bytes(b"not audio")
    heard = transcription.transcribe_many([("quiet", str(silent)), ("broken", str(bad))], n_jobs=1)
    assert heard.skips["clip_id"].tolist() == ["broken"]
    described, estimates = ts.transcribed_score_descriptors(heard, ["quiet", "broken"])
    assert (described.to_numpy() == 0).all()
    assert estimates["n_notes"].tolist() == [0, 0] and estimates["tonic_pc"].tolist() == [-1, -1]


def test_agreement_measures():
    got = ts.tempo_agreement([100, 200, 51, 130], [100, 100, 100, 100])
    assert got["same_level"] == 0.25 and got["any_level"] == 0.75
    tonic = ts.tonic_agreement([0, 7, 5, 3], [0, 0, 0, 0])
    assert tonic == {"correct": 0.25, "fifth_away": 0.5, "other": 0.25}
    with pytest.raises(ValueError):
        ts.tempo_agreement([], [])


def test_score_features_are_cached_and_recomputed_when_an_input_changes(tmp_path, monkeypatch):
    import soundfile as sf

    from musicgeo_utils import config

    monkeypatch.setattr(config, "DATA_DIR", tmp_path / "data")
    params = render.RenderParams(clip_seconds=6.0)
    tunes = pd.DataFrame({"tune_id": ["t1", "t2"], "program": [0, 40], "qpm": [110.0, 96.0], "transpose": [0, 2]})
    notes = pd.concat([tune(C_MAJOR * 2, [1, 0.5, 0.5, 1] * 4, "t1"),
                       tune([69, 72, 76, 74, 72, 71, 69, 64] * 2, [0.5, 0.5, 1, 1] * 4, "t2")], ignore_index=True)
    items = []
    for row in tunes.itertuples():
        path = tmp_path / f"{row.tune_id}.wav"
        sf.write(path, render.render_tune(notes[notes["tune_id"] == row.tune_id], row.program, row.qpm, row.transpose,
                                          params, tune_id=row.tune_id), params.sample_rate)
        items.append((row.tune_id, str(path)))
    heard = transcription.transcribe_many(items, n_jobs=1)
    computed = []
    compute = ts._compute_tables
    monkeypatch.setattr(ts, "_compute_tables", lambda *args: computed.append(1) or compute(*args))
    first = ts.score_features(tunes, notes, heard, params)
    again = ts.score_features(tunes, notes, heard, params)
    assert len(computed) == 1  # the second call read the cache ...
    for name in ts.SCORE_FAMILIES:  # ... and got the same tables, index and dtypes included
        pd.testing.assert_frame_equal(again.families[name], first.families[name], check_exact=True)
    for name in ("estimates", "note_scores", "reference"):
        pd.testing.assert_frame_equal(getattr(again, name), getattr(first, name), check_exact=True)
    assert again.heard is heard and again.skips is heard.skips
    fresh = ts.score_features(tunes, notes, heard, params, use_cache=False)
    pd.testing.assert_frame_equal(fresh.note_scores, first.note_scores, check_exact=True)
    heard.notes.loc[0, "pitch_midi"] += 1  # another transcription: recomputed, not read
    changed = ts.score_features(tunes, notes, heard, params)
    assert len(computed) == 3
    assert not changed.note_scores.equals(first.note_scores)
    ts.score_features(tunes.assign(qpm=[110.0, 97.0]), notes, heard, params)  # another tempo: recomputed
    assert len(computed) == 4


def test_true_notes_read_as_heard_estimate_their_tonic_or_take_the_given_one():
    notes = tune(C_MAJOR + [67, 64, 60], [1, 0.5, 0.5, 1, 1, 0.5, 0.5, 1, 1, 1, 2])
    params = render.RenderParams(clip_seconds=6.0)
    clips = pd.DataFrame({"clip_id": ["c1"], "tune_id": ["t1"], "program": [0], "qpm": [120.0], "transpose": [2]})
    reference = transcription_eval.reference_notes(clips, notes, params)
    tonics = ts.true_tonic(notes, clips)
    # a C major melody transposed up two semitones: the estimate is the true tonic, so the rows agree
    estimated = ts.read_as_heard(reference, clips)
    np.testing.assert_array_equal(estimated.to_numpy(), ts.clip_score_descriptors(reference, clips, tonics).to_numpy())
    assert list(estimated.columns) == symbolic.descriptor_names() and estimated.index.tolist() == ["c1"]
    # another tonic changes the scale-degree columns (and their pairs), not the rhythm
    other = ts.read_as_heard(reference, clips, pd.Series({"c1": 9}))
    assert not np.allclose(other.to_numpy(), estimated.to_numpy())
    rhythm = [c for c in symbolic.descriptor_names() if not c.startswith(("pc_from_final", "ngram_degrees"))]
    np.testing.assert_array_equal(other[rhythm].to_numpy(), estimated[rhythm].to_numpy())
    with pytest.raises(ValueError, match="c2"):
        ts.read_as_heard(reference, pd.concat([clips, clips.assign(clip_id="c2")]))
