"""Atomic cache writes and content keys."""
import os
import stat

import numpy as np
import pandas as pd
import pytest

from musicgeo_utils import cache


def test_interrupted_write_leaves_old_file_and_no_temporary(tmp_path):
    target = tmp_path / "table.parquet"
    cache.write_parquet(target, pd.DataFrame({"a": [1, 2]}))
    with pytest.raises(KeyboardInterrupt):
        with cache.atomic_path(target) as tmp:
            tmp.write_bytes(b"half a parquet file")
            raise KeyboardInterrupt  # the user pressed Ctrl-C mid-write
    assert pd.read_parquet(target)["a"].tolist() == [1, 2]
    assert sorted(p.name for p in tmp_path.iterdir()) == ["table.parquet"]


def test_written_files_get_normal_permissions(tmp_path):
    path = cache.write_bytes(tmp_path / "x.bin", b"abc")
    umask = os.umask(0)
    os.umask(umask)
    assert stat.S_IMODE(path.stat().st_mode) == 0o666 & ~umask


def test_npy_and_npz_round_trip_and_refuse_pickles(tmp_path):
    array = np.arange(12, dtype=np.float32).reshape(3, 4)
    assert np.array_equal(cache.read_npy(cache.write_npy(tmp_path / "a.npy"  , array)), array)
    ids = np.array(["essen/han1/1", "oneills/1/2"])
    back = cache.read_npz(cache.write_npz(tmp_path / "b.npz", ids=ids, x=array))
    assert back["ids"].tolist() == ids.tolist() and np.array_equal(back["x"], array)
    np.save(tmp_path / "evil.npy", np.array([{"a": 1}], dtype=object), allow_pickle=True)
    with pytest.raises(ValueError):
        cache.read_npy(tmp_path / "evil.npy")


def test_content_key_is_stable_and_sensitive():
    a = cache.content_key({"sr": 12000, "n_mels": 96}, np.zeros(3), b"x")
    assert a == cache.content_key({"n_mels": 96, "sr": 12000}, np.zeros(3), b"x")  # key order irrelevant
    assert a != cache.content_key({"sr": 12000, "n_mels": 64}, np.zeros(3), b"x")
    assert a != cache.content_key({"sr": 12000, "n_mels": 96}, np.zeros(3, dtype=np.float32), b"x")
    assert len(a) == 16 and int(a, 16) >= 0


def test_upsert_parquet_replaces_rows_of_the_same_key_and_keeps_the_others(tmp_path):
    import pandas as pd

    path = tmp_path / "robustness.parquet"
    first = pd.DataFrame({"model": ["geo", "geo"], "condition": ["in", "out"], "value": [1.0, 2.0]})
    cache.upsert_parquet(path, first, key=["model", "condition"])
    style = pd.DataFrame({"model": ["style"], "condition": ["out"], "value": [3.0]})
    cache.upsert_parquet(path, style, key=["model", "condition"])
    rerun = pd.DataFrame({"model": ["geo"], "condition": ["out"], "value": [5.0]})
    table = cache.upsert_parquet(path, rerun, key=["model", "condition"])
    assert table.equals(pd.read_parquet(path))
    assert table.to_dict("list") == {"model": ["geo", "style", "geo"], "condition": ["in", "out", "out"],
                                     "value": [1.0, 3.0, 5.0]}
    with pytest.raises(ValueError, match="key column"):
        cache.upsert_parquet(path, rerun.drop(columns="condition"), key=["model", "condition"])
