"""The training loop, datasets, checkpoints and metrics on tiny synthetic mels."""
from __future__ import annotations

import copy
import datetime

import numpy as np
import pandas as pd
import pytest
import torch
from torch import nn

from musicgeo_utils.config import seed_everything
from musicgeo_utils.models import CRNN, CifarNet, encode_latlon
from musicgeo_utils.meldata import MelDataset, mel_normalization_stats
from musicgeo_utils.training import (
    TrainConfig, fit, load_checkpoint, configure_torch_threads, pick_device, predict, save_checkpoint, train_step,
)

N_MELS, N_CLASSES = 16, 3


@pytest.fixture(autouse=True, scope="module")
def one_torch_thread():
    """Tiny tensors: a second thread only adds OpenMP barrier waits on a shared machine."""
    previous = torch.get_num_threads()
    configure_torch_threads(1)
    yield
    torch.set_num_threads(previous)


def band_clips(n: int, seed: int = 0) -> tuple[list[np.ndarray], np.ndarray]:
    """Noisy log-mel-like clips (16 bands, 20-60 frames); class c lights bands 5c..5c+2."""
    rng = np.random.default_rng(seed)
    labels = np.arange(n) % N_CLASSES
    clips = []
    for label in labels:
        clip = rng.normal(-40.0, 2.0, size=(N_MELS, rng.integers(20, 60))).astype(np.float32)
        clip[5 * label:5 * label + 3] += 6.0
        clips.append(clip)
    return clips, labels


def tiny_crnn(seed: int = 0, dropout: float = 0.0) -> CRNN:
    seed_everything(seed)
    return CRNN(N_CLASSES, n_mels=N_MELS, channels=(4, 8), gru_hidden=8, dropout=dropout)


def tiny_config(**kwargs) -> TrainConfig:
    defaults = dict(epochs=3, batch_size=8, lr=1e-2, crop_frames=24, progress=False,
                    model="crnn", model_kwargs={})
    return TrainConfig(**{**defaults, **kwargs})


def state_equal(a: nn.Module, b: nn.Module) -> bool:
    sa, sb = a.state_dict(), b.state_dict()
    return sa.keys() == sb.keys() and all(torch.equal(sa[k], sb[k]) for k in sa)


# --------------------------------------------------------------------------- devices


def test_configure_torch_threads_sets_and_keeps_the_choice():
    assert configure_torch_threads(2) == 2
    clips, labels = band_clips(3)
    predict(tiny_crnn(), MelDataset(clips, labels, 16))  # must not reset the choice
    assert torch.get_num_threads() == 2
    assert configure_torch_threads(1) == 1


def test_pick_device_prefers_cuda_then_mps_then_cpu():
    if torch.cuda.is_available():
        expected = "cuda"
    elif torch.backends.mps.is_available():
        expected = "mps"
    else:
        expected = "cpu"
    assert pick_device().type == expected
    assert pick_device("cpu") == torch.device("cpu")


@pytest.mark.skipif(torch.cuda.is_available(), reason="CUDA present")
def test_pick_device_refuses_missing_accelerator():
    with pytest.raises(RuntimeError, match="not available"):
        pick_device("cuda")


# --------------------------------------------------------------------------- training


def test_one_batch_overfit():
    rng = np.random.default_rng(0)
    x = torch.from_numpy(rng.normal(size=(8, 1, N_MELS, 32)).astype(np.float32))
    y = torch.from_numpy(rng.integers(0, 4, size=8))
    seed_everything(0)
    model = CRNN(4, n_mels=N_MELS, channels=(8, 16), gru_hidden=16, dropout=0.0)
    optimizer = torch.optim.AdamW(model.parameters(), lr=1e-2)
    scaler = torch.amp.GradScaler("cuda", enabled=False)
    losses = [train_step(model, x, y, nn.CrossEntropyLoss(), optimizer, scaler, False)[0]
              for _ in range(40)]
    assert losses[-1] < 0.2 * losses[0]


