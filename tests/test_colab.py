"""musicgeo_utils.colab: a silent no-op outside Colab; on a (faked) Colab, clone and install once."""
import os
import sys
import types
from pathlib import Path

import pytest

from musicgeo_utils import colab

ROOT = Path(__file__).resolve().parent.parent


def test_outside_colab_setup_does_nothing(tmp_path, monkeypatch, capsys):
    assert "google.colab" not in sys.modules and not colab.in_colab()
    monkeypatch.chdir(tmp_path)
    env, path = dict(os.environ), list(sys.path)
    monkeypatch.setattr(colab, "_run", lambda *a, **k: pytest.fail(f"ran {a}"))
    assert colab.setup() is None and colab.setup(drive=True, root=tmp_path / "x") is None
    assert capsys.readouterr() == ("", "") and Path.cwd() == tmp_path
    assert dict(os.environ) == env and sys.path == path and list(tmp_path.iterdir()) == []


def test_lock_file_follows_the_python_version(tmp_path):
    assert colab.lock_file(tmp_path, (3, 11)).name == "requirements.lock"
    assert colab.lock_file(tmp_path, (3, 12)).name == "requirements-py312.lock"
    assert colab.lock_file(tmp_path, (3, 13)).name == "requirements-py312.lock"
    assert colab.lock_file(ROOT).exists() and colab.lock_file(ROOT, (3, 12)).exists()


def test_torch_is_never_installed():
    text = "numpy==2.1.0\n    # via torch\ntorch==2.13.0\nTorchVision==0.1 ; python_version>'3'\nTorchAudio>=2\ntorchmetrics==1.0\n"
    assert colab.without_torch(text) == "numpy==2.1.0\n    # via torch\ntorchmetrics==1.0\n"
    for lock in ("requirements.lock", "requirements-py312.lock"):
        text = (ROOT / lock).read_text()
        assert colab.without_torch(text) == text  # the locks never hold torch, and nothing else is dropped


@pytest.fixture
def fake_colab(tmp_path, monkeypatch):
    """A Colab runtime: google.colab importable, commands recorded, the clone made by a fake git."""
    commands, mounts = [], []
    drive = types.SimpleNamespace(mount=mounts.append)
    monkeypatch.setitem(sys.modules, "google.colab", types.SimpleNamespace(drive=drive))
    monkeypatch.setitem(sys.modules, "google.colab.drive", drive)
    monkeypatch.setattr(sys, "path", list(sys.path))
    monkeypatch.setattr(colab, "DRIVE_MOUNT", str(tmp_path / "drive"))
    monkeypatch.setattr(colab, "DRIVE_DATA", str(tmp_path / "drive" / "MyDrive" / "musicgeo" / "data"))
    monkeypatch.delenv("MUSICGEO_DATA", raising=False)
    monkeypatch.chdir(tmp_path)

    def run(cmd, check):
        assert check
        commands.append(cmd)
        if cmd[:2] == ["git", "clone"]:
            clone = Path(cmd[-1])
            (clone / ".git").mkdir(parents=True)
            (clone / "notebooks").mkdir()
            for name in ("requirements.lock", "requirements-py312.lock", "requirements-nodeps.txt", "pyproject.toml"):
                (clone / name).write_bytes((ROOT / name).read_bytes())

    monkeypatch.setattr(colab, "_run", run)
    return types.SimpleNamespace(commands=commands, mounts=mounts, root=tmp_path / "content" / "musicgeo")


def test_on_colab_it_clones_and_installs_once(fake_colab):
    root = fake_colab.root
    assert colab.setup(repo="someone/musicgeo", branch="dev", root=root) == root
    clone, *pips = fake_colab.commands
    assert clone == ["git", "clone", "--depth", "1", "--branch", "dev", "https://github.com/someone/musicgeo.git", str(root)]
    assert [cmd[:5] for cmd in pips] == [[sys.executable, "-m", "pip", "install", "-q"]] * 3
    assert pips[0][5:] == ["-r", str(root / ".colab-requirements.txt")]
    assert pips[1][5:] == ["--no-deps", "-r", str(root / "requirements-nodeps.txt")]
    assert pips[2][5:] == ["--no-deps", "-e", str(root)]
    installed = (root / ".colab-requirements.txt").read_text()
    assert installed == colab.without_torch(colab.lock_file(root).read_text())
    assert Path.cwd() == root / "notebooks" and sys.path[0] == str(root) and "MUSICGEO_DATA" not in os.environ

    colab.setup(repo="someone/musicgeo", branch="dev", root=root)  # a rerun: nothing cloned or installed
    assert len(fake_colab.commands) == 4 and Path.cwd() == root / "notebooks"
    assert sys.path.count(str(root)) == 1

    (root / "requirements-nodeps.txt").write_text("tinysoundfont==9.9\n")  # a changed lock: install again
    colab.setup(root=root)
    assert len(fake_colab.commands) == 7 and not any(c[0] == "git" for c in fake_colab.commands[4:])


def test_drive_is_mounted_once_and_holds_the_data(fake_colab, monkeypatch):
    colab.setup(drive=True, root=fake_colab.root)
    assert fake_colab.mounts == [colab.DRIVE_MOUNT]
    assert os.environ["MUSICGEO_DATA"] == colab.DRIVE_DATA and Path(colab.DRIVE_DATA).is_dir()
    monkeypatch.setattr(os.path, "ismount", lambda path: path == colab.DRIVE_MOUNT)  # mounted now
    colab.setup(drive=True, root=fake_colab.root)
    assert fake_colab.mounts == [colab.DRIVE_MOUNT]
