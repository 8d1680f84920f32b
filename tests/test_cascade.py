"""AdaBoost of stumps (methods.boosting), the boosted attentional cascade (methods.cascade) and Haar-like features
(ops.windows) against references: scikit-learn's AdaBoostClassifier of decision stumps, a brute-force stump search,
naive slicing."""

import math

import numpy as np
import pytest
import torch
from sklearn.ensemble import AdaBoostClassifier
from sklearn.tree import DecisionTreeClassifier

from course_lib.methods.boosting import adaboost, fit_stump
from course_lib.methods.cascade import fit_boosted_cascade
from course_lib.ops import integral_image, window_boxes
from course_lib.ops.windows import HAAR_KINDS, HAAR_REGIONS, haar_features


def _toy(seed: int, n: int = 300, f: int = 5):
    rng = np.random.default_rng(seed)
    x = rng.random((n, f)).astype(np.float32)  # scikit-learn's trees work in float32: give both the same values
    y = (x[:, 0] + 0.6 * x[:, 2] + 0.3 * rng.standard_normal(n) > 0.8).astype(int)
    return x, y


@pytest.mark.parametrize("seed", [0, 1, 2])
def test_adaboost_gini_stumps_match_scikit_learn(seed):
    """Discrete AdaBoost (SAMME, the only algorithm of scikit-learn >= 1.8's AdaBoostClassifier) of depth-1 trees."""
    x, y = _toy(seed)
    w0 = np.random.default_rng(seed + 10).random(len(x)) + 0.5
    ref = AdaBoostClassifier(DecisionTreeClassifier(max_depth=1), n_estimators=8, random_state=0).fit(
        x, y, sample_weight=w0
    )
    ours = adaboost(
        torch.from_numpy(x), torch.from_numpy(y).bool(), 8, sample_weight=torch.from_numpy(w0), criterion="gini"
    )
    assert len(ours) == len(ref.estimators_)
    np.testing.assert_allclose(ours.alpha.numpy(), ref.estimator_weights_[: len(ours)], rtol=1e-6)
    assert ours.feature.tolist() == [int(e.tree_.feature[0]) for e in ref.estimators_]
    np.testing.assert_allclose(ours.threshold.numpy(), [e.tree_.threshold[0] for e in ref.estimators_], rtol=1e-6)
    # scikit-learn's binary decision_function is 2 sum_j alpha_j h_j(x) / sum_j alpha_j
    dec = ours.decision(torch.from_numpy(x).double()).numpy() * 2 / float(ours.alpha.sum())
    np.testing.assert_allclose(dec, ref.decision_function(x), atol=1e-9)
    assert ((dec > 0).astype(int) == ref.predict(x)).all()


@pytest.mark.parametrize("seed", [0, 1])
def test_error_stump_is_the_brute_force_minimum(seed):
    x, y = _toy(seed, n=60, f=3)
    w = np.random.default_rng(seed).random(len(x))
    f, t, left, right, err = fit_stump(torch.from_numpy(x), torch.from_numpy(y).bool(), torch.from_numpy(w))
    best = math.inf
    for j in range(x.shape[1]):
        v = np.sort(np.unique(x[:, j]))
        for thr in (v[:-1].astype(np.float64) + v[1:]) / 2:
            for a in (-1, 1):
                for b in (-1, 1):
                    pred = np.where(x[:, j] <= thr, a, b) > 0
                    best = min(best, float(w[pred != y.astype(bool)].sum() / w.sum()))
    assert err == pytest.approx(best, abs=1e-12)
    pred = np.where(x[:, f] <= t, left, right) > 0
    assert float(w[pred != y.astype(bool)].sum() / w.sum()) == pytest.approx(err, abs=1e-12)
    with pytest.raises(ValueError, match="criterion"):
        fit_stump(torch.from_numpy(x), torch.from_numpy(y).bool(), torch.from_numpy(w), criterion="entropy")