def test_cifarnet_regression_overfits_one_batch():
    rng = np.random.default_rng(1)
    x = torch.from_numpy(rng.normal(size=(8, 1, N_MELS, 40)).astype(np.float32))
    y = torch.from_numpy(encode_latlon(rng.uniform([-60, -170], [70, 170], size=(8, 2))))
    seed_everything(0)
    model = CifarNet(n_mels=N_MELS)
    optimizer = torch.optim.AdamW(model.parameters(), lr=3e-3)
    scaler = torch.amp.GradScaler("cuda", enabled=False)
    losses = [train_step(model, x, y, nn.MSELoss(), optimizer, scaler, False)[0]
              for _ in range(60)]
    assert losses[-1] < 0.2 * losses[0]


def fit_tiny(seed: int, **kwargs):
    clips, labels = band_clips(16)
    model = tiny_crnn(seed, dropout=0.1)
    cfg = tiny_config(seed=seed, **kwargs)
    history = fit(model, MelDataset(clips, labels, 24, seed=seed),
                  MelDataset(clips[:6], labels[:6], 24, train=False), cfg)
    return model, history


def test_fit_is_deterministic_for_a_seed():
    model_a, hist_a = fit_tiny(0)
    model_b, hist_b = fit_tiny(0)
    model_c, hist_c = fit_tiny(1)
    columns = [c for c in hist_a.frame.columns if c != "seconds"]
    assert list(hist_a.frame.columns) == ["epoch", "train_loss", "train_accuracy", "val_loss",
                                          "val_accuracy", "val_macro_f1", "lr", "seconds"]
    assert hist_a.frame[columns].equals(hist_b.frame[columns])
    assert state_equal(model_a, model_b)
    assert not hist_a.frame[columns].equals(hist_c.frame[columns])


def test_on_epoch_sees_every_epochs_weights_and_changes_nothing():
    clips, labels = band_clips(16)
    seen = {}
    model = tiny_crnn(0, dropout=0.1)
    history = fit(model, MelDataset(clips, labels, 24, seed=0), MelDataset(clips[:6], labels[:6], 24, train=False),
                  tiny_config(seed=0), on_epoch=lambda epoch, m: seen.setdefault(epoch, copy.deepcopy(m.state_dict())))
    _, plain = fit_tiny(0)
    columns = [c for c in plain.frame.columns if c != "seconds"]
    assert history.frame[columns].equals(plain.frame[columns])
    assert sorted(seen) == history.frame["epoch"].tolist()
    best = seen[history.best_epoch]  # the weights fit restores are those of the best epoch
    assert all(torch.equal(best[k], v) for k, v in model.state_dict().items())


