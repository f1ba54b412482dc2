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


def test_ngrams_count_successive_degrees_intervals_steps_and_rhythm_ratios():
    tune = [60, 62, 64, 65, 67, 65, 64, 60]  # steps +2 +2 +1 +2 -2 -1 -4
    rhythm = [0.5, 0.5, 1.0, 0.5, 0.5, 1.0, 1.0, 2.0]  # IOI ratios 1 2 1/2 1 2 1
    row = symbolic.score_descriptors(notes_of("a", tune, rhythm)).iloc[0]
    ngrams = row[symbolic.ngram_columns(row.index)]
    assert list(ngrams.index) == symbolic.ngram_names() and len(ngrams) == 684
    share = lambda k, n: pytest.approx(np.sqrt(k / n))  # square roots of relative frequencies
    assert row["ngram_degrees_00_02"] == share(1, 7) and row["ngram_degrees_04_05"] == share(1, 7)
    assert row["ngram_degrees_04_00"] == share(1, 7) and row["ngram_degrees_00_04"] == 0
    assert row["ngram_intervals_+2_+2"] == share(1, 6) and row["ngram_intervals_-1_-4"] == share(1, 6)
    assert row["ngram_steps_step_up_step_up_step_up"] == share(2, 5)
    assert row["ngram_steps_step_down_step_down_leap_down"] == share(1, 5)
    assert row["ngram_ioi_ratios_1:1_2:1"] == share(2, 5) and row["ngram_ioi_ratios_2:1_1:2"] == share(1, 5)
    # each ratio with the step into the note after it: +2 after 1:1, +1 after 2:1, ... -4 after 1:1
    assert row["ngram_step_ioi_step_up_1:1"] == share(1, 6) and row["ngram_step_ioi_leap_down_1:1"] == share(1, 6)
    for block in ("degrees", "intervals", "steps", "ioi_ratios", "step_ioi"):  # each block's shares sum to 1
        squares = [v ** 2 for name, v in ngrams.items() if name.startswith(f"ngram_{block}_")]
        assert sum(squares) == pytest.approx(1.0), block
    # leaps beyond 8 semitones share the outermost class
    far = symbolic.score_descriptors(notes_of("b", [60, 72, 60, 75], [1.0] * 4)).iloc[0]  # +12 -12 +15
    assert far["ngram_intervals_+8_-8"] == share(1, 2) == far["ngram_intervals_-8_+8"]
    assert far["ngram_intervals_+8_+8"] == 0


def test_ngrams_leave_out_ratios_of_notes_that_start_together_and_short_tunes_give_zeros():
    pitch, onset = np.array([60, 64, 62, 60]), np.array([0.0, 0.0, 1.0, 2.0])  # a chord, then two notes
    row = dict(zip(symbolic.descriptor_names(), symbolic.descriptors(pitch, onset, np.ones(4), tonic_pc=0)))
    assert sum(v for k, v in row.items() if k.startswith("ngram_ioi_ratios_")) == 0  # no two valid ratios in a row
    assert row["ngram_step_ioi_step_down_1:1"] == 1.0  # the one valid ratio (1 beat, 1 beat) before the step 62 -> 60
    single = symbolic.descriptors(np.array([60]), np.array([0.0]), np.array([1.0]), tonic_pc=0)
    assert np.isfinite(single).all() and not single[symbolic.ngram_columns(symbolic.descriptor_names())].any()


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
