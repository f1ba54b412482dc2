"""The semitone roll of transcribed notes and the transposition augmentation that goes with it."""
import dataclasses

import numpy as np
import pandas as pd
import pytest

from musicgeo_utils import config, pitchroll
from musicgeo_utils.meldata import MelDataset


def notes(rows):
    return pd.DataFrame(rows, columns=["onset_s", "duration_s", "pitch_midi"])


def test_a_note_marks_its_onset_and_sustain_in_its_semitone_row():
    roll = pitchroll.note_roll(notes([(0.0, 0.2, 60), (0.2, 0.4, 67)]), duration_s=1.0, fps=10)
    assert roll.shape == (pitchroll.N_PITCHES, 10) and roll.dtype == np.float32
    assert roll[60 - pitchroll.LOW_MIDI].tolist() == [1.0, 0.5] + [0.0] * 8
    assert roll[67 - pitchroll.LOW_MIDI].tolist() == [0, 0, 1.0, 0.5, 0.5, 0.5, 0, 0, 0, 0]
    assert roll.sum() == pytest.approx(1.0 + 0.5 + 1.0 + 1.5)


def test_notes_outside_the_range_move_by_octaves_and_short_notes_keep_one_frame():
    roll = pitchroll.note_roll(notes([(0.0, 0.01, 24), (0.5, 0.1, 100)]), duration_s=1.0, fps=10)
    low = pitchroll.LOW_MIDI
    assert roll[:, 0].nonzero()[0].tolist() == [(24 - low) % 12]  # C1 -> C2, the lowest octave
    top = pitchroll.N_PITCHES - 12 + (100 - low - pitchroll.N_PITCHES) % 12
    assert roll[:, 5].nonzero()[0].tolist() == [top] and (top + low) % 12 == 100 % 12  # E7 -> E6
    assert (roll[:, 1:5] == 0).all()


def test_transposing_the_notes_shifts_the_roll():
    melody = notes([(0.0, 0.5, 62), (0.5, 0.5, 66), (1.0, 1.0, 69)])
    up = melody.assign(pitch_midi=melody["pitch_midi"] + 3)
    a, b = (pitchroll.note_roll(m, 2.0) for m in (melody, up))
    np.testing.assert_array_equal(np.roll(a, 3, axis=0), b)


def test_clip_rolls_give_every_clip_a_roll_even_without_notes():
    table = notes([(0.0, 0.5, 60)]).assign(clip_id="a")
    rolls = pitchroll.clip_rolls(table, ["a", "b"], 2.0)
    assert list(rolls.index) == ["a", "b"] and rolls["b"].sum() == 0 and rolls["a"].sum() > 0
    mean, std = pitchroll.uniform_stats(list(rolls))
    assert mean.shape == (pitchroll.N_PITCHES,) and np.ptp(mean) == 0 and std[0] > 0


def test_transposed_training_crops_are_seeded_and_filled_with_the_minimum():
    roll = pitchroll.note_roll(notes([(0.0, 4.0, 60)]), 4.0)
    ds = MelDataset([roll], [0], crop_frames=50, train=True, seed=3, shift_bins=6)
    rows = set()
    for epoch in range(12):
        ds.set_epoch(epoch)
        x, _ = ds[0]
        again, _ = ds[0]
        assert np.array_equal(x.numpy(), again.numpy())  # the same epoch gives the same crop
        lit = np.flatnonzero(x[0].numpy().max(axis=1))
        assert len(lit) == 1 and abs(lit[0] - (60 - pitchroll.LOW_MIDI)) <= 6
        rows.add(int(lit[0]))
    assert len(rows) > 3  # several transpositions drawn
    plain = MelDataset([roll], [0], crop_frames=50, train=True, seed=3)
    shifted_eval = ds.as_eval()
    np.testing.assert_array_equal(shifted_eval[0][0].numpy(), plain.as_eval()[0][0].numpy())  # never at evaluation
    with pytest.raises(ValueError, match="shift_bins"):
        MelDataset([roll], [0], crop_frames=50, shift_bins=-1)