def test_interrupted_fit_resumes_where_it_stopped_with_the_same_result(tmp_path, monkeypatch):
    import musicgeo_utils.training as training
    from musicgeo_utils import fit_state

    clips, labels = band_clips(16)
    sets = lambda: (MelDataset(clips, labels, 24, seed=0), MelDataset(clips[:6], labels[:6], 24, train=False))  # noqa: E731
    cfg = tiny_config(epochs=5, patience=5)
    whole = tiny_crnn(0, dropout=0.1)
    expected = fit(whole, *sets(), cfg, checkpoint_path=tmp_path / "whole.pt")
    assert not fit_state.resume_path(tmp_path / "whole.pt").exists()  # removed when the fit completes

    real_epoch, epochs_run = training._run_epoch, []

    def interrupted(*args):
        epochs_run.append(args[-1])
        if args[-1] == 3:
            raise KeyboardInterrupt  # as if the run were stopped during epoch 3
        return real_epoch(*args)

    monkeypatch.setattr(training, "_run_epoch", interrupted)
    with pytest.raises(KeyboardInterrupt):
        fit(tiny_crnn(0, dropout=0.1), *sets(), cfg, checkpoint_path=tmp_path / "cut.pt")
    assert fit_state.resume_path(tmp_path / "cut.pt").is_file()
    monkeypatch.setattr(training, "_run_epoch", lambda *args: epochs_run.append(args[-1]) or real_epoch(*args))
    resumed_model = tiny_crnn(0, dropout=0.1)
    resumed = fit(resumed_model, *sets(), cfg, checkpoint_path=tmp_path / "cut.pt")
    assert epochs_run == [1, 2, 3, 3, 4, 5]  # epochs 1-2 were not trained again
    columns = [c for c in expected.frame.columns if c != "seconds"]
    pd.testing.assert_frame_equal(resumed.frame[columns], expected.frame[columns])
    assert state_equal(resumed_model, whole) and resumed.best_epoch == expected.best_epoch
    # a state left by another configuration is ignored, not trusted
    fit_state.save_fit_state(fit_state.resume_path(tmp_path / "other.pt"), tiny_config(epochs=9), whole,
                          torch.optim.AdamW(whole.parameters()), torch.amp.GradScaler("cuda", enabled=False),
                          training._EarlyStopping("val_loss", 5), torch.Generator(), [{"epoch": 1}])
    other = fit(tiny_crnn(0, dropout=0.1), *sets(), cfg, checkpoint_path=tmp_path / "other.pt")
    pd.testing.assert_frame_equal(other.frame[columns], expected.frame[columns])
    # a state of this configuration that breaks half-way (the optimiser's part) leaves nothing behind
    fit_state.save_fit_state(fit_state.resume_path(tmp_path / "broken.pt"), cfg, whole,
                          torch.optim.AdamW(whole.parameters()), torch.amp.GradScaler("cuda", enabled=False),
                          training._EarlyStopping("val_loss", 5), torch.Generator(), [])
    broken = torch.load(fit_state.resume_path(tmp_path / "broken.pt"), weights_only=True)
    broken["optimizer"] = {"state": {}, "param_groups": []}
    torch.save(broken, fit_state.resume_path(tmp_path / "broken.pt"))
    fresh_model = tiny_crnn(0, dropout=0.1)
    again = fit(fresh_model, *sets(), cfg, checkpoint_path=tmp_path / "broken.pt")
    pd.testing.assert_frame_equal(again.frame[columns], expected.frame[columns])
    assert state_equal(fresh_model, whole)


def cut_in_epoch_3_then_resumed(monkeypatch, new_model, sets, cfg, checkpoint_path):
    """A fit stopped during epoch 3 (as by Ctrl-C), then called again: (the resumed model, its history)."""
    import musicgeo_utils.training as training

    real_epoch = training._run_epoch

    def interrupted(*args):
        if args[-1] == 3:
            raise KeyboardInterrupt
        return real_epoch(*args)

    monkeypatch.setattr(training, "_run_epoch", interrupted)
    with pytest.raises(KeyboardInterrupt):
        fit(new_model(), *sets(), cfg, checkpoint_path=checkpoint_path)
    monkeypatch.setattr(training, "_run_epoch", real_epoch)
    model = new_model()
    return model, fit(model, *sets(), cfg, checkpoint_path=checkpoint_path)


def test_cosine_schedule_lowers_the_rate_and_resumes_with_it(tmp_path, monkeypatch):
    clips, labels = band_clips(16)
    sets = lambda: (MelDataset(clips, labels, 24, seed=0), MelDataset(clips[:6], labels[:6], 24, train=False))  # noqa: E731
    cfg = tiny_config(epochs=4, patience=4, lr_schedule="cosine")
    expected = fit(tiny_crnn(0), *sets(), cfg, checkpoint_path=tmp_path / "whole.pt")
    # the rate used in each epoch: lr * (1 + cos(pi * k / epochs)) / 2 above lr / 100, k = epoch - 1
    k = np.arange(4)
    np.testing.assert_allclose(expected.frame["lr"], 1e-4 + (1e-2 - 1e-4) * (1 + np.cos(np.pi * k / 4)) / 2)
    constant = fit(tiny_crnn(0), *sets(), tiny_config(epochs=4, patience=4))
    assert (constant.frame["lr"] == 1e-2).all()
    _, resumed = cut_in_epoch_3_then_resumed(monkeypatch, lambda: tiny_crnn(0), sets, cfg, tmp_path / "cut.pt")
    columns = [c for c in expected.frame.columns if c != "seconds"]
    pd.testing.assert_frame_equal(resumed.frame[columns], expected.frame[columns])  # the schedule went on


