"""Transposition- and tempo-invariant descriptors: known answers on synthetic melodies."""
import numpy as np
import pytest

from musicgeo_utils import features as f

SR = 12000
PARAMS = f.FeatureParams()


def melody(midi_pitches, bpm: float, beats_per_note: float = 1.0) -> np.ndarray:
    """Harmonic, decaying notes, one per ``beats_per_note`` beats at ``bpm``."""
    note_seconds = 60.0 / bpm * beats_per_note
    n = int(note_seconds * SR)
    t = np.arange(n) / SR
    notes = []
    for pitch in midi_pitches:
        f0 = 440.0 * 2 ** ((pitch - 69) / 12)
        tone = sum(np.sin(2 * np.pi * k * f0 * t) / k for k in (1, 2, 3) if k * f0 < SR / 2)
        notes.append(0.3 * tone * np.exp(-2.0 * t))
    return np.concatenate(notes).astype(np.float32)


def descriptors(y, bpm):
    onset = f.frame_features(y, PARAMS)["onset_strength"]
    return f.invariant_descriptors(y, onset, bpm, PARAMS)


def block(values: dict, prefix: str) -> np.ndarray:
    return np.array([v for k, v in values.items() if k.startswith(prefix)])


TUNE = [60, 62, 64, 67, 69, 67, 64, 62] * 4  # a pentatonic tune in C


def test_names_match_values_and_the_summary():
    values = descriptors(melody(TUNE, 120), 120)
    assert list(values) == f.invariant_names(PARAMS)
    assert len(values) == 12 + 6 + 3 + 1 + 12 * len(PARAMS.interval_lags_beats) + 12 * 4 + 1
    assert f.summary_names(PARAMS)[-len(values):] == list(values)
    assert all(np.isfinite(v) for v in values.values())


def test_tonal_descriptors_ignore_transposition():
    home, up_a_fourth = descriptors(melody(TUNE, 120), 120), descriptors(melody([p + 5 for p in TUNE], 120), 120)
    for prefix in ("pc_rel", "pc_dft", "key_corr", "interval_"):
        np.testing.assert_allclose(block(home, prefix), block(up_a_fourth, prefix), atol=0.03, err_msg=prefix)
    raw_chroma = [f.tonal_chroma(melody(t, 120)).mean(axis=1) for t in (TUNE, [p + 5 for p in TUNE])]
    assert np.argmax(raw_chroma[0]) != np.argmax(raw_chroma[1])  # the raw profile does move


def test_pentatonic_tune_prefers_the_pentatonic_profile_and_a_chromatic_one_does_not():
    pentatonic = descriptors(melody(TUNE, 120), 120)
    chromatic = descriptors(melody(list(range(60, 72)) * 3, 120), 120)
    assert pentatonic["key_corr_pentatonic"] > 0.8
    assert chromatic["key_corr_pentatonic"] < pentatonic["key_corr_pentatonic"] - 0.4
    assert chromatic["pc_dft5"] < pentatonic["pc_dft5"] / 3


def test_interval_profile_of_a_tune_that_alternates_a_fifth_each_beat():
    values = descriptors(melody([60, 67] * 12, 100), 100)
    one_beat = block(values, "interval_1beat_")
    # C -> G is 7 semitones up, G -> C is 5 up (mod 12); the same note two beats apart is 0
    # (each note's harmonics and decay blur the chroma, so the shares are not 0/1)
    assert set(np.argsort(one_beat)[-2:]) == {5, 7} and one_beat[0] < 0.15
    two_beats = block(values, "interval_2beat_")
    assert np.argmax(two_beats) == 0 and two_beats[0] > 3 * max(two_beats[5], two_beats[7])


def test_meter_profile_follows_the_beat_not_the_tempo():
    def accented(bpm, per_beat):  # clicks `per_beat` times a beat, the beat accented
        step = 60.0 / bpm / per_beat
        y = np.zeros(int(8 * 60.0 / bpm * SR), dtype=np.float32)
        for i, start in enumerate(np.arange(0, y.size / SR - 0.05, step)):
            s = int(start * SR)
            y[s : s + 240] += (1.0 if i % per_beat == 0 else 0.4) * np.hanning(240)
        return y

    duple = {bpm: block(descriptors(accented(bpm, 2), bpm), "meter_ac") for bpm in (90, 130)}
    triple = block(descriptors(accented(100, 3), 100), "meter_ac")
    assert np.corrcoef(duple[90], duple[130])[0, 1] > 0.9  # same rhythm, other tempo: same profile
    half, third = 6 - 1, 4 - 1  # lags 6/12 and 4/12 beat
    assert duple[90][half] > duple[90][third] and triple[third] > triple[half]


def test_no_tempo_gives_zero_beat_based_values_and_no_error():
    values = descriptors(melody(TUNE, 120), 0.0)
    assert not block(values, "interval_").any() and not block(values, "meter_ac").any()
    assert values["onsets_per_beat"] == 0.0 and values["pc_rel00"] > 0


def test_clip_shorter_than_the_tonal_window_is_padded():
    y = melody([69], 600)[:3000]
    assert f.tonal_chroma(y).shape[0] == 12
    assert np.argmax(f.tonal_chroma(y).sum(axis=1)) == 9  # A


@pytest.mark.parametrize("bad", [dict(tonal_hop=0), dict(interval_lags_beats=(0.0,)), dict(meter_beats=0)])
def test_bad_invariant_params_are_refused(bad):
    with pytest.raises(ValueError, match="invalid FeatureParams"):
        f.FeatureParams(**bad)
