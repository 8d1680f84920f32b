"""Dense CRF (Krähenbühl & Koltun 2011) and CRF-as-RNN (Zheng et al. 2015) against naive loops and autograd."""

from __future__ import annotations

import math

import pytest
import torch

from course_lib.layers.crf import CRFasRNN, DenseCRF
from course_lib.ops.crf import (
    EXACT_MAX_PIXELS,
    crf_energy,
    crf_messages,
    dense_crf,
    mean_field_free_energy,
    mean_field_step,
    potts,
)

PARAMS = {"theta_alpha": 2.0, "theta_beta": 0.5, "theta_gamma": 1.5, "w_appearance": 1.5, "w_smoothness": 0.7}
THETAS = {k: PARAMS[k] for k in ("theta_alpha", "theta_beta", "theta_gamma")}


def _problem(
    h: int = 3, w: int = 4, labels: int = 3, channels: int = 2, batch: int = 2, seed: int = 0, dtype=torch.float64
):
    g = torch.Generator().manual_seed(seed)
    unary = torch.randn(batch, labels, h, w, generator=g, dtype=dtype)
    image = torch.rand(batch, channels, h, w, generator=g, dtype=dtype)
    return unary, image


def _naive_kernel(image, b, i, j, w_img):
    """k(f_i, f_j) for pixels i, j (row-major indices) of image b, summed over the two kernels, weighted."""
    (yi, xi), (yj, xj) = divmod(i, w_img), divmod(j, w_img)
    d_pos = (yi - yj) ** 2 + (xi - xj) ** 2
    d_int = sum((image[b, c].flatten()[i] - image[b, c].flatten()[j]).item() ** 2 for c in range(image.shape[1]))
    app = math.exp(-d_pos / (2 * PARAMS["theta_alpha"] ** 2) - d_int / (2 * PARAMS["theta_beta"] ** 2))
    smooth = math.exp(-d_pos / (2 * PARAMS["theta_gamma"] ** 2))
    return PARAMS["w_appearance"] * app + PARAMS["w_smoothness"] * smooth


def test_zero_iterations_return_the_softmax_of_minus_the_unaries():
    unary, image = _problem()
    torch.testing.assert_close(dense_crf(unary, image, 0, **PARAMS), torch.softmax(-unary, 1))


def test_mean_field_agrees_with_a_naive_double_loop():
    unary, image = _problem()
    bsz, n_labels, h, w = unary.shape
    n = h * w
    u = unary.flatten(2)
    q = torch.softmax(-u, 1).tolist()
    for _ in range(2):  # Algorithm 1 of the paper, pixel by pixel, Potts: penalty for every other label
        new = [[[0.0] * n for _ in range(n_labels)] for _ in range(bsz)]
        for b in range(bsz):
            for i in range(n):
                scores = []
                for lab in range(n_labels):
                    penalty = sum(
                        _naive_kernel(image, b, i, j, w) * q[b][other][j]
                        for j in range(n)
                        if j != i
                        for other in range(n_labels)
                        if other != lab
                    )
                    scores.append(-u[b, lab, i].item() - penalty)
                z = sum(math.exp(s) for s in scores)
                for lab in range(n_labels):
                    new[b][lab][i] = math.exp(scores[lab]) / z
        q = new
    expected = torch.tensor(q, dtype=torch.float64).view_as(unary)
    torch.testing.assert_close(dense_crf(unary, image, 2, method="exact", **PARAMS), expected)


