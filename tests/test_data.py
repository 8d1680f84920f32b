import math

import pytest
import torch

from course_lib.config import data_dir, repo_root
from course_lib.data import (
    MNIST_MEAN,
    MNIST_STD,
    DeviceLoader,
    MissingDataError,
    RandomDistortion,
    affine,
    elastic,
    load_digits,
    load_mnist,
    load_shakespeare,
    subset_per_class,
)
from course_lib.data.real import SHIPPED, read_shipped


def test_mnist_loads_with_official_statistics():
    x, y = load_mnist(train=False, normalize=False)
    assert x.shape == (10_000, 1, 28, 28) and x.dtype == torch.float32
    assert y.shape == (10_000,) and y.dtype == torch.int64
    assert 0.0 <= float(x.min()) and float(x.max()) <= 1.0
    assert torch.bincount(y).tolist() == [980, 1135, 1032, 1010, 982, 892, 958, 1028, 974, 1009]
    xn, _ = load_mnist(train=False)
    assert torch.allclose(xn, (x - MNIST_MEAN) / MNIST_STD)


def test_mnist_train_split_matches_sources_md():
    x, y = load_mnist(train=True, normalize=False)
    assert x.shape == (60_000, 1, 28, 28)
    assert torch.bincount(y).tolist() == [5923, 6742, 5958, 6131, 5842, 5421, 5918, 6265, 5851, 5949]
    assert abs(float(x.mean()) - 0.13066) < 1e-4 and abs(float(x.std()) - 0.30811) < 1e-4


def test_missing_mnist_error_names_file_checksum_and_remedy(tmp_path):
    with pytest.raises(MissingDataError) as err:
        load_mnist(root=tmp_path)
    msg = str(err.value)
    assert str(tmp_path / "MNIST" / "raw" / "train-images-idx3-ubyte.gz") in msg
    assert SHIPPED["MNIST/raw/train-images-idx3-ubyte"] in msg
    assert "git checkout data/" in msg and "COURSE_DATA_DIR" in msg and "download=True" in msg
    assert isinstance(err.value, FileNotFoundError)


def test_shipped_files_load_with_no_environment_variable(monkeypatch):
    monkeypatch.delenv("COURSE_DATA_DIR", raising=False)
    assert data_dir() == repo_root() / "data"
    for name in SHIPPED:
        assert (data_dir() / f"{name}.gz").is_file() or (data_dir() / name).is_file(), name
    text = load_shakespeare()
    assert len(text) == 1_115_394 and text.startswith("First Citizen:")


