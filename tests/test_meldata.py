"""Mel spectrogram datasets: seeded crops, evaluation crops, bad files, normalisation statistics."""
from __future__ import annotations

import numpy as np
import pytest
import torch

from musicgeo_utils.cache import write_npy
from musicgeo_utils.meldata import (CLIP_WINDOWS, MelDataset, mel_normalization_stats, screen_mel_files, shift_rows,
                                    window_starts)

N_MELS = 16


def noisy_clips(lengths=(20, 35, 50, 41, 59), seed: int = 0) -> tuple[list[np.ndarray], np.ndarray]:
    """Log-mel-like clips of 16 bands and the given numbers of frames, with class codes 0, 1, 2, 0, ..."""
    rng = np.random.default_rng(seed)
    clips = [rng.normal(-40.0, 2.0, size=(N_MELS, n)).astype(np.float32) for n in lengths]
    return clips, np.arange(len(clips)) % 3


def ramp_clip(frames: int = 500) -> np.ndarray:
    """A clip whose value is its frame index, so a crop reveals its start."""
    return np.tile(np.arange(frames, dtype=np.float32), (4, 1))



def crop_start(ds: MelDataset, index: int = 0) -> int:
    return int(ds[index][0][0, 0, 0])



def test_random_crop_is_deterministic_per_seed_and_epoch():
    clips = [ramp_clip()] * 3
    first, second = MelDataset(clips, [0, 1, 2], 64, seed=7), MelDataset(clips, [0, 1, 2], 64, seed=7)
    starts = []
    for epoch in range(1, 9):
        first.set_epoch(epoch)
        second.set_epoch(epoch)
        assert crop_start(first) == crop_start(second)
        assert crop_start(first) == crop_start(first)  # re-reading gives the same crop
        starts.append(crop_start(first))
    assert len(set(starts)) > 1  # crops move between epochs
    assert all(0 <= s <= 500 - 64 for s in starts)
    assert [crop_start(first, i) for i in range(3)] != [crop_start(first, 0)] * 3  # and clips
    other = MelDataset(clips, [0, 1, 2], 64, seed=8)
    other_starts = []
    for epoch in range(1, 9):
        other.set_epoch(epoch)
        other_starts.append(crop_start(other))
    assert other_starts != starts



def test_evaluation_crops_are_centred_or_evenly_spaced():
    ds = MelDataset([ramp_clip()], [0], 64, train=False)
    for epoch in (1, 5):
        ds.set_epoch(epoch)
        assert crop_start(ds) == (500 - 64) // 2
    x, _ = ds.as_eval(eval_crops=3)[0]
    assert x.shape == (3, 1, 4, 64)
    assert x[:, 0, 0, 0].tolist() == [0.0, 218.0, 436.0]



def test_short_clip_is_padded_with_its_silence_floor():
    clip = np.random.default_rng(0).normal(-50, 5, size=(4, 10)).astype(np.float32)
    x, y = MelDataset([clip], [2], crop_frames=32)[0]
    assert x.shape == (1, 4, 32) and y.dtype == torch.long and int(y) == 2
    np.testing.assert_array_equal(x[0, :, :10].numpy(), clip)
    assert torch.all(x[0, :, 10:] == float(clip.min()))



def test_files_and_arrays_give_the_same_examples(tmp_path):
    clips, labels = noisy_clips((20, 35, 50, 41))
    paths = [write_npy(tmp_path / f"clip{i}.npy", c) for i, c in enumerate(clips)]
    from_files = MelDataset(paths, labels, 16, seed=3)
    from_arrays = MelDataset(clips, labels, 16, seed=3)
    for i in range(4):
        assert torch.equal(from_files[i][0], from_arrays[i][0])



@pytest.fixture()
def bad_files(tmp_path):
    good = write_npy(tmp_path / "good.npy", np.zeros((N_MELS, 30), np.float32))
    pickled = tmp_path / "pickled.npy"
    np.save(pickled, np.array([{"evil": 1}], dtype=object), allow_pickle=True)
    garbage = tmp_path / "garbage.npy"
    garbage.write_bytes(b"this is not a numpy file")
    nan = tmp_path / "nan.npy"
    np.save(nan, np.full((N_MELS, 30), np.nan, np.float32))
    wrong_bands = write_npy(tmp_path / "bands.npy", np.zeros((8, 30), np.float32))
    return [good, pickled, garbage, nan, tmp_path / "missing.npy", wrong_bands]



@pytest.mark.parametrize("index, error", [
    (1, ValueError), (2, ValueError), (3, ValueError), (4, FileNotFoundError),
])
def test_bad_mel_file_raises_an_error_naming_it(bad_files, index, error):
    ds = MelDataset(bad_files, np.zeros(len(bad_files), int), 16)
    with pytest.raises(error, match=bad_files[index].name):
        ds[index]



def test_screen_mel_files_counts_and_explains_skips(bad_files):
    good, skips = screen_mel_files(bad_files, n_mels=N_MELS)
    assert good.tolist() == [0]
    assert skips["index"].tolist() == [1, 2, 3, 4, 5]
    reasons = dict(zip(skips["index"], skips["reason"]))
    assert "Object arrays" in reasons[1] or "pickle" in reasons[1]
    assert "NaN" in reasons[3] and "not found" in reasons[4]
    assert "8 mel bands, expected 16" in reasons[5]