def test_weight_average_is_what_is_validated_kept_and_resumed(tmp_path, monkeypatch):
    import musicgeo_utils.training as training

    clips, labels = band_clips(16)
    sets = lambda: (MelDataset(clips, labels, 24, seed=0), MelDataset(clips[:6], labels[:6], 24, train=False))  # noqa: E731
    cfg = tiny_config(epochs=4, patience=4, ema_decay=0.9)
    averaged_model = tiny_crnn(0, dropout=0.1)
    averaged = fit(averaged_model, *sets(), cfg, checkpoint_path=tmp_path / "whole.pt")
    raw_model = tiny_crnn(0, dropout=0.1)
    raw = fit(raw_model, *sets(), tiny_config(epochs=4, patience=4))
    assert not state_equal(averaged_model, raw_model)
    assert not np.allclose(averaged.frame["val_loss"], raw.frame["val_loss"])
    # the returned weights are the ones that scored the best epoch's validation loss
    loss_fn = nn.CrossEntropyLoss()
    loader = training._loader(sets()[1], cfg, False, torch.device("cpu"))
    again = training._evaluate(averaged_model, loader, loss_fn, torch.device("cpu"), cfg, False)["val_loss"]
    assert again == pytest.approx(averaged.frame.loc[averaged.best_epoch - 1, "val_loss"], rel=1e-5)
    reloaded, _, _ = load_checkpoint(tmp_path / "whole.pt", "cpu")
    assert state_equal(reloaded, averaged_model)
    # interrupted in epoch 3 and called again: the average goes on from where it was
    resumed_model, resumed = cut_in_epoch_3_then_resumed(monkeypatch, lambda: tiny_crnn(0, dropout=0.1), sets, cfg,
                                                         tmp_path / "cut.pt")
    columns = [c for c in averaged.frame.columns if c != "seconds"]
    pd.testing.assert_frame_equal(resumed.frame[columns], averaged.frame[columns])
    assert state_equal(resumed_model, averaged_model)
    with pytest.raises(ValueError, match="ema_decay"):
        tiny_config(ema_decay=1.0)


def test_balanced_sampler_draws_every_class_about_equally_and_is_seeded():
    from musicgeo_utils.training import _loader

    labels = np.array([0] * 60 + [1] * 30 + [2] * 10)
    ds = MelDataset([np.zeros((N_MELS, 24), np.float32)] * len(labels), labels, 24)
    cfg = tiny_config(sampler="balanced", batch_size=100)
    drawn = [np.concatenate([y.numpy() for _, y in _loader(ds, cfg, True, torch.device("cpu"),
                                                            torch.Generator().manual_seed(seed))])
             for seed in (0, 0, 1)]
    assert len(drawn[0]) == len(labels)
    np.testing.assert_array_equal(drawn[0], drawn[1])
    assert not np.array_equal(drawn[0], drawn[2])
    counts = np.bincount(np.concatenate([drawn[0], drawn[2]]), minlength=3)
    assert counts.min() > 40 and counts.max() < 95  # about 67 each; unbalanced drawing gives 120 / 60 / 20
    with pytest.raises(ValueError, match="sampler"):
        tiny_config(sampler="uniform")
    with pytest.raises(ValueError, match="lr_schedule"):
        tiny_config(lr_schedule="step")