def test_stretched_training_crops_change_the_tempo_and_keep_every_onset():
    # one onset every 10 frames (0.4 s) for 10 s: a faster reading packs more onsets into a crop
    melody = notes([(0.4 * k, 0.2, 60 + k % 5) for k in range(25)])
    roll = pitchroll.note_roll(melody, 10.0)
    ds = MelDataset([roll], [0], crop_frames=200, train=True, seed=1, stretch=1.25)
    onsets = set()
    for epoch in range(20):
        ds.set_epoch(epoch)
        x, _ = ds[0]
        np.testing.assert_array_equal(x.numpy(), ds[0][0].numpy())  # seeded by (seed, epoch, clip)
        assert x.shape == (1, pitchroll.N_PITCHES, 200)
        assert set(np.unique(x.numpy())) <= {0.0, pitchroll.SUSTAIN, pitchroll.ONSET}
        # a note's onset frame survives the resampling: no note loses it, none gets two
        lit = x[0].numpy().max(axis=0)  # the notes do not overlap: one value per frame
        runs = np.split(lit, np.flatnonzero(np.diff((lit > 0).astype(int))) + 1)
        notes_seen = [run for run in runs if run[0] > 0]
        onsets_per_note = [int((run == pitchroll.ONSET).sum()) for run in notes_seen]
        assert all(n == 1 for n in onsets_per_note[1:]) and onsets_per_note[0] <= 1  # the first may start mid-note
        n_onsets = sum(onsets_per_note)
        assert 200 / 1.25 / 10 - 1 <= n_onsets <= 200 * 1.25 / 10 + 1
        onsets.add(n_onsets)
    assert len(onsets) >= 3  # several tempi drawn
    plain = MelDataset([roll], [0], crop_frames=200, train=True, seed=1)
    np.testing.assert_array_equal(ds.as_eval()[0][0].numpy(), plain.as_eval()[0][0].numpy())  # never at evaluation
    same = MelDataset([roll], [0], crop_frames=200, train=True, seed=1, stretch=1.0)
    np.testing.assert_array_equal(same[0][0].numpy(), plain[0][0].numpy())  # 1 is off: crops as before
    for bad in (0.8, float("nan")):
        with pytest.raises(ValueError, match="stretch"):
            MelDataset([roll], [0], crop_frames=200, stretch=bad)


def test_notebook_04_trains_the_pitch_crnn_on_the_crops_the_benchmarks_assume():
    from pathlib import Path

    from musicgeo_utils.pipeline import parameter_defaults

    params = parameter_defaults(Path(__file__).resolve().parents[1] / "notebooks" / "04_crnn_training.ipynb")
    assert params["roll_crop_frames"] == pitchroll.ROLL_CROP_FRAMES
    assert params["max_transpose"] == pitchroll.MAX_TRANSPOSE
    assert params["score_tunes_per_style"] is None  # the profile's, as pitchroll.style_roll_sets takes by default


def test_the_pitch_crnns_schedule_spans_a_third_of_the_profiles_epochs():
    assert [pitchroll.schedule_epochs(e) for e in (1, 4, 9, 10, 30, 60)] == [3, 3, 3, 3, 10, 20]
    assert pitchroll.schedule_epochs(config.get_profile("small").epochs) == 10
    # the geographic fine-tune's cap binds on small and full alike
    assert [min(pitchroll.GEO_EPOCHS, pitchroll.schedule_epochs(config.get_profile(p).epochs))
            for p in ("tiny", "small", "full")] == [3, 8, 8]


