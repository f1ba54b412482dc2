"""Score descriptors: known answers on hand-written note lists."""
import numpy as np
import pandas as pd
import pytest

from musicgeo_utils import symbolic


def notes_of(tune_id, pitches, durations):
    onsets = np.r_[0.0, np.cumsum(durations)[:-1]]
    return pd.DataFrame({"tune_id": tune_id, "pitch": pitches, "onset": onsets, "duration": durations})


def test_descriptors_ignore_transposition_and_see_intervals_and_rhythm():
    tune = [60, 62, 64, 65, 67, 65, 64, 60]
    rhythm = [0.5, 0.5, 1.0, 0.5, 0.5, 1.0, 1.0, 2.0]
    notes = pd.concat([notes_of("a", tune, rhythm), notes_of("b", [p + 7 for p in tune], rhythm)])
    table = symbolic.score_descriptors(notes)
    assert list(table.columns) == symbolic.descriptor_names()
    np.testing.assert_allclose(table.loc["a"], table.loc["b"])
    row = table.loc["a"]
    assert row["pc_from_final_00"] == pytest.approx((0.5 + 2.0) / 7.0)  # C: first and last note
    assert row["interval_+2"] == pytest.approx(3 / 7) and row["interval_-4"] == pytest.approx(1 / 7)
    assert row["duration_le_0.51"] == pytest.approx(4 / 8)
    assert row["range_semitones"] == pytest.approx(np.subtract(*np.percentile(tune, [95, 5])))  # central 90 %
    assert row["onset_at_0.00_of_quarter"] + row["onset_at_0.50_of_quarter"] == pytest.approx(1.0)
    # inter-onset intervals 0.5 0.5 1 0.5 0.5 1 1: ratios 1 2 1/2 1 2 1
    assert (row["ioi_ratio_1:1"], row["ioi_ratio_2:1"], row["ioi_ratio_1:2"]) == pytest.approx((3 / 6, 2 / 6, 1 / 6))


def test_heard_onsets_match_the_nearest_grid_point_and_wrap_around_the_beat():
    # onsets a little early or late, as a transcription gives them; 1.97 is next beat's downbeat
    onsets = np.array([0.03, 0.47, 0.98, 1.52, 1.97, 2.30, 2.58])  # 2.58: 0.08 from 1/2, 0.09 from 2/3
    row = symbolic.descriptors(np.full(7, 60), onsets, np.full(7, 0.4), tonic_pc=0)
    names = symbolic.descriptor_names()
    got = dict(zip(names, row))
    assert got["onset_at_0.00_of_quarter"] == pytest.approx(3 / 7)
    assert got["onset_at_0.50_of_quarter"] == pytest.approx(2 / 7)
    assert got["onset_at_0.33_of_quarter"] == pytest.approx(1 / 7)  # 2.30: 0.03 from 1/3
    assert got["onset_at_0.67_of_quarter"] == pytest.approx(0.0) and got["onset_elsewhere"] == pytest.approx(1 / 7)
    # ratios do not depend on the unit or the tempo
    again = symbolic.descriptors(np.full(7, 60), onsets * 0.37, np.full(7, 0.4), tonic_pc=0)
    ioi = [i for i, n in enumerate(names) if n.startswith("ioi_ratio")]
    np.testing.assert_allclose(row[ioi], again[ioi])


def test_triplets_and_swing_positions_are_told_apart():
    triplets = symbolic.score_descriptors(notes_of("t", [60] * 6, [1 / 3] * 6)).iloc[0]
    assert triplets["onset_at_0.33_of_quarter"] == pytest.approx(2 / 6)
    assert triplets["repeated_note_share"] == 1.0 and triplets["notes_per_quarter"] == pytest.approx(3.0)


def test_tune_without_notes_and_missing_columns_are_named():
    notes = notes_of("a", [60, 62], [1.0, 1.0])
    with pytest.raises(ValueError, match="no notes.*'ghost'"):
        symbolic.score_descriptors(notes, tune_ids=["a", "ghost"])
    with pytest.raises(ValueError, match="duration"):
        symbolic.score_descriptors(notes.drop(columns="duration"))