def test_new_training_settings_leave_earlier_training_keys_alone():
    from musicgeo_utils.training import training_key

    clips, labels = band_clips(6)
    ds = MelDataset(clips, labels, 24)
    base = training_key(tiny_config(), tiny_crnn(), ds, None)
    assert training_key(tiny_config(sampler=None, lr_schedule=None), tiny_crnn(), ds, None) == base
    assert training_key(tiny_config(lr_schedule="cosine"), tiny_crnn(), ds, None) != base
    assert training_key(tiny_config(sampler="balanced"), tiny_crnn(), ds, None) != base
    assert training_key(tiny_config(ema_decay=None), tiny_crnn(), ds, None) == base
    assert training_key(tiny_config(ema_decay=0.99), tiny_crnn(), ds, None) != base
    assert training_key(tiny_config(mixup=None), tiny_crnn(), ds, None) == base
    assert training_key(tiny_config(mixup=0.2), tiny_crnn(), ds, None) != base
    assert training_key(tiny_config(epoch_size=None), tiny_crnn(), ds, None) == base
    assert training_key(tiny_config(epoch_size=4), tiny_crnn(), ds, None) != base
    assert training_key(tiny_config(), tiny_crnn(), MelDataset(clips, labels, 24, alternates=[()] * 6), None) == base
    others = [(clips[0],)] + [()] * 5
    with_others = training_key(tiny_config(), tiny_crnn(), MelDataset(clips, labels, 24, alternates=others), None)
    assert with_others != base
    others[0] = (clips[1],)
    assert training_key(tiny_config(), tiny_crnn(), MelDataset(clips, labels, 24, alternates=others), None) != with_others


def test_epoch_size_draws_that_many_distinct_clips_afresh_each_epoch_and_is_seeded():
    from musicgeo_utils.training import _loader

    labels = np.arange(40) % N_CLASSES
    clips = [np.full((N_MELS, 24), i, np.float32) for i in range(len(labels))]  # each clip names itself
    ds = MelDataset(clips, labels, 24)

    def epochs(cfg, seed, n=2):
        generator = torch.Generator().manual_seed(seed)
        loader = _loader(ds, cfg, True, torch.device("cpu"), generator)
        return [np.concatenate([x[:, 0, 0, 0].numpy() for x, _ in loader]).astype(int) for _ in range(n)]

    first, second = epochs(tiny_config(epoch_size=15), 0)
    assert len(first) == len(second) == 15 and len(set(first)) == 15  # without replacement
    assert set(first) != set(second)  # another draw each epoch
    np.testing.assert_array_equal(epochs(tiny_config(epoch_size=15), 0)[0], first)
    assert not np.array_equal(epochs(tiny_config(epoch_size=15), 1)[0], first)
    assert sorted(epochs(tiny_config(epoch_size=100), 0)[0]) == list(range(40))  # larger than the set: every clip once
    balanced = epochs(tiny_config(epoch_size=15, sampler="balanced"), 0)[0]
    assert len(balanced) == 15
    for bad in (0, -3, 2.5, True):
        with pytest.raises(ValueError, match="epoch_size"):
            tiny_config(epoch_size=bad)
    history = fit(tiny_crnn(), ds, None, tiny_config(epoch_size=9, epochs=2))  # 9 of the 40 clips an epoch
    assert len(history.frame) == 2