def test_fit_style_crnn_trains_once_then_loads_the_same_network(tmp_path, monkeypatch):
    import torch

    from musicgeo_utils import meldata, training

    rng = np.random.default_rng(0)
    tunes = pd.DataFrame({"tune_id": [f"t{i}" for i in range(12)], "split": ["train"] * 8 + ["val"] * 4})
    rolls = pd.Series({t: (rng.random((pitchroll.N_PITCHES, 50)) > 0.9).astype(np.float32) for t in tunes["tune_id"]})
    sets = meldata.split_datasets(tunes, rolls, np.arange(12) % 2, 40, 0, splits=("train", "val"),
                                  shift_bins=pitchroll.MAX_TRANSPOSE)
    model, history, cfg = pitchroll.fit_style_crnn(sets, 2, tmp_path, epochs=1, seed=0, crop_frames=40, batch_size=4)
    assert cfg.model_kwargs == pitchroll.PITCH_CRNN_KWARGS and cfg.monitor == "val_macro_f1"
    # the recipe of notebook 04's mel CRNN but for the network, its crops, mixup, the patience (6 here, 3 there)
    # and the learning rate's half cosine over schedule_epochs (at least 3)
    assert cfg == dataclasses.replace(training.style_config(epochs=3, batch_size=4, crop_frames=40, seed=0,
                                                            model_kwargs=pitchroll.PITCH_CRNN_KWARGS),
                                      mixup=pitchroll.PITCH_MIXUP, lr_schedule="cosine")
    assert len(history.frame) == 3 and history.frame["lr"].is_monotonic_decreasing
    assert history.frame["lr"].iloc[0] == pytest.approx(1e-3) and history.frame["lr"].iloc[-1] < 1e-3
    branch = pitchroll.PITCH_CRNN_KWARGS.get("pitch_class_fourier", False)
    assert model.hparams.get("pitch_class_fourier", False) == branch
    assert history.checkpoint.startswith("pitch-crnn-") and (tmp_path / history.checkpoint).exists()
    monkeypatch.setattr(training, "fit", lambda *args, **kwargs: pytest.fail("the saved network was trained again"))
    again, history_again, _ = pitchroll.fit_style_crnn(sets, 2, tmp_path, epochs=1, seed=0, crop_frames=40,
                                                       batch_size=4)
    assert history_again.checkpoint == history.checkpoint
    assert all(torch.equal(a, b) for a, b in zip(model.state_dict().values(), again.state_dict().values()))


def test_fit_geo_crnn_trains_over_its_schedule_and_a_recipe_may_set_its_epochs(tmp_path):
    from musicgeo_utils import meldata, training

    rng = np.random.default_rng(1)
    tunes = pd.DataFrame({"tune_id": [f"t{i}" for i in range(12)], "split": ["train"] * 8 + ["val"] * 4})
    rolls = pd.Series({t: (rng.random((pitchroll.N_PITCHES, 50)) > 0.9).astype(np.float32) for t in tunes["tune_id"]})
    sets = meldata.split_datasets(tunes, rolls, np.arange(12) % 3, 40, 0, splits=("train", "val"),
                                  shift_bins=pitchroll.MAX_TRANSPOSE)
    style = pitchroll.initial_style_crnn(2, sets["train"].sources, 0)
    model, history = pitchroll.fit_geo_crnn(sets, 3, style, tmp_path, "geo", epochs=4, seed=0, crop_frames=40,
                                            batch_size=4)
    assert len(history.frame) == pitchroll.schedule_epochs(4) == 3  # patience 6: every epoch of the schedule
    assert history.frame["lr"].is_monotonic_decreasing
    short = pitchroll.fit_geo_crnn(sets, 3, style, tmp_path / "short", "geo", epochs=4, seed=0, crop_frames=40,
                                   batch_size=4, recipe={"epochs": 1})[1]
    assert len(short.frame) == 1
    assert training.load_checkpoint(tmp_path / history.checkpoint)[1].epochs == 3


def test_a_beat_roll_is_the_same_at_any_tempo():
    """One melody at 90 and at 150 beats per minute, beats tracked on time: the same beat roll, not the same roll."""
    melody = [(0.0, 1.0, 60), (1.0, 0.5, 62), (1.5, 0.5, 64), (2.0, 2.0, 67)]  # onset, length in beats, pitch
    beat_rolls, second_rolls = [], []
    for bpm in (90.0, 150.0):
        period = 60.0 / bpm
        played = notes([((1 + on) * period, length * period, pitch) for on, length, pitch in melody])
        beats = period * np.arange(1, 6)  # the clip starts one beat before the first tracked beat
        beat_rolls.append(pitchroll.beat_roll(played, beats, bpm, duration_s=5 * period, steps_per_beat=4))
        second_rolls.append(pitchroll.note_roll(played, 5 * period))
    np.testing.assert_array_equal(*beat_rolls)
    assert beat_rolls[0].shape == (pitchroll.N_PITCHES, 20)  # five beats of four frames
    assert beat_rolls[0][62 - pitchroll.LOW_MIDI].tolist() == [0.0] * 8 + [1.0, 0.5] + [0.0] * 10
    assert second_rolls[0].shape != second_rolls[1].shape  # in seconds the slower one is longer


