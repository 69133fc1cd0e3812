"""Acceptance 1: the 2-D toy of Träuble et al. (2023)."""

import numpy as np
import pytest

from latentzip.continual.toy import TOY_TASKS, make_toy, plot_toy, run_toy


@pytest.fixture(scope="module")
def toy():
    return run_toy(seed=0, n_per_class=100, grid_size=40)


def test_toy_data():
    x, y = make_toy(50, seed=0)
    assert x.shape == (400, 2) and np.bincount(y).tolist() == [50] * 8
    assert x.min() > 0 and x.max() < 1


@pytest.mark.parametrize("name", ["KV 1x400", "KV 20x20"])
def test_bottleneck_keeps_all_classes(toy, name):
    acc = toy.results[name].accuracy
    assert acc[-1] >= 0.95
    # after task t it knows the 2(t+1) classes seen so far and no more
    assert np.allclose(acc, [0.25, 0.5, 0.75, 1.0], atol=0.05)


@pytest.mark.parametrize("name", ["MLP", "linear"])
def test_baselines_forget_all_but_the_last_task(toy, name):
    result = toy.results[name]
    assert result.accuracy[-1] <= 0.3
    last = result.per_class[-1]
    assert last[list(TOY_TASKS[-1])].min() > 0.9 and np.nanmax(last[:3]) < 0.1


def test_decision_region_plot(toy, tmp_path):
    pytest.importorskip("matplotlib")
    out = plot_toy(toy, tmp_path / "toy.png")
    assert out.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"
    assert len(toy.grid_predictions["KV 20x20"]) == len(TOY_TASKS)
