"""Spatial transformers (course_lib.models.stn) and the RTS cluttered MNIST generator: the lecture's theta examples."""

import math

import pytest
import torch
import torch.nn.functional as F
from torchvision.transforms import InterpolationMode
from torchvision.transforms.v2 import functional as TF

from course_lib.data import make_rts_cluttered_mnist, place_on_canvas
from course_lib.models import STN, ConvNet, LocalisationNet
from course_lib.ops import make_theta, transform


def _ramp(b: int, h: int, w: int, device, dtype=torch.float32):
    """f(x, y) = 1 + 2x - 3y on the normalized pixel centres: bilinear sampling of a linear image is exact."""
    ys = (torch.arange(h, device=device, dtype=dtype) * 2 + 1) / h - 1
    xs = (torch.arange(w, device=device, dtype=dtype) * 2 + 1) / w - 1
    gy, gx = torch.meshgrid(ys, xs, indexing="ij")
    return (1 + 2 * gx - 3 * gy).expand(b, 1, h, w).clone(), gx, gy


@pytest.mark.parametrize("seed", [0, 1, 2])
def test_identity_leaves_the_image_unchanged(seed, device):
    x = torch.rand(3, 2, 12, 17, generator=torch.Generator().manual_seed(seed)).to(device)
    eye = torch.tensor([[1.0, 0, 0], [0, 1, 0]], device=device)
    torch.testing.assert_close(transform(x, eye), x, atol=1e-5, rtol=0)
    torch.testing.assert_close(make_theta(device=device), eye)


@pytest.mark.parametrize("angle", [45.0, -30.0, 90.0])
def test_rotation_matches_torchvision_rotate(angle, device):
    x = torch.rand(4, 1, 20, 20, generator=torch.Generator().manual_seed(3)).to(device)
    ours = transform(x, make_theta(angle, device=device))
    ref = TF.rotate(x, angle, interpolation=InterpolationMode.BILINEAR)
    torch.testing.assert_close(ours, ref, atol=1e-5, rtol=0)


def test_rotation_by_90_degrees_is_rot90(device):
    x = torch.rand(2, 1, 8, 8, device=device)
    torch.testing.assert_close(
        transform(x, make_theta(90.0, device=device)), torch.rot90(x, 1, (2, 3)), atol=1e-5, rtol=0
    )


def test_45_degree_rotation_hand_computed_pixels(device):
    """theta = [[c, -s, 0], [s, c, 0]], c = s = 1/sqrt(2): the output at (x, y) reads the input at (c x - s y, s x + c y)."""
    img, gx, gy = _ramp(1, 16, 16, device)
    out = transform(img, make_theta(45.0, device=device))[0, 0]
    c = s = math.sqrt(0.5)
    xs, ys = c * gx - s * gy, s * gx + c * gy
    expected = 1 + 2 * xs - 3 * ys
    inside = (xs.abs() < 1 - 1 / 16) & (ys.abs() < 1 - 1 / 16)  # away from the zero padding
    torch.testing.assert_close(out[inside], expected[inside], atol=1e-5, rtol=0)
    # one pixel by hand: the output pixel at row 8, col 12 (x = 9/16, y = 1/16) reads (x', y') = (c/2, 5c/8)
    assert float(out[8, 12]) == pytest.approx(1 + 2 * (c / 2) - 3 * (5 * c / 8), abs=1e-5)


def test_zoom_in_shows_the_centre_magnified(device):
    x = torch.rand(2, 1, 8, 8, device=device)
    out = transform(x, make_theta(scale=0.5, device=device))  # [[.5, 0, 0], [0, .5, 0]]
    ref = F.interpolate(x[..., 2:6, 2:6], scale_factor=2, mode="bilinear", align_corners=False)
    torch.testing.assert_close(
        out[..., 1:7, 1:7], ref[..., 1:7, 1:7], atol=1e-5, rtol=0
    )  # interpolate clamps at the edges


def test_zoom_out_shrinks_into_the_centre(device):
    x = torch.rand(2, 1, 8, 8, device=device)
    out = transform(x, make_theta(scale=2.0, device=device))  # [[2, 0, 0], [0, 2, 0]]
    torch.testing.assert_close(out[..., 2:6, 2:6], F.avg_pool2d(x, 2), atol=1e-5, rtol=0)
    ring = torch.ones(8, 8, dtype=torch.bool, device=device)
    ring[2:6, 2:6] = False
    assert float(out[..., ring].abs().max()) == 0.0  # zeros outside


