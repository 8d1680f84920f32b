"""Target datasets of notebook 04: sizes, labels, value ranges, determinism, easy-VQA shape labels."""

from __future__ import annotations

import pytest
import torch

from course_lib.data import MissingDataError, easy_vqa_shapes, mnist_classes, mnist_heldout, sklearn_digits
from course_lib.data.targets import SHAPES, shape_labels, shapes_to_mnist_look


def _mnist_or_skip():
    try:
        return mnist_heldout(n_test_per_class=30, seed=0)
    except MissingDataError:
        pytest.skip("MNIST is not in COURSE_DATA_DIR")


def test_mnist_heldout_relabels_new_classes_and_subsets_are_seeded():
    task = _mnist_or_skip()
    assert task.classes == ("5", "6", "7", "8", "9") and task.distance == "near"
    assert task.x_pool.shape[1:] == (1, 28, 28) and 0 <= float(task.x_pool.min()) and float(task.x_pool.max()) <= 1
    assert len(task.x_pool) == 29_404  # MNIST training digits 5-9
    assert torch.equal(torch.bincount(task.y_test), torch.full((5,), 30))
    x, y = task.subset(4, seed=3)
    assert x.shape == (20, 1, 28, 28) and torch.equal(torch.bincount(y), torch.full((5,), 4))
    x2, _ = task.subset(4, seed=3)
    x3, _ = task.subset(4, seed=4)
    assert torch.equal(x, x2) and not torch.equal(x, x3)
    with pytest.raises(ValueError, match="n_per_class"):
        task.subset(10_000)
    source = mnist_classes((0, 1, 2, 3, 4), n_test_per_class=10)
    assert len(source.x_pool) == 60_000 - 29_404
    with pytest.raises(ValueError, match="distinct digits"):
        mnist_classes((1, 1))


def test_sklearn_digits_in_mnist_layout_with_disjoint_split():
    task, other = sklearn_digits(n_pool_per_class=100, seed=0), sklearn_digits(seed=1)
    assert task.x_pool.shape == (1000, 1, 28, 28) and task.x_test.shape == (797, 1, 28, 28)
    assert torch.equal(torch.bincount(task.y_pool), torch.full((10,), 100))
    # the 4-pixel frame of MNIST's layout is empty; the digit fills the central 20x20
    assert float(task.x_pool[..., :4, :].abs().max()) == 0 and float(task.x_pool[..., 4:24, 4:24].max()) > 0.9
    assert float(task.x_pool.min()) >= 0 and float(task.x_pool.max()) <= 1
    # pool and test are disjoint: together they hold all 1,797 images, each exactly once
    from sklearn.datasets import load_digits

    per_digit = torch.bincount(torch.as_tensor(load_digits().target))
    assert torch.equal(torch.bincount(task.y_pool) + torch.bincount(task.y_test), per_digit)
    rows = torch.cat([task.x_pool, task.x_test]).flatten(1)
    assert torch.equal(
        torch.unique(rows, dim=0), torch.unique(torch.cat([other.x_pool, other.x_test]).flatten(1), dim=0)
    )
    assert not torch.equal(task.x_pool, other.x_pool)  # another split of the same images
    assert torch.equal(task.y_pool, sklearn_digits(seed=0).y_pool)
    with pytest.raises(ValueError, match="no test image"):
        sklearn_digits(n_pool_per_class=200)


def test_shape_labels_from_questions_and_answers():
    qs = [
        "what shape is in the image?",
        "is there a triangle?",
        "is there not a circle?",
        "is no rectangle present?",
        "does the image contain a circle?",
        "is there a red shape?",
    ]
    ans = ["rectangle", "no", "yes", "yes", "yes", "yes"]
    ids = [0, 1, 1, 1, 2, 3]
    labels = shape_labels(qs, ans, ids)
    assert labels[0] == SHAPES.index("rectangle")
    assert 1 not in labels  # all three shapes declared absent: left out
    assert labels[2] == SHAPES.index("circle")
    assert 3 not in labels  # a colour question says nothing about the shape
    two_absent = shape_labels(["is there a triangle?", "is there not a circle?"], ["no", "yes"], [5, 5])
    assert two_absent == {5: SHAPES.index("rectangle")}
    contradiction = shape_labels(["what shape is this?", "is there a circle?"], ["circle", "no"], [7, 7])
    assert contradiction == {}


def test_shapes_to_mnist_look_is_white_on_black():
    rgb = torch.full((2, 3, 64, 64), 0.9)
    rgb[0, :, 20:40, 20:40] = torch.tensor([0.1, 0.2, 0.8]).view(3, 1, 1)  # a blue square
    rgb[1, :, 10:30, 30:50] = torch.tensor([0.9, 0.9, 0.2]).view(3, 1, 1)  # a yellow square (low grey contrast)
    out = shapes_to_mnist_look(rgb, size=28)
    assert out.shape == (2, 1, 28, 28)
    assert float(out[:, :, :3].max()) == 0.0  # background -> 0
    assert float(out[0, 0, 13, 13]) == pytest.approx(1.0) and float(out[1, 0, 8, 17]) == pytest.approx(1.0)
    with pytest.raises(ValueError, match="colour images"):
        shapes_to_mnist_look(torch.rand(2, 1, 64, 64))


def test_easy_vqa_shapes_sizes_labels_and_determinism():
    task = easy_vqa_shapes(n_pool_per_class=20, n_test_per_class=10, seed=0)
    assert task.classes == SHAPES and task.distance == "far"
    assert task.x_pool.shape == (60, 1, 28, 28) and task.x_test.shape == (30, 1, 28, 28)
    assert torch.equal(torch.bincount(task.y_pool), torch.full((3,), 20))
    assert float(task.x_pool.min()) >= 0 and float(task.x_pool.max()) <= 1
    assert torch.equal(task.x_pool, easy_vqa_shapes(n_pool_per_class=20, n_test_per_class=10, seed=0).x_pool)
    colour = easy_vqa_shapes(grayscale=False, n_pool_per_class=2, n_test_per_class=2, seed=0)
    assert colour.x_pool.shape == (6, 3, 64, 64)


def test_easy_vqa_shapes_reads_through_the_one_reader_and_names_the_fix(monkeypatch):
    """The transfer task reads the package as load_easy_vqa does: a missing package or image is a MissingDataError."""
    import builtins

    from course_lib.data.real.easy_vqa import read_images

    real_import = builtins.__import__

    def no_easy_vqa(name, *args, **kwargs):
        if name == "easy_vqa":
            raise ImportError(name)
        return real_import(name, *args, **kwargs)

    with monkeypatch.context() as m:
        m.setattr(builtins, "__import__", no_easy_vqa)
        with pytest.raises(MissingDataError, match="pip install easy-vqa"):
            easy_vqa_shapes(n_pool_per_class=1, n_test_per_class=1)
    with pytest.raises(MissingDataError, match=r"images \[7\] are missing"):
        read_images({1: "unused.png"}, [1, 7])
    assert read_images({}, []).shape == (0, 3, 64, 64)