def test_mixup_mixes_inputs_and_loss_alike_and_is_seeded():
    from musicgeo_utils.training import train_step

    with pytest.raises(ValueError, match="mixup"):
        tiny_config(mixup=0.0)
    with pytest.raises(ValueError, match="mixup"):
        tiny_config(task="regress", mixup=0.2)
    seen = []

    class Probe(nn.Module):  # records its input; the outputs depend on it linearly
        def __init__(self):
            super().__init__()
            self.w = nn.Parameter(torch.ones(2))

        def forward(self, x):
            seen.append(x.clone())
            return x.flatten(1)[:, :2] * self.w

    x, y = torch.tensor([[1.0, 0.0], [0.0, 1.0]]), torch.tensor([0, 1])
    probe, loss_fn = Probe(), nn.CrossEntropyLoss()
    loss, _ = train_step(probe, x, y, loss_fn, torch.optim.SGD(probe.parameters(), lr=0.0),
                         torch.amp.GradScaler("cpu", enabled=False), False, mix=(0.7, torch.tensor([1, 0])))
    mixed = torch.tensor([[0.7, 0.3], [0.3, 0.7]])
    assert torch.allclose(seen[0], mixed)
    expected = 0.7 * loss_fn(mixed, y) + 0.3 * loss_fn(mixed, y[[1, 0]])
    assert loss == pytest.approx(float(expected))
    model_a, hist_a = fit_tiny(0, mixup=0.2)
    model_b, hist_b = fit_tiny(0, mixup=0.2)
    model_c, _ = fit_tiny(0)
    assert state_equal(model_a, model_b) and hist_a.frame["train_loss"].equals(hist_b.frame["train_loss"])
    assert not state_equal(model_a, model_c)


def test_fit_learns_and_sets_normalisation_from_training_set():
    clips, labels = band_clips(24)
    model = tiny_crnn()
    history = fit(model, MelDataset(clips, labels, 24), MelDataset(clips, labels, 24, False),
                  tiny_config(epochs=8))
    assert bool(model.normalizer.fitted)
    mean, _ = mel_normalization_stats(MelDataset(clips, labels, 24))
    np.testing.assert_allclose(model.normalizer.mean.numpy(), mean)
    assert history.frame["train_loss"].iloc[-1] < history.frame["train_loss"].iloc[0]
    assert history.frame["val_accuracy"].max() > 0.8  # the bands are easy to tell apart


def test_early_stopping_stops_and_restores_the_best_weights():
    clips, labels = band_clips(24)
    swapped = (labels + 1) % N_CLASSES  # learning the training rule hurts validation
    train_ds = MelDataset(clips, labels, 24)
    val_ds = MelDataset(clips, swapped, 24, train=False)
    cfg = tiny_config(epochs=30, patience=2)
    model = tiny_crnn()
    history = fit(model, train_ds, val_ds, cfg)
    assert history.stopped_early
    assert len(history.frame) == history.best_epoch + cfg.patience < cfg.epochs
    assert history.best_score == history.frame["val_loss"].min()
    logits, _ = predict(model, val_ds, batch_size=7)
    restored = nn.functional.cross_entropy(torch.from_numpy(logits), torch.from_numpy(swapped))
    assert float(restored) == pytest.approx(history.best_score, rel=1e-5)


def test_early_stopping_on_macro_f1_keeps_the_best_f1():
    _, history = fit_tiny(0, epochs=6, patience=2, monitor="val_macro_f1")
    assert history.monitor == "val_macro_f1"
    assert history.best_score == history.frame["val_macro_f1"].max()


def test_fit_refuses_targets_of_the_wrong_kind():
    clips, _ = band_clips(4)
    with pytest.raises(ValueError, match="integer class labels"):
        fit(tiny_crnn(), MelDataset(clips, np.zeros((4, 2), np.float32), 24), None, tiny_config())


def test_cifarnet_regression_fit_without_validation():
    clips, _ = band_clips(8)
    targets = encode_latlon(np.random.default_rng(0).uniform(-80, 80, size=(8, 2)))
    seed_everything(0)
    history = fit(CifarNet(n_mels=N_MELS), MelDataset(clips, targets, None), None,
                  tiny_config(task="regress", epochs=2, model="cifarnet"))
    assert history.monitor == "train_loss"
    assert history.frame["val_loss"].isna().all() and history.frame["train_accuracy"].isna().all()


# --------------------------------------------------------------------------- checkpoints


