import matplotlib.pyplot as plt
import numpy as np
import pytest
import torch

from course_lib import History
from course_lib.methods import BagOfVisualWords, extract_patches
from course_lib.methods.bag_of_words import COATES_EPSILON, normalize_patches
from course_lib.metrics import accuracy, error_rate
from course_lib.viz import bar_table, plot_confusion, plot_history, show_filters, show_images


def test_extract_patches_matches_a_naive_loop():
    x = torch.rand(2, 1, 10, 10)
    p = extract_patches(x, 4, 3)  # 3 x 3 positions
    assert p.shape == (2, 9, 16)
    k = 0
    for i in range(0, 7, 3):
        for j in range(0, 7, 3):
            assert torch.equal(p[1, k], x[1, 0, i : i + 4, j : j + 4].flatten())
            k += 1


def test_bag_of_words_histograms():
    torch.manual_seed(0)
    x = torch.rand(40, 1, 16, 16) * (torch.rand(40, 1, 1, 1) > 0.2)
    bow = BagOfVisualWords(n_words=8, patch_size=4, stride=2, pyramid=(1, 2), n_fit_patches=500)
    f = bow.fit_transform(x)
    assert f.shape == (40, 8 * 5) == (40, bow.dim)
    assert np.allclose(np.linalg.norm(f, axis=1), 1.0, atol=1e-5)
    words = bow.encode(x)
    assert words.shape == (40, 7, 7) and int(words.max()) < 8
    # level-1 histogram (before sqrt/L2) is the word count of the image
    counts = np.bincount(words[0].flatten().numpy(), minlength=8) / 49
    lvl1 = f[0, :8] ** 2 / (f[0, :8] ** 2).sum() * counts.sum()
    assert np.allclose(lvl1, counts / counts.sum() * counts.sum(), atol=1e-5)
    with pytest.raises(RuntimeError, match="fit"):
        BagOfVisualWords(4).transform(x)
    with pytest.raises(ValueError, match="n_words must be >= 2"):
        BagOfVisualWords(1)


def test_contrast_normalization_lifts_low_contrast_patches():
    g = torch.Generator().manual_seed(0)
    stroke = (torch.rand(50, 49, generator=g) > 0.6).float()  # 50 binary 7x7 patches
    for contrast in (1.0, 0.2, 0.05):  # down to a faint stroke (std about 0.025)
        p = normalize_patches(0.1 + contrast * stroke)
        torch.testing.assert_close(p.mean(1), torch.zeros(50), atol=1e-6, rtol=0)  # brightness removed
        assert float(p.std(1).min()) > 0.8  # contrast normalized: the faint stroke is not left near zero (eps 1: 0.02)
    eps = COATES_EPSILON  # Coates et al. 2011's 10 for [0, 255] pixels, in [0, 1] units
    assert eps == pytest.approx(10 / 255**2)
    faint = 0.1 + 0.05 * stroke
    expected = (faint - faint.mean(1, keepdim=True)) / (faint.var(1, keepdim=True) + eps).sqrt()
    torch.testing.assert_close(BagOfVisualWords._normalize(faint), expected)  # what the bag of words uses
    flat = normalize_patches(torch.full((3, 49), 0.7))  # a flat patch stays flat: eps keeps rounding noise small
    torch.testing.assert_close(flat, torch.zeros(3, 49), atol=1e-4, rtol=0)
    # the same strokes drawn faintly or strongly fall on the same visual words (with an epsilon of 1: 89%)
    x = torch.zeros(30, 1, 16, 16)
    x[:, :, 4:12, 6:9] = torch.rand(30, 1, 8, 3, generator=g)
    bow = BagOfVisualWords(n_words=6, patch_size=4, stride=2, n_fit_patches=2000, min_patch_energy=0.01).fit(x)
    ink = extract_patches(x, 4, 2).std(-1).view(30, 7, 7) > 0
    assert float((bow.encode(0.15 * x) == bow.encode(x))[ink].float().mean()) > 0.97


def test_accuracy_and_error_rate():
    logits = torch.tensor([[2.0, 1.0], [0.0, 3.0], [1.0, 0.0]])
    y = torch.tensor([0, 1, 1])
    assert accuracy(logits, y) == pytest.approx(2 / 3)
    assert error_rate(logits.argmax(1), y) == pytest.approx(1 / 3)
    with pytest.raises(ValueError, match="differ in shape"):
        accuracy(torch.tensor([1, 2]), torch.tensor([1]))


def test_plots_return_figures():
    h = History([1, 2], [1.0, 0.5], [0.5, 0.8], [1.1, 0.6], [0.4, 0.7], [1.0, 1.0], [10, 10])
    figs = [
        show_images(torch.rand(5, 1, 8, 8), labels=[0, 1, 2, 3, 4], preds=[0, 1, 2, 3, 3]),
        plot_history({"a": h, "b": h}),
        plot_confusion(torch.tensor([0, 1, 1]), torch.tensor([0, 1, 0])),
        show_filters(torch.randn(6, 1, 5, 5)),
    ]
    assert all(len(f.axes) > 0 for f in figs)
    ax = bar_table({"a": 1.0, "b": 2.0})
    assert len(ax.patches) == 2
    with pytest.raises(ValueError, match=r"expected weights \(out, 1 or 3, k, k\)"):
        show_filters(torch.randn(6, 2, 5, 5))
    plt.close("all")
