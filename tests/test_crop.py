"""course_lib.data.transforms.crop: random crops with padding and flips (notebook 02)."""

import pytest
import torch

from course_lib.data import RandomCrop, random_crop


@pytest.mark.parametrize("padding", [0, 1, 3])
def test_random_crop_matches_a_naive_loop(padding, device):
    x = torch.randn(6, 2, 9, 7, device=device)
    out = random_crop(x, padding, generator=torch.Generator(device=device).manual_seed(3), fill=-1.0)
    g = torch.Generator(device=device).manual_seed(3)
    if padding:
        tops = torch.randint(0, 2 * padding + 1, (6,), generator=g, device=device)
        lefts = torch.randint(0, 2 * padding + 1, (6,), generator=g, device=device)
    else:
        tops = lefts = torch.zeros(6, dtype=torch.long)
    padded = torch.nn.functional.pad(x, (padding,) * 4, value=-1.0)
    for b in range(6):
        t, left = int(tops[b]), int(lefts[b])
        assert torch.equal(out[b], padded[b, :, t : t + 9, left : left + 7])
    assert out.shape == x.shape


def test_random_crop_flips_and_transform(device):
    x = torch.randn(32, 1, 5, 5, device=device)
    out = random_crop(x, 0, flip=True, generator=torch.Generator(device=device).manual_seed(0))
    same = (out == x).flatten(1).all(1)
    mirrored = (out == x.flip(3)).flatten(1).all(1)
    assert bool((same | mirrored).all()) and 0 < int(mirrored.sum()) < 32
    t1, t2 = RandomCrop(2, seed=4), RandomCrop(2, seed=4)
    assert torch.equal(t1(x), t2(x)) and not torch.equal(t1(x), t2(x).flip(0))
    with pytest.raises(ValueError, match="padding"):
        random_crop(x, -1)
    with pytest.raises(ValueError, match="B, C, H, W"):
        random_crop(x[0], 1)
