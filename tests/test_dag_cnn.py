"""DAGCNN is Yang & Ramanan (2015)'s multiscale DAG: the sum over stages of a linear classifier on each stage's
spatially averaged map; with ``multiscale=False`` it is the chain of the same convolutions."""

import pytest
import torch
import torch.nn.functional as F

from course_lib.models import DAGCNN, layer_gradient_norms

STAGES = ((4, 4), (6,), (8, 8))


def reference_scales(model: DAGCNN, x: torch.Tensor) -> list[torch.Tensor]:
    """Each stage's pooled features, written with torch.nn.functional from the model's weights."""
    convs, pooled, k = list(model.convs), [], 0
    for s, group in enumerate(STAGES):
        if s:
            x = F.max_pool2d(x, 2)
        for _ in group:
            x = F.relu(F.conv2d(x, convs[k].weight, convs[k].bias, padding=1))
            k += 1
        pooled.append(F.adaptive_avg_pool2d(x, 1).flatten(1))
    return pooled


def test_dag_sums_a_classifier_per_scale(device) -> None:
    torch.manual_seed(0)
    model = DAGCNN(in_channels=2, num_classes=3, stages=STAGES).to(device)
    x = torch.randn(5, 2, 12, 12, device=device)
    pooled = reference_scales(model, x)
    per_scale = [F.linear(p, head.weight, head.bias) for p, head in zip(pooled, model.heads)]
    torch.testing.assert_close(model.scale_logits(x), torch.stack(per_scale, 1))
    torch.testing.assert_close(model(x), sum(per_scale))


def test_chain_classifies_from_the_last_scale_only(device) -> None:
    torch.manual_seed(0)
    chain = DAGCNN(in_channels=2, num_classes=3, stages=STAGES, multiscale=False).to(device)
    x = torch.randn(5, 2, 12, 12, device=device)
    last = reference_scales(chain, x)[-1]
    assert len(chain.heads) == 1 and chain.scale_logits(x).shape == (5, 1, 3)
    torch.testing.assert_close(chain(x), F.linear(last, chain.heads[0].weight, chain.heads[0].bias))


def test_chain_and_dag_share_their_initial_convolutions() -> None:
    torch.manual_seed(3)
    dag = DAGCNN(stages=STAGES)
    torch.manual_seed(3)
    chain = DAGCNN(stages=STAGES, multiscale=False)
    for a, b in zip(dag.convs, chain.convs, strict=True):
        torch.testing.assert_close(a.weight, b.weight)


def test_dag_gradient_is_the_sum_of_its_paths(device) -> None:
    # back-propagation adds the signals of paths that merge: the first conv's gradient through the sum of the scales
    # is the sum of its gradients through each scale's classifier alone
    torch.manual_seed(1)
    model = DAGCNN(in_channels=1, num_classes=3, stages=STAGES).to(device)
    x = torch.randn(4, 1, 8, 8, device=device)
    w = model.convs[0].weight
    (total,) = torch.autograd.grad(model(x).sum(), w)
    per_path = [torch.autograd.grad(model.scale_logits(x)[:, s].sum(), w)[0] for s in range(len(STAGES))]
    torch.testing.assert_close(total, sum(per_path))


def test_bad_stages_raise() -> None:
    with pytest.raises(ValueError, match="stages"):
        DAGCNN(stages=())
    with pytest.raises(ValueError, match="stages"):
        DAGCNN(stages=((4,), ()))


def test_layer_gradient_norms_reads_the_convolutions(device) -> None:
    torch.manual_seed(2)
    model = DAGCNN(stages=STAGES).to(device)
    x, y = torch.randn(4, 1, 8, 8, device=device), torch.tensor([0, 1, 2, 3], device=device)
    grads = torch.autograd.grad(F.cross_entropy(model(x), y), [c.weight for c in model.convs])
    torch.testing.assert_close(layer_gradient_norms(model, x, y, model.convs), torch.stack([g.norm() for g in grads]))
