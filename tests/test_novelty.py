"""The out-of-distribution check (novelty) and the clips unlike the training data (unlike)."""
import numpy as np
import pandas as pd
import pytest

from musicgeo_utils import novelty, render, unlike


def test_percussive_share_tells_clicks_from_held_notes():
    held = np.full((96, 200), -80.0)
    held[[20, 40, 41], :] = -10.0  # steady partials: horizontal lines
    clicks = np.full((96, 200), -80.0)
    clicks[:, ::25] = -10.0  # broadband clicks: vertical lines
    assert novelty.percussive_share(held) < 0.1 < 0.9 < novelty.percussive_share(clicks)
    assert novelty.percussive_share(np.full((96, 50), -np.inf)) == 0.0  # silence


def test_unpitched_share_counts_frames_without_a_stable_pitch():
    assert novelty.unpitched_share(np.array([True, True, False, False])) == 0.5
    assert novelty.unpitched_share(np.zeros(0, dtype=bool)) == 1.0  # nothing heard at all


def test_embedding_distance_leaves_the_clip_itself_out():
    reference = np.eye(4)
    ids = ["a", "b", "c", "d"]
    stats = novelty.clip_statistics(["b", "new"], np.array([[0.0, 1.0, 0.0, 0.0], [0.0, 1.0, 0.1, 0.0]]),
                                    {"b": np.full((8, 40), -30.0), "new": np.full((8, 40), -30.0)},
                                    {"b": type("T", (), {"voiced": np.ones(5, bool)})()}, ids, reference, k=1)
    # "b" is a reference row: its nearest other row is orthogonal (distance 1); "new" is nearest to "b"
    assert stats.loc["b", "embedding distance"] == pytest.approx(1.0)
    assert stats.loc["new", "embedding distance"] == pytest.approx(1 - 1 / np.sqrt(1.01))
    assert stats.loc["new", "unpitched share"] == 1.0  # no pitch track: the front end skipped it


def test_calibration_flags_about_the_chosen_share_and_names_the_reason():
    rng = np.random.default_rng(0)
    validation = pd.DataFrame(rng.normal([0.2, 0.1, 0.3], [0.02, 0.01, 0.05], size=(400, 3)),
                              columns=list(novelty.STATISTICS))
    check = novelty.calibrate(validation, false_alarm=0.05)
    assert 0.03 <= check.unfamiliar(validation).mean() <= 0.05
    fresh = pd.DataFrame(rng.normal([0.2, 0.1, 0.3], [0.02, 0.01, 0.05], size=(2000, 3)),
                         columns=list(novelty.STATISTICS))
    assert 0.03 <= check.unfamiliar(fresh).mean() <= 0.08  # about the chosen share on new clips too
    strange = pd.DataFrame([[0.2, 0.5, 0.3], [0.2, 0.1, 0.3]], columns=list(novelty.STATISTICS))
    assert check.unfamiliar(strange).tolist() == [True, False]
    assert check.reasons(strange).iloc[0] == "percussive share"
    again = novelty.NoveltyCheck.from_dict(check.to_dict())
    assert again == check
    with pytest.raises(ValueError, match="missing or mistyped"):
        novelty.NoveltyCheck.from_dict({"centre": [0, 0, 0]})
    with pytest.raises(ValueError, match="positive scales"):
        novelty.NoveltyCheck.from_dict({**check.to_dict(), "scale": [1.0, 0.0, 1.0]})
    with pytest.raises(ValueError, match="at least 20"):
        novelty.calibrate(validation.head(5))
    with pytest.raises(ValueError, match="lacks"):
        check.novelty(validation.drop(columns="unpitched share"))


def test_noise_colours_fall_off_as_named():
    rng = np.random.default_rng(0)
    slopes = {}
    for colour in ("white", "pink", "brown"):
        x = unlike.noise(colour, 48000, rng)
        assert np.abs(x).max() == pytest.approx(render.PEAK_LEVEL, rel=1e-5)
        power = np.abs(np.fft.rfft(x)) ** 2
        f = np.fft.rfftfreq(x.size)
        band = (f > 0.01) & (f < 0.4)
        slopes[colour] = np.polyfit(np.log(f[band]), np.log(power[band] + 1e-20), 1)[0]
    assert slopes["white"] == pytest.approx(0.0, abs=0.2)
    assert slopes["pink"] == pytest.approx(-1.0, abs=0.2)
    assert slopes["brown"] == pytest.approx(-2.0, abs=0.2)


def test_chorales_are_drawn_by_the_seed_and_arranged_as_named():
    assert unlike.chorale_paths(3, 0) == unlike.chorale_paths(3, 0) != unlike.chorale_paths(3, 1)
    path = unlike.chorale_paths(1, 0)[0]
    midi = unlike.chorale_midi(path, [53, 0], drums=True)
    pitched = [inst for inst in midi.instruments if not inst.is_drum]
    assert len(pitched) >= 4 and pitched[0].program == 53 and {i.program for i in pitched[1:]} == {0}
    kit = [inst for inst in midi.instruments if inst.is_drum][0]
    pitches = [n.pitch for n in kit.notes]
    assert pitches.count(42) >= 2 * pitches.count(36) > 0 and pitches.count(38) > 0


def test_unlike_clips_one_of_each_kind():
    params = render.RenderParams(clip_seconds=3.0)
    clips = unlike.unlike_clips(1, 0, params)
    assert clips["kind"].tolist() == list(unlike.KINDS)
    assert all(a.shape == (params.n_samples,) and not render.is_silent(a) for a in clips["audio"])
    assert clips.attrs["skips"].empty