def test_translation_and_out_size(device):
    x = torch.rand(1, 1, 16, 16, device=device)
    # the output's centre reads the input's point (0.5, -0.5): an 8x8 window on the top-right quadrant
    out = transform(x, make_theta(scale=0.5, translate=(0.5, -0.5), device=device), out_size=8)
    torch.testing.assert_close(out, x[..., 0:8, 8:16], atol=1e-5, rtol=0)
    with pytest.raises(ValueError, match="theta"):
        transform(x, torch.zeros(2, 2, 3, device=device))
    with pytest.raises(ValueError, match="B, C, H, W"):
        transform(x[0], make_theta(device=device))


def test_batched_make_theta():
    th = make_theta(torch.tensor([0.0, 90.0]), torch.tensor([1.0, 2.0]), torch.tensor([[0.1, 0.2], [0.0, 0.0]]))
    assert th.shape == (2, 2, 3)
    torch.testing.assert_close(th[1], torch.tensor([[0.0, -2.0, 0.0], [2.0, 0.0, 0.0]]), atol=1e-6, rtol=0)
    torch.testing.assert_close(th[0, :, 2], torch.tensor([0.1, 0.2]))


def test_make_theta_broadcasts_scalars_with_batched_arguments():
    shifts = torch.tensor([[0.1, 0.2], [-0.3, 0.0], [0.5, -0.5]])
    th = make_theta(0.0, 1.0, shifts)  # scalar angle and scale, one translation per image
    assert th.shape == (3, 2, 3)
    torch.testing.assert_close(th[:, :, :2], torch.eye(2).expand(3, 2, 2))
    torch.testing.assert_close(th[:, :, 2], shifts)
    th = make_theta(torch.tensor([0.0, 90.0]), 0.5, (0.1, -0.1))  # batched angle, scalar scale and shift
    torch.testing.assert_close(th[1], torch.tensor([[0.0, -0.5, 0.1], [0.5, 0.0, -0.1]]), atol=1e-6, rtol=0)
    angles, scales = [10.0, 20.0, 30.0], [1.0, 0.8, 1.2]
    batched = make_theta(torch.tensor(angles), torch.tensor(scales), shifts)
    for i, (a, s, t) in enumerate(zip(angles, scales, shifts.tolist())):  # each row equals its own scalar call
        torch.testing.assert_close(batched[i], make_theta(a, s, tuple(t)))
    with pytest.raises(ValueError, match="translate"):
        make_theta(0.0, 1.0, (0.1, 0.2, 0.3))


def test_transform_moves_theta_to_the_images_device():
    x = torch.zeros(2, 1, 8, 8, device="meta")  # images elsewhere than the CPU theta (meta: shapes only)
    out = transform(x, make_theta(30.0), out_size=5)
    assert out.device.type == "meta" and out.shape == (2, 1, 5, 5)
    assert transform(x, make_theta(0.0, 1.0, torch.zeros(2, 2))).device.type == "meta"


def test_gradients_flow_to_theta_float64(device):
    torch.manual_seed(0)
    x = torch.rand(2, 1, 6, 6, dtype=torch.float64, device=device)
    theta = (
        make_theta(20.0, 0.8, (0.1, -0.05), device=device).double() + 0.01 * torch.randn(2, 3, device=device).double()
    )
    theta = theta.expand(2, 2, 3).clone().requires_grad_(True)
    assert torch.autograd.gradcheck(lambda t: transform(x, t, 5), (theta,))


def test_localisation_net_starts_at_identity_and_learns(device):
    torch.manual_seed(0)
    stn = STN(ConvNet(28, channels=(4, 8), hidden=16), input_size=48, out_size=48).to(device)
    x = torch.rand(3, 1, 48, 48, device=device)
    eye = torch.tensor([[1.0, 0, 0], [0, 1, 0]], device=device).expand(3, 2, 3)
    torch.testing.assert_close(stn.theta(x), eye)
    torch.testing.assert_close(stn.canonical(x), x, atol=1e-5, rtol=0)
    stn.out_size = 28
    loss = F.cross_entropy(stn(x), torch.tensor([1, 2, 3], device=device))
    loss.backward()
    last = stn.loc.regressor[-1]
    assert (
        last.weight.grad is not None and float(last.weight.grad.abs().sum()) > 0
    )  # the loss reaches theta's regressor
    assert float(last.bias.grad.abs().sum()) > 0
    assert stn(x).shape == (3, 10)
    with pytest.raises(ValueError, match="too small"):
        LocalisationNet(1, 8)
    with pytest.raises(ValueError, match="multiple of 4"):
        ConvNet(30)


