"""Class activation maps (Zhou et al. 2016), the FCN whose 1x1 classifier makes them, and the largest connected
component of the CAM paper's box recipe (against a naive flood fill)."""

from __future__ import annotations

import matplotlib.pyplot as plt
import numpy as np
import pytest
import torch
from torch import nn

from course_lib.layers import GlobalAvgPool2d, GlobalMaxPool2d, WildcatPool2d
from course_lib.models import FCN
from course_lib.ops import class_activation_maps
from course_lib.ops.cam import largest_component
from course_lib.viz import show_cam


@pytest.mark.parametrize("seed", [0, 1])
def test_cam_is_the_linear_layer_at_every_position(device, seed):
    g = torch.Generator().manual_seed(seed)
    f = torch.randn(2, 6, 3, 4, generator=g).to(device)
    lin = nn.Linear(6, 5).to(device)
    cam = class_activation_maps(f, lin.weight, lin.bias)
    naive = torch.zeros(2, 5, 3, 4, device=device)
    for c in range(5):  # M_c(x, y) = sum_d w_cd f_d(x, y) + b_c, written out
        for d in range(6):
            naive[:, c] += lin.weight[c, d] * f[:, d]
        naive[:, c] += lin.bias[c]
    torch.testing.assert_close(cam, naive)
    # Zhou et al.'s identity: GAP then linear == linear then GAP (the CAM's mean is the logit)
    torch.testing.assert_close(cam.mean(dim=(2, 3)), lin(f.mean(dim=(2, 3))))
    up = class_activation_maps(f, lin.weight.view(5, 6, 1, 1), size=(12, 16))
    assert up.shape == (2, 5, 12, 16)
    with pytest.raises(ValueError, match="does not match the 6 feature channels"):
        class_activation_maps(f, torch.zeros(5, 7))


def test_fcn_maps_are_cams_with_gap(device):
    torch.manual_seed(0)
    model = FCN(10, width=8, pool=GlobalAvgPool2d()).to(device).eval()
    x = torch.randn(3, 1, 48, 48, device=device)
    maps = model.maps(x)
    assert maps.shape == (3, 10, 12, 12)  # stride 4
    with torch.no_grad():
        cam = class_activation_maps(model.features(x), model.classifier.weight, model.classifier.bias)
    torch.testing.assert_close(cam, maps)
    torch.testing.assert_close(model(x), maps.mean(dim=(2, 3)))
    wild = FCN(10, width=8, pool=WildcatPool2d(2, 2, 0.6), maps_per_class=4).to(device).eval()
    assert wild.classifier.out_channels == 40 and wild.maps(x).shape == (3, 10, 12, 12) and wild(x).shape == (3, 10)
    assert FCN(3, width=4, pool=GlobalMaxPool2d())(torch.randn(2, 1, 32, 32)).shape == (2, 3)


def test_show_cam_draws():
    ax = show_cam(torch.rand(1, 16, 16), torch.rand(4, 4), boxes=torch.tensor([[1.0, 2.0, 8.0, 9.0]]), title="cam")
    assert len(ax.images) == 2 and len(ax.patches) == 1 and ax.get_title() == "cam"
    plt.close("all")


def _flood_fill_largest(mask: np.ndarray, connectivity: int) -> np.ndarray:
    """The largest component by a naive breadth-first flood fill (ties: the first met in raster order)."""
    h, w = mask.shape
    steps = [(-1, 0), (1, 0), (0, -1), (0, 1)] + ([(-1, -1), (-1, 1), (1, -1), (1, 1)] if connectivity == 8 else [])
    seen = np.zeros_like(mask)
    best: list[tuple[int, int]] = []
    for y0 in range(h):
        for x0 in range(w):
            if not mask[y0, x0] or seen[y0, x0]:
                continue
            comp, todo = [], [(y0, x0)]
            seen[y0, x0] = True
            while todo:
                y, x = todo.pop()
                comp.append((y, x))
                for dy, dx in steps:
                    v, u = y + dy, x + dx
                    if 0 <= v < h and 0 <= u < w and mask[v, u] and not seen[v, u]:
                        seen[v, u] = True
                        todo.append((v, u))
            if len(comp) > len(best):
                best = comp
    out = np.zeros_like(mask)
    for y, x in best:
        out[y, x] = True
    return out


@pytest.mark.parametrize("connectivity", [4, 8])
@pytest.mark.parametrize("density", [0.3, 0.55, 0.8])
def test_largest_component_matches_a_flood_fill(device, connectivity, density):
    g = torch.Generator().manual_seed(int(100 * density) + connectivity)
    mask = torch.rand(6, 17, 23, generator=g) < density
    mask[0] = False  # an empty map stays empty
    mask[1] = True  # a full one is one component
    big = largest_component(mask.to(device), connectivity)
    assert big.device == mask.to(device).device and big.dtype == torch.bool
    for i in range(len(mask)):
        np.testing.assert_array_equal(big[i].cpu().numpy(), _flood_fill_largest(mask[i].numpy(), connectivity))
    # a tie: two components of 2 pixels, the first in raster order wins
    tie = torch.zeros(1, 4, 4, dtype=torch.bool)
    tie[0, 3, 0:2] = tie[0, 0, 2:4] = True
    assert largest_component(tie)[0].nonzero().tolist() == [[0, 2], [0, 3]]
    with pytest.raises(ValueError, match=r"expected masks \(P, H, W\) and connectivity 4 or 8"):
        largest_component(torch.zeros(4, 4, dtype=torch.bool))
    with pytest.raises(ValueError, match=r"expected masks \(P, H, W\) and connectivity 4 or 8"):
        largest_component(torch.zeros(1, 4, 4, dtype=torch.bool), connectivity=6)