def test_a_beat_roll_between_and_beyond_the_tracked_beats():
    """Uneven beats stretch the frames between them; outside them the median period continues."""
    beats = np.array([1.0, 2.0, 2.5, 3.0])  # periods 1, 0.5, 0.5: median 0.5
    roll = pitchroll.beat_roll(notes([(1.5, 0.25, 60), (3.5, 0.5, 64)]), beats, 80.0, duration_s=4.0,
                               steps_per_beat=2)
    # the clip's start lies 2 beats before the first (1 s at the median period), its end 2 beats after the last
    assert roll.shape == (pitchroll.N_PITCHES, 2 * (2 + 3 + 2))
    assert np.flatnonzero(roll[60 - pitchroll.LOW_MIDI]).tolist() == [5]  # 1.5 s: beat 0.5, frame (2 + 0.5) * 2
    assert np.flatnonzero(roll[64 - pitchroll.LOW_MIDI]).tolist() == [12, 13]  # 3.5 s: beat 4, (2 + 4) * 2; one beat long


def test_clip_beat_rolls_fall_back_to_a_tempo_without_beats():
    class Heard:  # what clip_beat_rolls reads of a TranscriptionSet
        notes = notes([(0.0, 0.5, 60)]).assign(clip_id="a")
        beats = {"a": (float("nan"), np.empty(0)), "b": (100.0, np.array([0.2]))}

    rolls = pitchroll.clip_beat_rolls(Heard, ["a", "b", "c"], 3.0, steps_per_beat=4)
    per_second = 4 * np.array([pitchroll.FALLBACK_BPM, 100.0, pitchroll.FALLBACK_BPM]) / 60
    assert [r.shape[1] for r in rolls] == [int(np.ceil(3.0 * f)) for f in per_second]
    assert rolls["a"].sum() > 0 and rolls["b"].sum() == 0 and rolls["c"].sum() == 0


def _tiny_manifest():
    """Twelve tunes of two styles in three splits, each with 20 notes (usable: geocoded, >= 16 notes)."""
    tunes = pd.DataFrame({"tune_id": [f"t{i:02d}" for i in range(12)], "style": ["air", "jig"] * 6,
                          "lat": 50.0, "n_notes": 20, "split": ["train"] * 8 + ["val", "val", "test", "test"]})
    notes_table = pd.DataFrame({"tune_id": np.repeat(tunes["tune_id"], 20).to_numpy(),
                                "pitch": np.tile(np.arange(60, 80), 12), "onset": np.tile(np.arange(20.0), 12),
                                "duration": 1.0})
    return tunes, notes_table


def test_training_tunes_outside_the_profile_become_true_note_rolls(monkeypatch):
    from musicgeo_utils import manifest, render

    tunes, notes_table = _tiny_manifest()
    profiled = tunes[tunes["tune_id"].isin(["t00", "t01", "t08", "t10"])]
    monkeypatch.setattr(manifest, "build_manifest", lambda seed: manifest.Manifest(tunes, notes_table, None, None))
    monkeypatch.setattr(manifest, "load_profile", lambda profile, seed: (profiled, None))
    more, rolls = pitchroll.corpus_training_rolls("small", 0, per_style=2)
    # training split only, never a profiled tune, at most two per style
    assert set(more["split"]) == {"train"} and not set(more["tune_id"]) & set(profiled["tune_id"])
    assert more["style"].value_counts().to_dict() == {"air": 2, "jig": 2}
    assert rolls.index.tolist() == more["tune_id"].tolist()
    # each roll is that of the notes the renderer would play for the tune's own draw
    params = manifest.render_params("small")
    draw = render.draw_augmentation([more["tune_id"].iloc[0]], 0, params).iloc[0]
    played = render.clip_notes(notes_table[notes_table["tune_id"] == draw["tune_id"]], draw["program"], draw["qpm"],
                               draw["transpose"], params)
    expected = pitchroll.note_roll(played.assign(duration_s=played["offset_s"] - played["onset_s"]),
                                   params.clip_seconds)
    np.testing.assert_array_equal(rolls.iloc[0], expected)
    assert len(pitchroll.corpus_training_rolls("small", 0, per_style=2, styles=["jig"])[0]) == 2

    # appended after the profile's clips, with their style codes; val and test untouched
    own_rolls = pd.Series({t: np.zeros((pitchroll.N_PITCHES, 5), np.float32) for t in profiled["tune_id"]})
    both, both_rolls, codes = pitchroll.with_corpus_tunes(profiled, own_rolls, [0, 1, 0, 1], ["air", "jig"],
                                                          "small", 0, per_style=2)
    assert both["tune_id"].tolist()[:4] == profiled["tune_id"].tolist() and len(both) == len(both_rolls) == 8
    assert codes.tolist()[4:] == [{"air": 0, "jig": 1}[s] for s in both["style"].iloc[4:]]
    assert (both["split"] != "train").sum() == (profiled["split"] != "train").sum()
    same = pitchroll.with_corpus_tunes(profiled, own_rolls, [0, 1, 0, 1], ["air", "jig"], "small", 0, per_style=0)
    assert same[0] is profiled and len(same[1]) == 4