@pytest.mark.parametrize("damage", ["truncate", "flip"])
def test_corrupted_or_truncated_file_raises_with_checksum(tmp_path, damage):
    raw = tmp_path / "MNIST" / "raw"
    raw.mkdir(parents=True)
    for split in ("t10k-images-idx3-ubyte", "t10k-labels-idx1-ubyte"):
        (raw / f"{split}.gz").write_bytes((data_dir() / "MNIST" / "raw" / f"{split}.gz").read_bytes())
    assert load_mnist(train=False, root=tmp_path)[1].shape == (10_000,)  # an intact copy loads
    target = raw / "t10k-labels-idx1-ubyte.gz"
    blob = bytearray(target.read_bytes())
    if damage == "truncate":
        blob = blob[: len(blob) // 2]
    else:  # same length, one byte of the payload changed: gzip's CRC or the sha256 catches it
        blob[len(blob) // 2] ^= 0xFF
    target.write_bytes(bytes(blob))
    with pytest.raises(MissingDataError) as err:
        load_mnist(train=False, root=tmp_path)
    assert str(target) in str(err.value) and SHIPPED["MNIST/raw/t10k-labels-idx1-ubyte"] in str(err.value)
    assert "git checkout data/" in str(err.value)


def test_uncompressed_copy_passes_the_same_check(tmp_path):
    raw = tmp_path / "MNIST" / "raw"
    raw.mkdir(parents=True)
    for split in ("t10k-images-idx3-ubyte", "t10k-labels-idx1-ubyte"):
        (raw / split).write_bytes(read_shipped(f"MNIST/raw/{split}"))
    x, y = load_mnist(train=False, root=tmp_path, normalize=False)
    x0, y0 = load_mnist(train=False, normalize=False)
    assert torch.equal(x, x0) and torch.equal(y, y0)


def test_load_digits_is_the_sklearn_set():
    x, y = load_digits()
    assert x.shape == (1797, 1, 8, 8) and y.shape == (1797,)
    assert float(x.min()) == 0.0 and float(x.max()) == 1.0
    assert set(y.tolist()) == set(range(10))


def test_device_loader_yields_each_sample_once_per_epoch_in_new_order(device):
    x = torch.arange(103, dtype=torch.float32).view(-1, 1)
    loader = DeviceLoader(x, torch.arange(103), batch_size=10, device=device, seed=0)
    assert len(loader) == 11 and loader.num_samples == 103
    epochs = []
    for _ in range(2):
        seen = torch.cat([yb for _, yb in loader])
        assert seen.device.type == device.type
        assert sorted(seen.tolist()) == list(range(103))
        epochs.append(seen.cpu())
    assert not torch.equal(epochs[0], epochs[1])
    for xb, yb in loader:
        assert torch.equal(xb.flatten().long(), yb)


def test_device_loader_order_is_seeded_and_drop_last_and_no_shuffle():
    x, y = torch.randn(50, 3), torch.arange(50)
    a = [yb for _, yb in DeviceLoader(x, y, 8, seed=3)]
    b = [yb for _, yb in DeviceLoader(x, y, 8, seed=3)]
    assert all(torch.equal(p, q) for p, q in zip(a, b))
    dl = DeviceLoader(x, y, 8, drop_last=True, seed=0)
    assert len(dl) == 6 and all(len(yb) == 8 for _, yb in dl)
    plain = torch.cat([yb for _, yb in DeviceLoader(x, y, 8, shuffle=False)])
    assert torch.equal(plain, y)


def test_device_loader_applies_transform_and_rejects_bad_input():
    dl = DeviceLoader(torch.zeros(4, 2), torch.zeros(4), 2, transform=lambda t: t + 1)
    assert all(bool((xb == 1).all()) for xb, _ in dl)
    with pytest.raises(ValueError, match="same length"):
        DeviceLoader(torch.zeros(4, 2), torch.zeros(3), 2)
    with pytest.raises(ValueError, match="batch_size"):
        DeviceLoader(torch.zeros(4, 2), torch.zeros(4), 0)


def test_subset_per_class():
    y = torch.tensor([0, 1, 2] * 20)
    idx = subset_per_class(y, 5, seed=1)
    assert torch.bincount(y[idx]).tolist() == [5, 5, 5]
    assert len(set(idx.tolist())) == 15
    assert torch.equal(idx, subset_per_class(y, 5, seed=1))
    assert not torch.equal(idx, subset_per_class(y, 5, seed=2))
    assert set(y[subset_per_class(y, 3, classes=[2, 0])].tolist()) == {0, 2}
    with pytest.raises(ValueError, match="fewer than"):
        subset_per_class(y, 21)


def test_affine_matches_torchvision():
    from torchvision.transforms.v2 import functional as TF

    ys, xs = torch.meshgrid(torch.arange(28.0), torch.arange(28.0), indexing="ij")
    smooth = torch.sin(xs / 3) + torch.cos(ys / 4) + xs / 10  # smooth: bilinear resampling is exact enough
    x = torch.stack([smooth, smooth.T, -smooth]).unsqueeze(1)
    params = [(30.0, (2.0, -3.0), 1.1), (-15.0, (0.0, 0.0), 0.9), (0.0, (4.0, 1.0), 1.0)]
    ours = affine(
        x,
        torch.tensor([p[0] for p in params]),
        torch.tensor([p[1] for p in params]),
        torch.tensor([p[2] for p in params]),
        padding_mode="zeros",
    )
    for i, (angle, shift, scale) in enumerate(params):
        ref = TF.affine(
            x[i],
            angle=angle,
            translate=list(shift),
            scale=scale,
            shear=[0.0, 0.0],
            interpolation=TF.InterpolationMode.BILINEAR,
        )
        inner = (slice(None), slice(4, -4), slice(4, -4))  # away from border handling differences
        assert torch.allclose(ours[i][inner], ref[inner], atol=1e-4), (i, (ours[i] - ref).abs().max())


def test_affine_identity_and_elastic_zero(device):
    x = torch.rand(2, 1, 16, 16, device=device)
    assert torch.allclose(affine(x), x, atol=1e-5)
    assert torch.allclose(elastic(x, alpha=0.0), x, atol=1e-5)
    with pytest.raises(ValueError, match=r"expected images \(B, C, H, W\)"):
        affine(x[0])


def test_random_distortion_is_per_image_and_seeded(device):
    x = torch.rand(1, 1, 28, 28, device=device).expand(4, 1, 28, 28).contiguous()
    out = RandomDistortion(degrees=20, translate=0.1, elastic_alpha=5, seed=0)(x)
    assert out.shape == x.shape
    assert not torch.allclose(out[0], out[1])  # each image its own warp
    again = RandomDistortion(degrees=20, translate=0.1, elastic_alpha=5, seed=0)(x)
    assert torch.equal(out, again)
    with pytest.raises(ValueError, match=r"scale must be \(low, high\) with 0 < low <= high"):
        RandomDistortion(scale=(1.2, 0.8))


def test_affine_shear_matches_torchvision_and_squeeze_matches_its_formula():
    from torchvision.transforms.v2 import functional as TF

    ys, xs = torch.meshgrid(torch.arange(28.0), torch.arange(28.0), indexing="ij")
    smooth = torch.sin(xs / 3) + torch.cos(ys / 4) + xs / 10
    x = torch.stack([smooth, smooth.T]).unsqueeze(1)
    shears = torch.tensor([10.0, -20.0])
    ours = affine(
        x,
        torch.tensor([15.0, -5.0]),
        torch.tensor([[1.0, -2.0], [0.0, 3.0]]),
        torch.tensor([1.1, 0.95]),
        padding_mode="zeros",
        shear=shears,
    )
    for i, (angle, shift, scale) in enumerate([(15.0, [1.0, -2.0], 1.1), (-5.0, [0.0, 3.0], 0.95)]):
        ref = TF.affine(
            x[i],
            angle=angle,
            translate=shift,
            scale=scale,
            shear=[-float(shears[i]), 0.0],
            interpolation=TF.InterpolationMode.BILINEAR,
        )
        assert torch.allclose(ours[i][:, 4:-4, 4:-4], ref[:, 4:-4, 4:-4], atol=1e-4)
    # squeeze has no torchvision counterpart: compare with the image of the formula, out(p) = f(Q^-1 Sh^-1 p)
    u, v = xs - 13.5, ys - 13.5  # pixel offsets from the centre
    f = lambda u, v: torch.sin(u / 4) + torch.cos(v / 5) + u * v / 100
    k, q = math.tan(math.radians(12.0)), 0.85
    out = affine(f(u, v)[None, None], shear=12.0, squeeze=q, padding_mode="zeros")[0, 0]
    assert torch.allclose(out[5:-5, 5:-5], f((u - k * v) / q, v * q)[5:-5, 5:-5], atol=0.03)  # bilinear error
    assert torch.allclose(affine(x, shear=0.0, squeeze=1.0), affine(x))


def test_random_distortion_shear_and_squeeze_keep_the_old_draws(device):
    x = torch.rand(1, 1, 28, 28, device=device).expand(4, 1, 28, 28).contiguous()
    old = RandomDistortion(degrees=20, translate=0.1, elastic_alpha=5, seed=0)(x)
    assert torch.equal(RandomDistortion(degrees=20, translate=0.1, elastic_alpha=5, seed=0, shear=0, squeeze=0)(x), old)
    lecun = RandomDistortion(degrees=0, translate=0.08, shear=15, squeeze=0.15, seed=1)
    out = lecun(x)
    assert out.shape == x.shape and not torch.allclose(out[0], out[1])
    assert torch.equal(RandomDistortion(degrees=0, translate=0.08, shear=15, squeeze=0.15, seed=1)(x), out)
    assert "shear=15" in repr(lecun) and "squeeze=0.15" in repr(lecun)
    for bad, msg in (
        (dict(shear=-1.0), "shear must be >= 0"),
        (dict(squeeze=1.0), r"squeeze must be in \[0, 1\)"),
        (dict(squeeze=-0.1), r"squeeze must be in \[0, 1\)"),
    ):
        with pytest.raises(ValueError, match=msg):
            RandomDistortion(**bad)


@pytest.mark.parametrize("n, sigma", [(28, 3.0), (16, 4.0), (40, 1.5)])
def test_gaussian_blur_matrix_equals_padded_separable_convolution(device, n, sigma):
    import torch.nn.functional as F

    from course_lib.data.transforms.augment import _gaussian_kernel1d, gaussian_blur_matrix

    g = torch.Generator().manual_seed(int(n + 10 * sigma))
    field = torch.rand(3, n, n + 5, generator=g, dtype=torch.float64).to(device)
    k = _gaussian_kernel1d(sigma, device, torch.float64)
    r = len(k) // 2
    ref = F.conv2d(F.pad(field.unsqueeze(1), (r, r, 0, 0), mode="reflect"), k.view(1, 1, 1, -1))
    ref = F.conv2d(F.pad(ref, (0, 0, r, r), mode="reflect"), k.view(1, 1, -1, 1)).squeeze(1)
    mh = gaussian_blur_matrix(n, sigma, device, torch.float64)
    mw = gaussian_blur_matrix(n + 5, sigma, device, torch.float64)
    assert torch.allclose(mh @ field @ mw.T, ref, atol=1e-12)
    assert torch.allclose(mh.sum(1), torch.ones(n, dtype=torch.float64, device=device))  # rows average: constants stay