def test_energy_agrees_with_a_naive_sum_over_pairs():
    unary, image = _problem(seed=1)
    labels = torch.randint(0, 3, (2, 3, 4), generator=torch.Generator().manual_seed(1))
    w = unary.shape[3]
    expected = []
    for b in range(2):
        x = labels[b].flatten().tolist()
        e = sum(unary[b, x[i], i // w, i % w].item() for i in range(12))
        e += sum(_naive_kernel(image, b, i, j, w) for i in range(12) for j in range(i + 1, 12) if x[i] != x[j])
        expected.append(e)
    torch.testing.assert_close(crf_energy(labels, unary, image, **PARAMS), torch.tensor(expected, dtype=torch.float64))


def test_free_energy_and_the_energy_of_the_argmax_decrease_over_iterations():
    g = torch.Generator().manual_seed(0)
    image = torch.zeros(1, 1, 8, 8, dtype=torch.float64)
    image[..., 2:6, 2:6] = 1.0
    truth = image[:, 0].long()
    noise = torch.randn(1, 2, 8, 8, generator=g, dtype=torch.float64)
    noisy = 3.0 * torch.nn.functional.one_hot(truth, 2).permute(0, 3, 1, 2) + 2.5 * noise
    unary = -torch.log_softmax(noisy, 1)  # a square, noisy unaries
    params = {"theta_alpha": 3.0, "theta_beta": 0.3, "theta_gamma": 1.0, "w_appearance": 0.5, "w_smoothness": 0.2}
    qs = [dense_crf(unary, image, t, **params) for t in range(6)]
    free = torch.stack([mean_field_free_energy(q, unary, image, **params) for q in qs]).squeeze(1)
    energy = torch.stack([crf_energy(q.argmax(1), unary, image, **params) for q in qs]).squeeze(1)
    assert (free.diff() < 1e-9).all(), free
    assert energy[-1] < energy[0] and (energy.diff() < 1e-9).all(), energy
    assert (qs[-1].argmax(1) == truth).float().mean() > (qs[0].argmax(1) == truth).float().mean()


@pytest.mark.parametrize("size", [16, 24])
def test_the_grid_approximation_is_close_to_the_exact_messages(size):
    g = torch.Generator().manual_seed(size)
    image = torch.rand(2, 1, size, size, generator=g)
    q = torch.softmax(torch.randn(2, 3, size, size, generator=g), 1)
    exact = crf_messages(image, **THETAS, method="exact")(q)
    approx = crf_messages(image, **THETAS, method="approx")(q)
    rel = [((a - e).norm() / e.norm()).item() for a, e in zip(approx, exact)]
    assert rel[0] < 0.06 and rel[1] < 1e-4, rel  # appearance (grid, cell = 0.5 sd), smoothness (separable)
    approx, exact = (dense_crf(-q.log(), image, 5, **PARAMS, method=m) for m in ("approx", "exact"))
    assert (approx - exact).abs().mean() < 0.01  # marginals after 5 iterations; near-ties may flip a few pixels
    assert (approx.argmax(1) == exact.argmax(1)).float().mean() > 0.98


def test_auto_is_exact_on_small_images_and_approximate_above_the_threshold():
    unary, image = _problem(4, 4, dtype=torch.float32)
    torch.testing.assert_close(
        dense_crf(unary, image, 3, **PARAMS), dense_crf(unary, image, 3, method="exact", **PARAMS)
    )
    side = math.isqrt(EXACT_MAX_PIXELS) + 1
    unary, image = _problem(side, side, batch=1, dtype=torch.float32)
    torch.testing.assert_close(
        dense_crf(unary, image, 2, **PARAMS), dense_crf(unary, image, 2, method="approx", **PARAMS)
    )


def test_gradcheck_of_one_mean_field_iteration():
    unary, image = _problem(3, 3, labels=2, channels=1, batch=1)
    unary.requires_grad_(), image.requires_grad_()
    q0 = torch.softmax(-unary.detach(), 1).requires_grad_()

    def step(q, u, im, method):
        return mean_field_step(q, u, crf_messages(im, **THETAS, method=method), potts(2, dtype=u.dtype), 1.5, 0.7)

    assert torch.autograd.gradcheck(lambda q, u, im: step(q, u, im, "exact"), (q0, unary, image))
    assert torch.autograd.gradcheck(lambda q, u: step(q, u, image.detach(), "approx"), (q0, unary))


def test_dense_crf_runs_on_the_device(device):
    unary, image = _problem(5, 6, dtype=torch.float32)
    for method in ("exact", "approx"):
        out = dense_crf(unary.to(device), image.to(device), 3, method=method, **PARAMS)
        assert out.device.type == device.type
        torch.testing.assert_close(out.cpu(), dense_crf(unary, image, 3, method=method, **PARAMS), atol=1e-5, rtol=1e-4)


def test_a_float32_image_with_float64_unaries():
    unary, image = _problem()
    torch.testing.assert_close(dense_crf(unary, image.float(), 2, **PARAMS), dense_crf(unary, image, 2, **PARAMS))


def test_bad_shapes_and_methods_raise():
    unary, image = _problem()
    with pytest.raises(ValueError, match="differ"):
        dense_crf(unary, image[..., :3])
    with pytest.raises(ValueError, match="method"):
        dense_crf(unary, image, method="lattice")


def test_the_layers_equal_mean_field_with_their_initial_parameters(device):
    unary, image = _problem(4, 5, dtype=torch.float32)
    logits, image = (-unary).to(device), image.to(device)
    expected = dense_crf(-logits, image, 4, **PARAMS)
    rnn = CRFasRNN(3, 4, **PARAMS).to(device)
    torch.testing.assert_close(torch.softmax(rnn(logits, image), 1), expected)
    torch.testing.assert_close(torch.softmax(DenseCRF(4, **PARAMS)(logits, image), 1), expected)
    assert "iterations=4" in repr(rnn)


def test_crf_as_rnn_gradients_reach_the_unaries_and_the_parameters(device):
    unary, image = _problem(4, 4, dtype=torch.float32)
    logits = (-unary).to(device).requires_grad_()
    rnn = CRFasRNN(3, 3, **PARAMS).to(device)
    target = torch.randint(0, 3, (2, 4, 4), generator=torch.Generator().manual_seed(0)).to(device)
    loss = torch.nn.functional.cross_entropy(rnn(logits, image.to(device)), target)
    grads = torch.autograd.grad(loss, [logits, rnn.w_appearance, rnn.w_smoothness, rnn.compat])
    assert all(torch.isfinite(g).all() and g.abs().sum() > 0 for g in grads)
    assert grads[3].shape == (3, 3)


def test_the_benchmark_reports_times_and_the_approximation_error():
    from course_lib.tools.bench_crf import bench, format_table

    rows = bench(torch.device("cpu"), [8, 12], repeats=1, exact_max=8)
    assert rows[0]["exact_iter_ms"] > 0 and 0 <= rows[0]["message_rel_error"] < 0.2
    assert "exact_iter_ms" not in rows[1] and rows[1]["approx_iter_ms"] > 0
    table = format_table(rows)
    assert table.count("\n") == 3 and "| 12 | 144 | - | - |" in table


def test_an_fcn_with_crf_as_rnn_trains_end_to_end_through_the_engine():
    from course_lib.engine import train_step
    from course_lib.layers.crf import CRFSegmenter
    from course_lib.models.vision.segmentation import FCNSegmenter

    torch.manual_seed(0)
    image = torch.zeros(4, 1, 16, 16)
    image[:, :, 4:12, 3:10] = 1.0
    target = image[:, 0].long()
    crf = CRFasRNN(2, 3, theta_alpha=3.0, theta_beta=0.3, theta_gamma=1.0, w_appearance=1.0, w_smoothness=0.5)
    model = CRFSegmenter(FCNSegmenter(2, 2, width=4, n_stages=3), crf)
    optimizer = torch.optim.Adam(model.parameters(), lr=0.02)
    compat0 = crf.compat.detach().clone()
    losses = [train_step(model, image, target, optimizer)[0].item() for _ in range(15)]
    assert losses[-1] < 0.7 * losses[0]
    assert not torch.equal(crf.compat.detach(), compat0)  # the compatibility is learned with the network
