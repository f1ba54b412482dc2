"""Paths under the data and reports folders."""
from musicgeo_utils import config


def test_data_dir_and_reports_dir_create_the_folder(tmp_path, monkeypatch):
    monkeypatch.setattr(config, "DATA_DIR", tmp_path / "data")
    monkeypatch.setattr(config, "REPORTS_DIR", tmp_path / "reports")
    models = config.data_dir("models", "small")
    assert models == tmp_path / "data" / "models" / "small" and models.is_dir()
    assert config.reports_dir("maps").is_dir()
    file = config.data_path("results", "a.parquet")
    assert file.parent.is_dir() and not file.exists()


def test_map_in_threads_keeps_the_order_and_sets_each_calls_thread_limits():
    from threadpoolctl import threadpool_info, threadpool_limits

    def blas_threads(_):
        return {info["num_threads"] for info in threadpool_info() if info["user_api"] == "blas"}

    items = list(range(6))
    assert config.map_in_threads(lambda i: i * i, items, 3) == [i * i for i in items]
    with threadpool_limits(2, user_api="blas"):
        assert config.map_in_threads(blas_threads, items, 2) == [{2}] * 6  # the caller's limit, in each thread
        assert config.map_in_threads(blas_threads, items, 2, limits=1) == [{1}] * 6
        assert config.map_in_threads(blas_threads, items, 1, limits=1) == [{1}] * 6  # also one after another
        assert blas_threads(None) == {2}  # the caller's own limit is left as it was
    assert config.map_in_threads(blas_threads, [], 2) == []