def test_adaboost_lowers_the_training_error():
    x, y = _toy(3, n=500)
    xt, yt = torch.from_numpy(x), torch.from_numpy(y).bool()
    errors = [float(((adaboost(xt, yt, r).decision(xt.double()) > 0) != yt).float().mean()) for r in (1, 5, 20)]
    assert errors[2] < errors[0] - 0.03 and errors[1] <= errors[0]
    perfect = adaboost(xt, xt[:, 0] > 0.5, 5)  # separable by one stump: stops at once, with a vote of 1
    assert len(perfect) == 1 and float(perfect.alpha[0]) == 1.0 and int(perfect.feature[0]) == 0


def test_boosted_cascade_keeps_objects_and_bootstraps_negatives():
    g = torch.Generator().manual_seed(0)
    pos = torch.randn(2000, 4, generator=g) + torch.tensor([3.0, 0.0, 2.5, 0.0])
    neg = torch.randn(20000, 4, generator=g)
    casc = fit_boosted_cascade(pos, neg, rounds=(2, 4, 8), keep=0.98, generator=torch.Generator().manual_seed(1))
    alive = casc.keep(pos)
    assert alive.shape == (3, 2000) and bool((alive[1:] <= alive[:-1]).all())
    for s in range(3):  # each stage keeps at least its share of the objects that reached it (more where the few
        # stumps' scores are discrete: the threshold cannot fall between two positives of equal score)
        assert 0.98 ** (s + 1) - 0.005 <= alive[s].float().mean().item()
    assert alive[-1].float().mean().item() < 1.0  # but the thresholds do reject some objects
    bg = casc.keep(neg)[:, :].float().mean(1)
    torch.testing.assert_close(bg.double(), torch.tensor(casc.background_left, dtype=torch.float64))
    assert bool((bg[1:] < bg[:-1]).all()) and float(bg[-1]) < 0.3  # every stage removes background
    assert casc.negatives[1] < len(neg) and casc.negatives[1] == min(
        int(alive[0].sum()), int(20000 * casc.background_left[0])
    )
    with pytest.raises(ValueError, match="keep"):
        fit_boosted_cascade(pos, neg, keep=1.5)


def test_haar_features_equal_naive_rectangle_means(device):
    g = torch.Generator().manual_seed(0)
    x = torch.rand(2, 1, 40, 40, generator=g).to(device)
    boxes = window_boxes(40, 40, 28, 6, device=device)
    f = haar_features(integral_image(x), boxes)
    assert f.shape == (2, len(boxes), 5 * len(HAAR_REGIONS) + 1) and f.dtype == torch.float32
    assert len(HAAR_KINDS) == 5
    for j in (0, 3, len(boxes) - 1):
        x1, y1, x2, y2 = boxes[j].tolist()
        win = x[1, 0, y1:y2, x1:x2].double()  # 28x28
        assert float(f[1, j, 0]) == pytest.approx(float(win.mean()), abs=1e-6)  # window, mean
        assert float(f[1, j, 1]) == pytest.approx(float(win[:, :14].mean() - win[:, 14:].mean()), abs=1e-6)
        assert float(f[1, j, 2]) == pytest.approx(float(win[:14].mean() - win[14:].mean()), abs=1e-6)
        mid = win[:, 9:19].mean() - (win[:, :9].mean() + win[:, 19:].mean()) / 2  # thirds of 28 columns: 9 / 10 / 9
        assert float(f[1, j, 3]) == pytest.approx(float(mid), abs=1e-6)
        q = win[14:, 14:]  # bottom-right quadrant (region 4): top half minus bottom half
        assert float(f[1, j, 5 * 4 + 2]) == pytest.approx(float(q[:7].mean() - q[7:].mean()), abs=1e-6)
        c = win[7:21, 7:21]  # the central half (region 5), its mean
        assert float(f[1, j, 5 * 5]) == pytest.approx(float(c.mean()), abs=1e-6)
    with pytest.raises(ValueError, match="6x6"):
        haar_features(integral_image(x), torch.tensor([[0, 0, 4, 4]], device=device))
