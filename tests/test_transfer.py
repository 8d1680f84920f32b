"""Fine-tuning helpers, transfer strategies, SourceCNN and pretrained(): features per layer, freezing, weights errors."""

from __future__ import annotations

import copy
from collections import OrderedDict

import pytest
import torch
from torch import nn
from torch.optim.optimizer import register_optimizer_step_post_hook
from torchvision.models.feature_extraction import create_feature_extractor

from course_lib.data import DeviceLoader
from course_lib.engine import (
    extract_features,
    fit,
    freeze,
    param_groups,
    replace_head,
    set_trainable,
    trainable_parameters,
    unfreeze,
)
from course_lib.methods import linear_probe, train_and_test
from course_lib.models import SourceCNN, WeightsUnavailableError, pretrained, weights_available
from course_lib.models.pretrained import how_to_get_weights, weights_path
from course_lib.models.vision import PROBE_LAYERS
from course_lib.utils import count_parameters

EXPECTED_SHAPES = {  # SourceCNN defaults on 28x28 inputs
    "features.conv1": (8, 28, 28),
    "features.pool1": (8, 14, 14),
    "features.pool2": (16, 7, 7),
    "features.pool3": (32, 3, 3),
    "embed.fc": (64,),
    "embed.relu": (64,),
    "head": (5,),
}


def test_source_cnn_parameter_count_and_bad_input(device):
    m = SourceCNN().to(device)
    # conv 1->8, 8->16, 16->32 (3x3), fc 32*3*3->64, head 64->5
    expected = (9 * 8 + 8) + (72 * 16 + 16) + (144 * 32 + 32) + (288 * 64 + 64) + (64 * 5 + 5)
    assert count_parameters(m) == expected == 24_709
    assert m(torch.rand(3, 1, 28, 28, device=device)).shape == (3, 5)
    assert m.features((torch.rand(2, 1, 56, 40, device=device) - m.mean) / m.std).shape == (
        2,
        32,
        7,
        5,
    )  # fully convolutional
    with pytest.raises(ValueError, match="expected images"):
        m(torch.rand(3, 28, 28, device=device))


@pytest.mark.parametrize("seed", [0, 1])
def test_extract_features_shapes_and_values_match_torchvision(device, seed):
    torch.manual_seed(seed)
    m = SourceCNN().to(device)
    x = torch.rand(7, 1, 28, 28, device=device)
    feats = extract_features(m, x, list(EXPECTED_SHAPES), batch_size=3, flatten=False)
    assert list(feats) == list(EXPECTED_SHAPES)
    for name, shape in EXPECTED_SHAPES.items():
        assert feats[name].shape == (7, *shape), name
    # reference: torchvision's FX feature extractor on the same layers (the input check of forward() is not traceable,
    # so the reference traces the three blocks on the standardized input)
    blocks = nn.Sequential(OrderedDict(features=m.features, embed=m.embed, head=m.head))
    ref = create_feature_extractor(blocks, return_nodes=list(EXPECTED_SHAPES)).eval()
    with torch.no_grad():
        expected = ref((x - m.mean) / m.std)
    for name in EXPECTED_SHAPES:
        torch.testing.assert_close(feats[name], expected[name])
    torch.testing.assert_close(feats["head"], m.eval()(x))
    flat = extract_features(m, x, "features.pool2")
    assert flat["features.pool2"].shape == (7, 16 * 7 * 7)


def test_extract_features_restores_mode_removes_hooks_and_rejects_unknown_layers():
    m = SourceCNN().train()
    extract_features(m, torch.rand(2, 1, 28, 28), PROBE_LAYERS)
    assert m.training
    assert all(not mod._forward_hooks for mod in m.modules())
    with pytest.raises(ValueError, match="unknown layer"):
        extract_features(m, torch.rand(2, 1, 28, 28), ["features.conv9"])


def test_freezing_leaves_frozen_parameters_unchanged_after_a_step(device):
    torch.manual_seed(0)
    m = SourceCNN().to(device)
    freeze(m, "features")
    assert trainable_parameters(m) == count_parameters(m, trainable_only=False) - sum(
        p.numel() for p in m.features.parameters()
    )
    before = copy.deepcopy(m.state_dict())
    opt = torch.optim.SGD([p for p in m.parameters() if p.requires_grad], lr=0.1)
    x, y = torch.rand(16, 1, 28, 28, device=device), torch.randint(0, 5, (16,), device=device)
    fit(m, DeviceLoader(x, y, 8, drop_last=True), steps=2, optimizer=opt, progress=False)
    after = m.state_dict()
    for name in before:
        same = torch.equal(before[name], after[name])
        assert same == name.startswith("features."), name
    unfreeze(m)
    assert trainable_parameters(m) == count_parameters(m, trainable_only=False)
    assert set_trainable(m, ["embed.fc", "head"], False) == 4  # weight + bias of each
    with pytest.raises(ValueError, match="no parameters under"):
        freeze(m, "classifier")