def test_place_on_canvas_and_rts_generator(device):
    g = torch.Generator().manual_seed(0)
    digits = (torch.rand(5, 1, 28, 28, generator=g) > 0.7).float().to(device)
    top, left = torch.tensor([0, 4, 8, 12, 20], device=device), torch.tensor([20, 12, 8, 4, 0], device=device)
    c = place_on_canvas(digits, 48, top, left)
    for i in range(5):
        assert torch.equal(c[i, :, top[i] : top[i] + 28, left[i] : left[i] + 28], digits[i])
    assert torch.equal(c.sum((1, 2, 3)), digits.sum((1, 2, 3)))
    with pytest.raises(ValueError, match="fit inside"):
        place_on_canvas(digits, 48, top + 1, left)

    x = torch.zeros(40, 1, 28, 28, device=device)
    x[:, :, 6:22, 12:16] = 1.0  # vertical bars
    y = torch.arange(40, device=device) % 10
    a = make_rts_cluttered_mnist(x, y, 30, canvas=48, degrees=45, scale=(0.7, 1.2), n_distractors=2, seed=4)
    b = make_rts_cluttered_mnist(x, y, 30, canvas=48, degrees=45, scale=(0.7, 1.2), n_distractors=2, seed=4)
    assert torch.equal(a.images, b.images) and torch.equal(a.angle, b.angle)
    assert a.images.shape == (30, 1, 48, 48) and 0 <= float(a.images.min()) and float(a.images.max()) <= 1
    assert bool((a.angle.abs() <= 45).all()) and bool(((a.scale >= 0.7) & (a.scale <= 1.2)).all())
    assert torch.equal(a.labels, y[a.source])
    # a 4x16 bar turned by a and zoomed by s spans s (4 |cos a| + 16 |sin a|) pixels across: its ink box measures it
    rad = a.angle.double().deg2rad()
    expected = a.scale.double() * (4 * rad.cos().abs() + 16 * rad.sin().abs())
    width = (a.boxes[:, 2] - a.boxes[:, 0]).double()
    assert (
        float((width - expected).abs().max()) <= 2.5
    )  # bilinear edges and the 0.1 ink threshold: about a pixel a side
    assert torch.corrcoef(torch.stack([width, expected]))[0, 1] > 0.95


def test_stn_standardizes_what_the_localisation_net_sees(device):
    torch.manual_seed(0)
    loc = LocalisationNet(1, 32, downsample=1).to(device)
    stn = STN(
        ConvNet(16, channels=(4, 8), hidden=16), loc, input_size=32, out_size=16, input_mean=0.2, input_std=0.5
    ).to(device)
    x = torch.rand(4, 1, 32, 32, device=device)
    torch.testing.assert_close(stn.standardize(x), (x - 0.2) / 0.5)
    with torch.no_grad():
        loc.regressor[-1].weight.normal_()  # theta now depends on the input
        torch.testing.assert_close(stn.theta(x), loc((x - 0.2) / 0.5))
        torch.testing.assert_close(stn.canonical(x), transform(x, loc((x - 0.2) / 0.5), 16))  # samples the raw x
    assert "input_std=0.5" in repr(stn) and set(stn.state_dict()) >= {"input_mean", "input_std"}
    with pytest.raises(ValueError, match="input_std"):
        STN(ConvNet(16), input_size=32, out_size=16, input_std=0.0)


def test_dead_units_counts_channels_that_never_fire(device):
    torch.manual_seed(0)
    loc = LocalisationNet(1, 32, downsample=1, channels=(4, 6), hidden=8).to(device)
    x = torch.rand(5, 1, 32, 32, device=device)
    assert loc.dead_units(x)["tanh"] == 0.0 and loc.dead_units(x)["relu"] < 0.5
    with torch.no_grad():
        conv2 = loc.features[4]
        conv2.weight[:3].zero_()
        conv2.bias[:3].fill_(-1.0)  # three of six channels can never be positive
        loc.regressor[1].weight.zero_()
        loc.regressor[1].bias.fill_(10.0)  # every hidden tanh unit saturated
    d = loc.dead_units(x)
    assert d["relu"] >= 0.5 and d["tanh"] == 1.0


def test_one_affine_grid_path_for_the_stn_and_the_distortions(device):
    """``F.affine_grid`` is called in one place (ops.spatial.transform, the STN's grid generator and sampler); the
    batch distortions of data.transforms.augment warp through it."""
    import re
    from pathlib import Path

    import course_lib
    from course_lib.data.transforms.augment import affine

    sources = {p: p.read_text() for p in Path(course_lib.__file__).parent.rglob("*.py")}
    callers = [p.name for p, src in sources.items() if re.search(r"\bF\.affine_grid\(", src)]
    assert callers == ["spatial.py"], callers
    x = torch.rand(3, 1, 9, 7, device=device)
    shifted = affine(x, translate=(2.0, 0.0), padding_mode="zeros")
    theta = torch.tensor([[1.0, 0.0, -4.0 / 7], [0.0, 1.0, 0.0]], device=device)  # 2 pixels right: read 2/7*2 left
    torch.testing.assert_close(shifted, transform(x, theta))
