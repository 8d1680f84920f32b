"""course_lib.data.synthetic.cluttered: cluttered MNIST canvases with distractors."""

import pytest
import torch

from course_lib.data import load_mnist, make_cluttered_mnist


@pytest.fixture(scope="module")
def mnist_test():
    return load_mnist(train=False, normalize=False)


def test_cluttered_mnist_is_deterministic_and_well_formed(mnist_test, device):
    x, y = mnist_test[0][:2000].to(device), mnist_test[1][:2000].to(device)
    a = make_cluttered_mnist(x, y, 300, canvas=60, n_distractors=4, seed=5)
    b = make_cluttered_mnist(x, y, 300, canvas=60, n_distractors=4, seed=5)
    c = make_cluttered_mnist(x, y, 300, canvas=60, n_distractors=4, seed=6)
    assert torch.equal(a.images, b.images) and torch.equal(a.labels, b.labels) and torch.equal(a.boxes, b.boxes)
    assert not torch.equal(a.images, c.images)
    assert a.images.shape == (300, 1, 60, 60) and a.images.device.type == device.type
    assert 0.0 <= float(a.images.min()) and float(a.images.max()) <= 1.0
    assert torch.equal(a.labels, y[a.source])
    x1, y1, x2, y2 = a.boxes.unbind(1)
    assert bool(((0 <= x1) & (x1 < x2) & (x2 <= 60) & (0 <= y1) & (y1 < y2) & (y2 <= 60)).all())
    # the digit's ink is on the canvas inside its box: the box crop holds at least the digit's mass
    for i in range(0, 300, 37):
        crop = a.images[i, 0, int(y1[i]) : int(y2[i]), int(x1[i]) : int(x2[i])]
        assert float(crop.sum()) >= float(x[a.source[i]].sum()) - 1e-3


def test_cluttered_mnist_without_distractors_is_the_digit(mnist_test):
    x, y = mnist_test[0][:50], mnist_test[1][:50]
    d = make_cluttered_mnist(x, y, 20, canvas=40, n_distractors=0, seed=0)
    assert torch.allclose(d.images.flatten(1).sum(1), x[d.source].flatten(1).sum(1))
    with pytest.raises(ValueError, match="0, 1"):
        make_cluttered_mnist(x * 3 - 1, y, 5)
    with pytest.raises(ValueError, match="canvas"):
        make_cluttered_mnist(x, y, 5, canvas=20)


def test_cluttered_mnist_zoom_is_the_same_scene_at_a_higher_resolution(mnist_test):
    x, y = mnist_test[0][:200], mnist_test[1][:200]
    base = make_cluttered_mnist(x, y, 30, canvas=57, n_distractors=4, seed=3)
    zoomed = make_cluttered_mnist(x, y, 30, canvas=57, n_distractors=4, zoom=2, seed=3)
    assert zoomed.images.shape == (30, 1, 114, 114)
    assert torch.equal(zoomed.labels, base.labels) and torch.equal(zoomed.boxes, 2 * base.boxes)
    # averaging each 2x2 block gives the scene back (bilinear upsampling by 2 is its near inverse)
    back = torch.nn.functional.avg_pool2d(zoomed.images, 2)
    assert float((back - base.images).abs().mean()) < 0.03
    assert 0.0 <= float(zoomed.images.min()) and float(zoomed.images.max()) <= 1.0
    with pytest.raises(ValueError, match="zoom"):
        make_cluttered_mnist(x, y, 5, zoom=0)