def test_normalization_stats_are_per_band_over_all_frames():
    clips, labels = noisy_clips()
    mean, std = mel_normalization_stats(MelDataset(clips, labels, 16))
    frames = np.concatenate(clips, axis=1).astype(np.float64)
    np.testing.assert_allclose(mean, frames.mean(axis=1), rtol=1e-5)
    np.testing.assert_allclose(std, frames.std(axis=1), rtol=1e-4)


def test_clip_windows_cover_the_clip_with_a_hop_of_half_a_window():
    assert window_starts(100, 40) == [0, 20, 40, 60]  # 60 + 40 = 100: the last window ends at the clip's end
    assert window_starts(99, 40) == [0, 20, 40]  # a tail shorter than a hop is left out
    assert window_starts(10, 40) == [0]  # shorter than a window: one, padded
    mel = np.arange(4 * 100, dtype=np.float32).reshape(4, 100)
    ds = MelDataset([mel], [0], crop_frames=40, train=False, eval_crops=CLIP_WINDOWS)
    x, _ = ds[0]
    assert x.shape == (4, 1, 4, 40)
    np.testing.assert_array_equal(x[3, 0].numpy(), mel[:, 60:100])
    assert MelDataset([mel], [0], crop_frames=40).as_eval(CLIP_WINDOWS).eval_crops == CLIP_WINDOWS
    with pytest.raises(ValueError, match="eval_crops must be a positive integer or 'clip'"):
        MelDataset([mel], [0], crop_frames=40, eval_crops="all")


def test_clip_windows_with_another_hop():
    assert window_starts(100, 40, hop=10) == [0, 10, 20, 30, 40, 50, 60]
    assert window_starts(100, 40, hop=None) == window_starts(100, 40)
    assert window_starts(250, 200, hop=25) == [0, 25, 50]  # the pitch CRNN's 10-s clip: three windows, not one
    with pytest.raises(ValueError, match="window hop must be a positive number of frames"):
        window_starts(100, 40, hop=0)
    mel = np.arange(4 * 100, dtype=np.float32).reshape(4, 100)
    ds = MelDataset([mel], [0], crop_frames=40, train=False, eval_crops=CLIP_WINDOWS, window_hop=30)
    x, _ = ds[0]
    assert x.shape == (3, 1, 4, 40)  # starts 0, 30, 60
    np.testing.assert_array_equal(x[1, 0].numpy(), mel[:, 30:70])
    train = MelDataset([mel], [0], crop_frames=40, window_hop=30)
    assert train.as_eval(CLIP_WINDOWS).window_hop == 30  # kept by the evaluation copy
    assert train[0][0].shape == (1, 4, 40)  # training crops do not depend on it
    with pytest.raises(ValueError, match="window_hop must be a positive number of frames"):
        MelDataset([mel], [0], crop_frames=40, window_hop=-1)


def test_shift_rows_transposes_and_fills_with_the_silence():
    roll = np.zeros((6, 3), dtype=np.float32)
    roll[1, 0], roll[4, 2] = 1.0, 0.5
    up, down = shift_rows(roll, 2), shift_rows(roll, -2)
    assert up[3, 0] == 1.0 and up.sum() == 1.0  # the top note left the range
    assert down[2, 2] == 0.5 and down.sum() == 0.5  # the bottom one did
    assert shift_rows(roll, 0) is roll
    mel = np.full((4, 2), -80.0, dtype=np.float32)
    mel[3] = -20.0
    np.testing.assert_array_equal(shift_rows(mel, -1)[2:], [[-20.0, -20.0], [-80.0, -80.0]])  # filled with its floor


def test_training_reads_one_seeded_version_of_each_clip_and_evaluation_the_first():
    versions = [np.full((4, 40), value, np.float32) for value in (0.0, 1.0, 2.0)]  # each version names itself
    ds = MelDataset([versions[0], versions[0]], [0, 1], 40, seed=3,
                    alternates=[tuple(versions[1:]), ()])  # the second clip has no other version

    def read(dataset, epoch, index=0):
        dataset.set_epoch(epoch)
        return int(dataset[index][0][0, 0, 0])

    seen = [read(ds, epoch) for epoch in range(30)]
    assert set(seen) == {0, 1, 2}  # every version is read, one per epoch
    again = MelDataset([versions[0], versions[0]], [0, 1], 40, seed=3, alternates=[tuple(versions[1:]), ()])
    assert [read(again, epoch) for epoch in range(30)] == seen  # seeded by (seed, epoch, clip)
    assert {read(ds, epoch, 1) for epoch in range(30)} == {0}
    assert {int(ds.as_eval()[0][0][0, 0, 0]) for _ in range(3)} == {0}  # evaluation reads the clip itself
    with pytest.raises(ValueError, match="2 clips but 1 entries of alternates"):
        MelDataset([versions[0], versions[0]], [0, 1], 40, alternates=[()])


def test_split_datasets_give_alternates_to_the_training_split_alone():
    import pandas as pd

    from musicgeo_utils.meldata import split_datasets

    tunes = pd.DataFrame({"tune_id": ["a", "b", "c"], "split": ["train", "train", "val"]})
    rolls = pd.Series({t: np.zeros((4, 40), np.float32) for t in tunes["tune_id"]})
    other = np.ones((4, 40), np.float32)
    sets = split_datasets(tunes, rolls, np.array([0, 1, 0]), 40, 0, alternates=pd.Series({"a": (other,), "c": (other,)}))
    assert [len(a) for a in sets["train"].alternates] == [1, 0]
    assert sets["val"].alternates is None and sets["test"].alternates is None
