import dataclasses

import numpy as np
import pytest
import torch

from latentzip.errors import DataError
from latentzip.splats.cameras import look_at
from latentzip.splats.gaussians import Gaussians
from latentzip.splats.raster import (
    SH_C0,
    gaussian_tensors,
    rasterise,
    render,
    render_dense,
    render_numpy,
    sh_to_colour,
)


def scene(n=8, degree=3, seed=0, max_opacity=0.35):
    """Opacities <= 0.35: beyond 3 sigma alpha < 0.35 exp(-4.5) < 1/255, which both
    renderers drop, so the 3-sigma cut-off of the fast one changes nothing."""
    rng = np.random.default_rng(seed)
    opacity = rng.uniform(0.05, max_opacity, n)
    return Gaussians(
        means=rng.uniform(-0.5, 0.5, (n, 3)),
        log_scales=np.log(rng.uniform(0.05, 0.25, (n, 3))),
        rotations=rng.normal(size=(n, 4)),
        opacity_logits=np.log(opacity / (1 - opacity)),
        sh=rng.normal(scale=0.4, size=(n, (degree + 1) ** 2, 3)),
    )


def camera(size=16, eye=(0.4, -0.3, -3.0), name="cam"):
    return look_at(eye, [0, 0, 0], [0, -1, 0], width=size, height=size, fov_deg=40, name=name)


@pytest.mark.parametrize("degree", [0, 1, 2, 3])
def test_fast_matches_dense_reference(degree):
    g = scene(degree=degree, seed=degree)
    cam = camera()
    fast = render(g, cam, background=(0.1, 0.2, 0.3))
    dense = render_dense(g, cam, background=(0.1, 0.2, 0.3))
    assert fast.shape == (16, 16, 3)
    assert float((fast - dense).abs().max()) < 1e-3
    assert float(dense.std()) > 0.01  # the scene is visible, not all background


def test_batched_views_match_single_views():
    g = scene()
    cams = [camera(eye=(x, -0.3, -3.0), name=f"c{i}") for i, x in enumerate((-1.0, 0.0, 1.0))]
    batch = rasterise(g, cams).colour
    for i, cam in enumerate(cams):
        torch.testing.assert_close(batch[i], render(g, cam), atol=1e-6, rtol=0)


def test_dense_composite_by_hand_for_one_gaussian():
    # one Gaussian straight ahead, degree 0: centre pixel alpha = opacity exactly
    g = Gaussians(
        means=np.zeros((1, 3)),
        log_scales=np.log(np.full((1, 3), 0.2)),
        rotations=np.array([[1.0, 0, 0, 0]]),
        opacity_logits=np.array([0.0]),  # opacity 0.5
        sh=np.array([[[0.3, 0.1, -0.2]]]),
    )
    cam = look_at([0, 0, -3], [0, 0, 0], [0, -1, 0], width=15, height=15, fov_deg=40)
    img = render_numpy(g, cam, background=(1.0, 1.0, 1.0))
    colour = np.clip(SH_C0 * np.array([0.3, 0.1, -0.2]) + 0.5, 0, None)
    np.testing.assert_allclose(img[7, 7], 0.5 * colour + 0.5 * 1.0, atol=1e-5)
    np.testing.assert_allclose(img[0, 0], [1.0, 1.0, 1.0], atol=1e-6)  # far corner


def test_sh_degree_one_against_formula():
    sh = torch.tensor([[[0.1, 0.2, 0.3], [0.5, 0.0, 0.0], [0.0, 0.5, 0.0], [0.0, 0.0, 0.5]]])
    d = torch.tensor([[0.6, 0.0, 0.8]])
    c1 = 0.4886025119029199
    expected = SH_C0 * sh[0, 0] + c1 * (-0.0 * sh[0, 1] + 0.8 * sh[0, 2] - 0.6 * sh[0, 3]) + 0.5
    torch.testing.assert_close(sh_to_colour(sh, d)[0], expected.clamp(min=0))


def test_gradients_match_finite_differences():
    g = scene(n=3, degree=1, seed=3)
    cam = camera(size=8)
    params = {k: v.double().requires_grad_() for k, v in gaussian_tensors(g).items()}
    names = list(params)

    def f(*tensors):
        return render(dict(zip(names, tensors, strict=True)), cam, background=(0.2, 0.1, 0.3))

    assert torch.autograd.gradcheck(f, tuple(params.values()), eps=1e-6, atol=1e-5, rtol=1e-3)


def test_render_accepts_tensor_dicts_and_checks_shapes():
    g = scene()
    cam = camera()
    t = {k: v.clone() for k, v in gaussian_tensors(g).items()}
    np.testing.assert_array_equal(render(t, cam).numpy(), render_numpy(g, cam))
    t["means"] = t["means"][:, :2]
    with pytest.raises(DataError, match="means"):
        render(t, cam)
    with pytest.raises(DataError, match="fields"):
        render({"means": torch.zeros(1, 3)}, cam)


def test_behind_the_camera_is_not_drawn():
    g = scene()
    cam = look_at([0, 0, 3], [0, 0, 6], [0, -1, 0], width=16, height=16, fov_deg=40)
    img = render_numpy(g, cam, background=(0.25, 0.5, 0.75))
    np.testing.assert_allclose(img, np.broadcast_to([0.25, 0.5, 0.75], img.shape), atol=1e-6)


def test_downsampled_camera_renders_the_box_filtered_image():
    g = scene(n=12, degree=0, seed=5)
    cam = camera(size=64)
    full = render_numpy(g, cam)
    for factor in (2, 4):
        small = cam.downsampled(factor)
        pooled = full.reshape(64 // factor, factor, 64 // factor, factor, 3).mean(axis=(1, 3))
        err = np.abs(render_numpy(g, small) - pooled).mean()
        # not equal (the splats are re-filtered on the coarser grid), but aligned: the naive
        # principal point c / factor (off by (factor - 1) / 2 small pixels) does clearly worse
        k = cam.K.copy()
        k[:2] /= factor
        naive = dataclasses.replace(small, K=np.vstack([k[:2], [0, 0, 1]]))
        assert err < 0.01
        assert err < 0.75 * np.abs(render_numpy(g, naive) - pooled).mean(), factor