@pytest.mark.parametrize("make", [tiny_crnn, lambda: CifarNet(n_mels=N_MELS)])
def test_checkpoint_round_trip_gives_identical_outputs(tmp_path, make):
    clips, labels = band_clips(6)
    model = make()
    model.normalizer.set_stats(np.full(N_MELS, -40.0), np.full(N_MELS, 2.5))
    model.train()(torch.randn(4, N_MELS, 30))  # move the BatchNorm running stats
    cfg = tiny_config(model=type(model).registry_name, model_kwargs=dict(model.hparams))
    path = save_checkpoint(tmp_path / "model.pt", model, cfg,
                           {"classes": ["reel", "jig"], "val_loss": np.float32(0.5)})
    loaded, loaded_cfg, extra = load_checkpoint(path, "cpu")
    ds = MelDataset(clips, labels, 24, train=False)
    out_a, emb_a = predict(model, ds)
    out_b, emb_b = predict(loaded, ds)
    np.testing.assert_array_equal(out_a, out_b)
    np.testing.assert_array_equal(emb_a, emb_b)
    assert loaded_cfg == cfg and extra == {"classes": ["reel", "jig"], "val_loss": 0.5}
    raw = torch.load(path, weights_only=True)
    assert raw["normalization"]["mean"] == [-40.0] * N_MELS
    assert list(tmp_path.iterdir()) == [path]  # no temporary file left behind


def test_fit_writes_a_loadable_best_checkpoint(tmp_path):
    clips, labels = band_clips(12)
    model = tiny_crnn()
    history = fit(model, MelDataset(clips, labels, 24), MelDataset(clips, labels, 24, False),
                  tiny_config(), checkpoint_path=tmp_path / "best.pt")
    loaded, _, extra = load_checkpoint(tmp_path / "best.pt")
    assert extra["epoch"] == history.best_epoch
    assert extra["history"]["val_loss"] == history.frame["val_loss"].tolist()
    assert state_equal(model, loaded)


@pytest.mark.parametrize("content", [b"not a checkpoint", "truncated", "foreign"])
def test_corrupt_checkpoint_error_names_the_file(tmp_path, content):
    path = tmp_path / "broken_model.pt"
    if content == "truncated":
        save_checkpoint(path, tiny_crnn())
        path.write_bytes(path.read_bytes()[:400])
    elif content == "foreign":
        torch.save({"weights": torch.zeros(3)}, path)
    else:
        path.write_bytes(content)
    with pytest.raises(ValueError, match="broken_model.pt"):
        load_checkpoint(path)


def test_missing_checkpoint_error_names_the_file(tmp_path):
    with pytest.raises(FileNotFoundError, match="absent.pt"):
        load_checkpoint(tmp_path / "absent.pt")


def test_checkpoint_refuses_pickled_objects(tmp_path):
    path = tmp_path / "pickle_bomb.pt"
    # an arbitrary class instance: weights_only must refuse to unpickle it
    payload = {"format": "musicgeo-checkpoint-v1", "obj": datetime.date(2020, 1, 1)}
    torch.save(payload, path)
    with pytest.raises(ValueError, match="pickle_bomb.pt"):
        load_checkpoint(path)
    with pytest.raises(TypeError, match="plain data"):
        save_checkpoint(tmp_path / "x.pt", tiny_crnn(), extra={"obj": object()})
    assert not (tmp_path / "x.pt").exists()


# --------------------------------------------------------------------------- inference


def test_predict_averages_several_evaluation_crops():
    clips, labels = band_clips(5)
    model = tiny_crnn().eval()
    multi = MelDataset(clips, labels, 16, train=False, eval_crops=3)
    out, emb = predict(model, multi, batch_size=2)
    for i in range(5):
        crops, _ = multi[i]
        with torch.no_grad():
            np.testing.assert_allclose(out[i], model(crops).mean(dim=0).numpy(), rtol=1e-5,
                                       atol=1e-6)
            np.testing.assert_allclose(emb[i], model.embed(crops).mean(dim=0).numpy(),
                                       rtol=1e-5, atol=1e-6)


