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
