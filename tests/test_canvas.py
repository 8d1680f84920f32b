"""Boxes on the pixel canvas (ops.canvas): window index triplets against slicing, tight boxes against torchvision."""

from __future__ import annotations

import pytest
import torch
from torchvision.ops import masks_to_boxes

from course_lib.ops import ink_boxes, map_to_box, window_indices


@pytest.mark.parametrize("seed", [0, 1, 2])
def test_window_indices_cut_and_paste_equal_slicing(seed, device):
    g = torch.Generator().manual_seed(seed)
    images = torch.rand(5, 13, 11, generator=g).to(device)
    h, w = 4, 6
    top = torch.randint(0, 13 - h + 1, (5,), generator=g).to(device)
    left = torch.randint(0, 11 - w + 1, (5,), generator=g).to(device)
    win = window_indices(top, left, h, w)
    assert all(t.shape == (5, h, w) and t.dtype == torch.int64 for t in win)
    cut = images[win]
    pasted = images.clone()
    pasted[win] = -1.0
    for i in range(5):
        t, l_ = int(top[i]), int(left[i])
        assert torch.equal(cut[i], images[i, t : t + h, l_ : l_ + w])  # a naive slice per image
        expected = images[i].clone()
        expected[t : t + h, l_ : l_ + w] = -1.0
        assert torch.equal(pasted[i], expected)
    channels_last = torch.rand(5, 13, 11, 3, generator=g).to(device)
    assert torch.equal(
        channels_last[win][2], channels_last[2, int(top[2]) : int(top[2]) + h, int(left[2]) : int(left[2]) + w]
    )
    with pytest.raises(ValueError, match="top and left"):
        window_indices(top, left[:3], h, w)


@pytest.mark.parametrize("seed", [0, 1, 2])
def test_ink_boxes_match_torchvision_masks_to_boxes(seed, device):
    g = torch.Generator().manual_seed(seed)
    masks = torch.rand(6, 9, 14, generator=g) > 0.97
    masks[0] = False
    masks[1, 4, 7] = True  # at least one single-pixel box
    masks = masks.to(device)
    boxes = ink_boxes(masks)
    assert boxes.dtype == torch.int64 and boxes.shape == (6, 4)
    nonempty = masks.flatten(1).any(1)
    ref = masks_to_boxes(masks[nonempty]).long() + torch.tensor([0, 0, 1, 1], device=device)  # inclusive -> exclusive
    assert torch.equal(boxes[nonempty], ref)
    assert torch.equal(boxes[0], torch.zeros(4, dtype=torch.long, device=device))  # an empty mask: the empty box
    with pytest.raises(ValueError, match="N, H, W"):
        ink_boxes(masks[0])


def test_map_to_box_is_the_ink_box_of_the_thresholded_map(device):
    maps = torch.zeros(2, 8, 10, device=device)
    maps[0, 2:5, 3:9] = 1.0
    maps[1, 6, 1] = 5.0
    maps[1, 1, 8] = 2.0  # 0.4 of the range: below a threshold of 0.5
    assert torch.equal(map_to_box(maps, 0.5), torch.tensor([[3.0, 2, 9, 5], [1, 6, 2, 7]], device=device))
    assert torch.equal(map_to_box(maps, 0.3)[1], torch.tensor([1.0, 1, 9, 7], device=device))
