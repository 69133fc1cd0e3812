"""Co-teaching selection, training behaviour, the quick configuration and the CLI verb."""

from __future__ import annotations

import json

import numpy as np
import pytest
import torch
from conftest import shared_file

from latentzip.cli import main
from latentzip.noisylabels import (
    METHODS,
    Noise,
    TrainConfig,
    coteach,
    coteaching_select,
    load_folder,
    make_split,
    markdown_table,
    run_methods,
    summarise,
    write_json,
)
from latentzip.noisylabels.methods import build
from latentzip.noisylabels.results import MethodResult
from latentzip.noisylabels.train import fit, forget_schedule, set_schedule


@pytest.mark.parametrize("forget_rate", [0.0, 0.25, 0.5, 0.9])
def test_coteaching_selects_exactly_the_smallest_losses(forget_rate):
    g = torch.Generator().manual_seed(0)
    l1, l2 = torch.rand(101, generator=g), torch.rand(101, generator=g)
    keep1, keep2 = coteaching_select(l1, l2, forget_rate)
    n_keep = max(1, int((1 - forget_rate) * 101))
    for loss, keep in ((l1, keep1), (l2, keep2)):
        assert len(keep) == n_keep == len(set(keep.tolist()))
        threshold = sorted(loss.tolist())[n_keep - 1]
        assert set(keep.tolist()) == {i for i, v in enumerate(loss.tolist()) if v <= threshold}


def test_forget_rate_ramps_linearly():
    np.testing.assert_allclose(forget_schedule(0.5, 6, 3), [0, 0.25, 0.5, 0.5, 0.5, 0.5])
    np.testing.assert_allclose(forget_schedule(0.4, 3, 0), [0.4, 0.4, 0.4])


def test_published_schedule_decays_rate_and_momentum_from_forty_percent():
    cfg = TrainConfig.published(epochs=10)
    assert (cfg.hidden, cfg.decay_start, cfg.ramp_epochs) == ((256,), 4, 10)
    opt = torch.optim.Adam(torch.nn.Linear(2, 2).parameters(), lr=cfg.lr)
    rates = [set_schedule(opt, cfg.lr, e, cfg.epochs, cfg.decay_start) for e in range(10)]
    np.testing.assert_allclose(rates, [1e-3] * 4 + [1e-3 * (10 - e) / 6 for e in range(4, 10)])
    assert opt.param_groups[0]["betas"] == (0.1, 0.999)
    set_schedule(opt, cfg.lr, 0, cfg.epochs, None)
    assert opt.param_groups[0]["betas"] == (0.9, 0.999) and opt.param_groups[0]["lr"] == 1e-3


def test_fit_applies_the_schedule():
    (x, y), (xt, yt) = _blobs(200, 0), _blobs(50, 1)
    split = make_split(x, y, xt, yt, Noise("symmetric", 0.2), seed=0)
    cfg = TrainConfig.quick(hidden=(8,), epochs=3, decay_start=1)
    net = build(split, cfg, "none", 0)
    fit(net, split, cfg)
    # the same start and batches at a constant rate end elsewhere
    same = build(split, cfg, "none", 0)
    fit(same, split, TrainConfig.quick(hidden=(8,), epochs=3))
    assert not torch.equal(net.head.weight, same.head.weight)


def test_method_result_round_trips_through_its_dict():
    history = [{"epoch": e + 1, "test_acc": a, "val_acc": a, "pure_ratio": 1.0, "seconds": 1.0}
               for e, a in enumerate(np.linspace(0.1, 0.9, 12))]  # fmt: skip
    r = MethodResult.from_history("ce", 3, history, select_from=2)
    back = MethodResult.from_dict(json.loads(json.dumps(r.to_dict())))
    assert back == r
    assert r.last10_test_acc == pytest.approx(np.linspace(0.1, 0.9, 12)[-10:].mean())


def _blobs(n: int, seed: int):
    """Three well separated classes as 4x4 uint8 images: one bright pattern per class."""
    patterns = np.random.default_rng(99).random((3, 4, 4)) < 0.5
    rng = np.random.default_rng(seed)
    y = rng.integers(0, 3, n)
    x = np.clip(rng.normal(40 + 170 * patterns[y], 30), 0, 255)
    return x.astype(np.uint8), y


def test_coteaching_selects_mostly_clean_labels():
    (x, y), (xt, yt) = _blobs(3000, 0), _blobs(300, 1)
    split = make_split(x, y, xt, yt, Noise("symmetric", 0.4), seed=0)
    cfg = TrainConfig.quick(hidden=(32, 16), epochs=4, ramp_epochs=2, batch_size=32)
    nets = [build(split, cfg, "none", i) for i in (0, 1)]
    stage = coteach(*nets, split, cfg, forget_rate=0.4, seed=0)
    pure = [h["pure_ratio"] for h in stage.history]
    assert pure[0] == pytest.approx(1 - split.actual_noise_rate, abs=0.01)  # tau = 0: all kept
    assert pure[-1] > 0.9  # against 0.6 clean among all samples
    assert stage.history[-1]["test_acc"] > 0.9


def test_quick_configuration_runs_every_method_on_mnist(tmp_path):
    folder = shared_file("mnist/train-labels-idx1-ubyte.gz").parent
    x, y, xt, yt = load_folder(folder)
    split = make_split(x, y, xt, yt, Noise("pairflip", 0.45), seed=0, n_train=1500, n_test=500)
    cfg = TrainConfig.quick(hidden=(64, 32), epochs=3, finetune_epochs=2, batch_size=32)
    results = run_methods(split, cfg, METHODS, seed=0)
    assert [r.method for r in results] == list(METHODS)
    for r in results:
        assert len(r.history) == (5 if "+" in r.method else 3)
        assert r.final_test_acc > 0.3  # ten classes: chance is 0.1
        assert all(0 <= h["pure_ratio"] <= 1 for h in r.history)
    nested = results[METHODS.index("nested")]
    assert all(1 <= h["k"] <= 32 for h in nested.history)
    payload = write_json(tmp_path / "r.json", results, note="quick")
    assert json.loads((tmp_path / "r.json").read_text())["summary"] == payload["summary"]
    assert "nested+coteaching" in markdown_table(summarise(results))


def test_cli_noisy_verb(tmp_path, capsys):
    folder = shared_file("mnist/train-labels-idx1-ubyte.gz").parent
    out, plot = tmp_path / "r.json", tmp_path / "r.png"
    argv = ["noisy", str(folder), "--quick", "--methods", "ce,coteaching", "--epochs", "2"]
    argv += ["--n-train", "1000", "--n-test", "300", "-q", "-o", str(out), "--plot", str(plot)]
    pytest.importorskip("matplotlib")
    assert main(argv) == 0
    assert "| coteaching |" in capsys.readouterr().out
    assert len(json.loads(out.read_text())["runs"]) == 2
    assert plot.stat().st_size > 0
    assert main(argv) == 2  # outputs exist and no --force
    assert main(["noisy", str(folder), "--methods", "ce,magic"]) == 2
    assert main(["noisy", str(folder), "--quick", "--published"]) == 2
    published = ["noisy", str(folder), "--published", "--methods", "ce", "--epochs", "2"]
    published += ["--n-train", "500", "--n-test", "100", "-q", "-o", str(tmp_path / "p.json")]
    assert main(published) == 0
    config = json.loads((tmp_path / "p.json").read_text())["config"]
    assert (config["hidden"], config["epochs"], config["decay_start"]) == ([256], 2, 1)
