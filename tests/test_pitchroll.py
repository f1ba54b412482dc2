"""The semitone roll of transcribed notes and the transposition augmentation that goes with it."""
import numpy as np
import pandas as pd
import pytest

from musicgeo_utils import pitchroll
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
