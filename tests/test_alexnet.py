"""course_lib.models.classic.alexnet: the lecture's numbers, ablations, options, grouped convolutions, LRN."""

import pytest
import torch

from course_lib.models import ABLATIONS, IMAGENET, SMALL, AlexNet
from course_lib.utils import count_parameters
from course_lib.viz import summary


def test_alexnet_matches_the_lecture_numbers():
    s = summary(AlexNet(), (1, 3, 227, 227))
    conv1 = s["features.conv1"]
    assert conv1.output_shape == (96, 55, 55) and 55 * 55 * 96 == 290_400
    assert conv1.params == 96 * (11 * 11 * 3 + 1) == 34_944  # 364 weights per filter
    assert s.total_params == count_parameters(AlexNet()) == 60_965_224  # ~60M, two-GPU grouping
    assert count_parameters(AlexNet(groups=1)) == 62_378_344
    neurons = sum(int(torch.tensor(r.output_shape).prod()) for r in s.rows if r.kind in ("Conv2d", "Linear"))
    assert neurons == 659_272  # "~650k neurons"
    assert s["features.pool5"].output_shape == (256, 6, 6)
    assert s.total_mult_adds == pytest.approx(724e6, rel=0.01)


@pytest.mark.parametrize("name", list(ABLATIONS))
def test_every_ablation_builds_and_runs_on_both_sizes(name, device):
    for spec, channels, size in [(IMAGENET, 3, 227), (SMALL, 1, 64), (SMALL, 1, 60)]:
        model = AlexNet(spec, num_classes=10, in_channels=channels, remove=ABLATIONS[name], input_size=size).to(device)
        out = model(torch.randn(2, channels, size, size, device=device))
        assert out.shape == (2, 10)
        for layer in ABLATIONS[name]:
            assert not hasattr(model.features, layer) and not hasattr(model.classifier, layer)
        assert summary(model, (1, channels, size, size)).total_params == count_parameters(model)


def test_alexnet_options_and_errors():
    assert not any(isinstance(m, torch.nn.LocalResponseNorm) for m in AlexNet(SMALL, lrn=False).modules())
    pools = [m for m in AlexNet(SMALL, overlap_pool=False).modules() if isinstance(m, torch.nn.MaxPool2d)]
    assert all(p.kernel_size == 2 for p in pools)
    assert any(isinstance(m, torch.nn.BatchNorm2d) for m in AlexNet(SMALL, batchnorm=True).modules())
    names = [
        n for n, _ in AlexNet(SMALL).classifier.named_children()
    ]  # dropout on fc6's and fc7's outputs, as in the paper
    assert names == ["flatten", "fc6", "relu6", "drop6", "fc7", "relu7", "drop7", "fc8"]
    assert not any(isinstance(m, torch.nn.Dropout) for m in AlexNet(SMALL, remove=("fc6", "fc7")).modules())
    with pytest.raises(ValueError, match="can only remove"):
        AlexNet(remove=("conv1",))
    with pytest.raises(ValueError, match="too small"):
        AlexNet(IMAGENET, input_size=40)


def test_alexnet_groups_split_the_papers_layers_or_raise():
    """Section 3.5 of the paper: conv2, conv4 and conv5 are split over the two GPUs, conv1 and conv3 are not."""

    def groups(model):
        return {n: m.groups for n, m in model.features.named_children() if isinstance(m, torch.nn.Conv2d)}

    paper = {"conv1": 1, "conv2": 2, "conv3": 1, "conv4": 2, "conv5": 2}
    assert groups(AlexNet()) == groups(AlexNet(groups=2)) == paper
    assert set(groups(AlexNet(groups=1)).values()) == {1}
    assert groups(AlexNet(SMALL, in_channels=1, groups=2)) == paper  # honoured on the small topology too
    assert groups(AlexNet(remove=("conv3", "conv4"))) == {"conv1": 1, "conv2": 2, "conv5": 2}
    # one parameter count by hand: conv2 with 2 groups holds 256 * (96 / 2) * 5 * 5 weights
    assert sum(p.numel() for p in AlexNet().features.conv2.parameters()) == 256 * 48 * 25 + 256
    with pytest.raises(ValueError, match="conv2 cannot be split in 5 groups"):
        AlexNet(groups=5)  # 96 and 256 channels are not multiples of 5: no silent fallback to one group
    with pytest.raises(ValueError, match="conv2 cannot be split in 3 groups"):
        AlexNet(SMALL, in_channels=1, groups=3)  # 24 inputs but 64 outputs


def test_alexnet_lrn_is_the_papers_equation():
    """Krizhevsky et al. 2012, section 3.3: b_i = a_i / (k + alpha * sum_{j=i-2}^{i+2} a_j^2)^beta, k=2, alpha=1e-4."""
    lrn = AlexNet(SMALL).features.norm1
    a = torch.rand(2, 24, 4, 4, dtype=torch.float64) * 30  # large activations, so the normalization matters
    ref = torch.empty_like(a)
    for i in range(24):
        s = (a[:, max(0, i - 2) : min(24, i + 3)] ** 2).sum(1)
        ref[:, i] = a[:, i] / (2.0 + 1e-4 * s) ** 0.75
    assert torch.allclose(lrn(a), ref)