def test_the_style_classifiers_extras_are_the_extra_renders_then_the_tunes_read_as_scores(monkeypatch):
    from musicgeo_utils import manifest, symbolic

    tunes, notes_table = _tiny_manifest()
    profiled = tunes[tunes["tune_id"].isin(["t00", "t01", "t08", "t10"])]
    monkeypatch.setattr(manifest, "build_manifest", lambda seed: manifest.Manifest(tunes, notes_table, None, None))
    monkeypatch.setattr(manifest, "load_profile", lambda profile, seed: (profiled, None))
    width = len(symbolic.descriptor_names())
    renders = manifest.ExtraRenders(pd.DataFrame({"tune_id": ["t01", "t00"], "render": [1, 1]}),
                                    pd.DataFrame(np.ones((2, width))), pd.DataFrame(columns=["tune_id", "render", "reason"]))
    monkeypatch.setattr(manifest, "profile_extra_renders", lambda *args, **kwargs: renders)  # no audio here
    codes = {"t00": 0, "t01": 1, "t08": 0, "t10": 1}
    extra = manifest.style_training_extras("small", 0, profiled, [codes[t] for t in profiled["tune_id"]],
                                           ["air", "jig"], per_style=2)
    assert (extra.n_renders, extra.n_scores) == (2, 4) and extra.X.shape == (6, width)
    assert extra.codes[:2].tolist() == [1, 0]  # each render takes its own tune's code
    pool, described = manifest.corpus_transcribed_scores("small", 0, per_group=2, values=["air", "jig"])
    assert extra.codes[2:].tolist() == pool["style"].map({"air": 0, "jig": 1}).tolist()
    np.testing.assert_array_equal(extra.X[2:], described.to_numpy())
    assert described.index.tolist() == pool["tune_id"].tolist() and set(pool["split"]) == {"train"}
    # a style outside the classes, or no tunes read as scores
    assert manifest.style_training_extras("small", 0, profiled, [0, 1, 0, 1], ["jig"], per_style=2).n_scores == 2
    none = manifest.style_training_extras("small", 0, profiled, [0, 1, 0, 1], ["air", "jig"], per_style=0)
    assert none.n_scores == 0 and none.X.shape == (2, width)


def test_extra_render_rolls_give_each_tune_its_renders_rolls_in_order():
    from musicgeo_utils import manifest

    notes = pd.DataFrame({"clip_id": ["t1", "t1", "t2"], "render": [2, 1, 1], "onset_s": [0.0, 0.5, 0.0],
                          "duration_s": [0.4, 0.4, 0.2], "pitch_midi": [60, 67, 62]})
    extra = manifest.ExtraRenders(pd.DataFrame({"tune_id": ["t1", "t2", "t1"], "render": [1, 1, 2]}), pd.DataFrame(),
                                  pd.DataFrame(columns=["tune_id", "render", "reason"]), notes)
    rolls = pitchroll.extra_render_rolls(extra, 2.0)
    assert rolls.index.tolist() == [(1, "t1"), (1, "t2"), (2, "t1")]  # render by render, in the renders' order
    np.testing.assert_array_equal(rolls[(1, "t1")], pitchroll.note_roll(notes.iloc[[1]], 2.0))
    np.testing.assert_array_equal(rolls[(2, "t1")], pitchroll.note_roll(notes.iloc[[0]], 2.0))
    by_tune = pitchroll.alternates_by_tune(rolls)
    assert [len(by_tune[t]) for t in ("t1", "t2")] == [2, 1]
    np.testing.assert_array_equal(by_tune["t1"][0], rolls[(1, "t1")])  # render 1 first
    np.testing.assert_array_equal(by_tune["t1"][1], rolls[(2, "t1")])
    with pytest.raises(ValueError, match="carry no notes"):
        pitchroll.extra_render_rolls(extra._replace(notes=None), 2.0)