def test_param_groups_give_the_backbone_its_own_learning_rate():
    m = SourceCNN()
    groups = param_groups(m, "head", lr=1e-2, backbone_lr=1e-3)
    assert [g["name"] for g in groups] == ["head", "backbone"]
    assert [g["lr"] for g in groups] == [1e-2, 1e-3]
    assert {id(p) for p in groups[0]["params"]} == {id(m.head.weight), id(m.head.bias)}
    assert sum(p.numel() for g in groups for p in g["params"]) == count_parameters(m)
    # with SGD, one step moves each group by exactly lr * grad
    torch.manual_seed(0)
    opt = torch.optim.SGD(groups)
    before = {n: p.detach().clone() for n, p in m.named_parameters()}
    m(torch.rand(4, 1, 28, 28)).logsumexp(1).sum().backward()
    grads = {n: p.grad.clone() for n, p in m.named_parameters()}
    opt.step()
    for n, p in m.named_parameters():
        lr = 1e-2 if n.startswith("head.") else 1e-3
        torch.testing.assert_close(p.detach(), before[n] - lr * grads[n])
    freeze(m, "features")
    assert all(p.requires_grad for g in param_groups(m, "head", 1e-2) for p in g["params"])
    assert param_groups(m, "head", 1e-2)[1]["lr"] == 1e-2  # backbone_lr=None: same rate
    with pytest.raises(ValueError, match="no trainable parameters"):
        param_groups(m, "classifier", 1e-2)


def test_replace_head_and_train_and_test_count_trained_parameters():
    torch.manual_seed(0)
    m = SourceCNN(5)
    old_fc = m.embed.fc.weight.detach().clone()
    new = replace_head(m, 3)
    assert m.head is new and new.out_features == 3
    torch.testing.assert_close(m.embed.fc.weight, old_fc)
    with pytest.raises(ValueError, match="expected nn"):
        replace_head(m, 3, name="features")
    x, y = torch.rand(12, 1, 28, 28), torch.randint(0, 3, (12,))
    calls = []
    hook = register_optimizer_step_post_hook(lambda *_: calls.append(1))
    try:
        r = train_and_test(m, x, y, x, y, steps=7, lr=1e-3, batch_size=5)  # 2 batches of 5 per pass (drop_last)
    finally:
        hook.remove()
    assert len(calls) == 7  # exactly the asked number of steps, whatever the dataset size
    assert r.trained_params == count_parameters(m) and 0.0 <= r.accuracy <= 1.0 and r.seconds > 0


def test_linear_probe_separates_separable_features_and_checks_shapes():
    g = torch.Generator().manual_seed(0)
    y = torch.arange(60) % 3
    f = torch.randn(60, 5, generator=g) + 4 * nn.functional.one_hot(y, 5).float()
    acc, clf = linear_probe(f[:30], y[:30], f[30:], y[30:])
    assert acc == 1.0 and hasattr(clf, "predict")
    with pytest.raises(ValueError, match="expected features"):
        linear_probe(f[:30], y[:30], f[30:, :4], y[30:])


def test_pretrained_raises_with_instructions_when_weights_are_absent(tmp_path, monkeypatch):
    monkeypatch.setenv("TORCH_HOME", str(tmp_path))  # an empty hub cache

    def no_download(*args, **kwargs):
        raise AssertionError("pretrained() must not try to download when allow_download=False")

    monkeypatch.setattr(torch.hub, "load_state_dict_from_url", no_download)
    assert weights_path("resnet18") == tmp_path / "hub" / "checkpoints" / "resnet18-f37072fd.pth"
    assert not weights_available("resnet18")
    with pytest.raises(WeightsUnavailableError) as err:
        pretrained("resnet18", allow_download=False)
    msg = str(err.value)
    assert "ResNet18_Weights.IMAGENET1K_V1" in msg and str(tmp_path) in msg and "How to get them" in msg
    assert "resnet18-f37072fd.pth" in how_to_get_weights("resnet18")
    with pytest.raises(ValueError, match="unknown torchvision model"):
        pretrained("resnet7")
    with pytest.raises(ValueError, match="no weights"):
        pretrained("resnet18", "IMAGENET22K")


def test_pretrained_turns_a_failed_download_into_weights_unavailable(tmp_path, monkeypatch):
    monkeypatch.setenv("TORCH_HOME", str(tmp_path))

    def offline(*args, **kwargs):
        raise OSError("network is unreachable")

    monkeypatch.setattr(torch.hub, "load_state_dict_from_url", offline)  # no real network access in tests
    with pytest.raises(WeightsUnavailableError, match="download failed: network is unreachable"):
        pretrained("resnet18")


def test_linear_probe_at_equal_dimension_is_pca_then_the_same_classifier():
    from sklearn.decomposition import PCA
    from sklearn.linear_model import LogisticRegression
    from sklearn.preprocessing import StandardScaler

    g = torch.Generator().manual_seed(1)
    y = torch.arange(90) % 3
    f = torch.randn(90, 40, generator=g) + 2 * nn.functional.one_hot(y, 40).float()
    acc, clf = linear_probe(f[:60], y[:60], f[60:], y[60:], n_components=8, seed=0)
    assert [type(s).__name__ for s in clf] == ["PCA", "StandardScaler", "LogisticRegression"]
    assert clf[0].n_components_ == 8 and clf[-1].coef_.shape == (3, 8)
    # reference: the same steps written out with scikit-learn
    pca = PCA(8, random_state=0).fit(f[:60].numpy())
    scaler = StandardScaler().fit(pca.transform(f[:60].numpy()))
    z = lambda a: scaler.transform(pca.transform(a.numpy()))
    ref = LogisticRegression(max_iter=2000).fit(z(f[:60]), y[:60].numpy())
    assert acc == pytest.approx(float((ref.predict(z(f[60:])) == y[60:].numpy()).mean()))
    # a representation no wider than n_components is kept as it is
    acc_narrow, clf_narrow = linear_probe(f[:60, :8], y[:60], f[60:, :8], y[60:], n_components=8)
    assert [type(s).__name__ for s in clf_narrow] == ["StandardScaler", "LogisticRegression"]
    assert acc_narrow == linear_probe(f[:60, :8], y[:60], f[60:, :8], y[60:])[0]
    with pytest.raises(ValueError, match="training examples"):
        linear_probe(f[:6], y[:6], f[60:], y[60:], n_components=20)
