"""The handcrafted era: a bag-of-visual-words (BoW) image representation.

Lecture: STA211 "Deep learning history", the 2000s: local descriptors -> dictionary of visual
words (k-means) -> histogram of word counts per image (+ spatial pyramid, Lazebnik et al. 2006)
-> linear SVM (Csurka et al. 2004; Sivic & Zisserman 2003). Here the local descriptor is the raw
patch, brightness- and contrast-normalized as in Coates, Lee & Ng 2011 (:func:`normalize_patches`), which
suits digits; the dictionary comes from scikit-learn's k-means and the encoding is vectorized in torch.

Reused by notebook 04 (transfer) as the handcrafted baseline.
"""

from __future__ import annotations

import numpy as np
import torch
import torch.nn.functional as F
from torch import Tensor


def extract_patches(x: Tensor, patch_size: int, stride: int) -> Tensor:
    """All ``patch_size`` x ``patch_size`` patches on a grid of step ``stride``.

    Args:
        x: images ``Tensor[N, C, H, W]``.

    Returns:
        ``Tensor[N, L, C * patch_size**2]`` with ``L = gh * gw`` patch positions (row-major).
    """
    if x.dim() != 4:
        raise ValueError(f"expected images (N, C, H, W), got shape {tuple(x.shape)}")
    if patch_size > min(x.shape[-2:]):
        raise ValueError(f"patch_size {patch_size} is larger than the images {tuple(x.shape[-2:])}")
    return F.unfold(x, patch_size, stride=stride).transpose(1, 2)  # (N, L, C*p*p)


# Coates, Lee & Ng (AISTATS 2011), "An analysis of single-layer networks in unsupervised feature learning",
# section 3.1.1 and their kmeans_demo.m: patches = (p - mean) / sqrt(var + 10), for pixels in [0, 255]. The 10
# keeps flat patches from being blown up into noise; in [0, 1] pixel units it is 10 / 255**2.
COATES_EPSILON = 10 / 255**2


def normalize_patches(p: Tensor, eps: float = COATES_EPSILON) -> Tensor:
    """Brightness and contrast normalization of local patches: ``(p - mean) / sqrt(var + eps)`` over the last dim.

    Args:
        p: ``Tensor[..., D]`` patches with pixels in [0, 1].
        eps: added to each patch's variance (default :data:`COATES_EPSILON`, Coates et al. 2011's constant
            for [0, 1] pixels): a faint stroke (std 0.05) still reaches a standard deviation of about 0.97, a
            blank patch stays 0.

    Returns:
        ``Tensor[..., D]``: zero mean and a standard deviation close to 1 for every patch with contrast.
    """
    if eps <= 0:
        raise ValueError(f"eps must be > 0, got {eps}")
    return (p - p.mean(-1, keepdim=True)) / (p.var(-1, keepdim=True) + eps).sqrt()


class BagOfVisualWords:
    """Patches -> k-means dictionary -> (spatial-pyramid) histograms of visual words.

    Args:
        n_words: dictionary size (k of k-means).
        patch_size: side of the square local patches.
        stride: step of the dense patch grid.
        pyramid: spatial pyramid levels; level ``l`` pools words in an ``l x l`` grid of cells
            (``(1,)`` is the orderless bag; ``(1, 2)`` adds the four quadrants).
        n_fit_patches: patches sampled to fit the dictionary.
        min_patch_energy: patches whose std is below this (blank background) are not used to fit
            the dictionary; they still count in histograms (as their nearest word).
        seed: seed of the patch sampling and of k-means.

    ``transform`` returns ``np.ndarray[N, n_words * sum(l*l for l in pyramid)]``, square-rooted
    and L2-normalized per image (the Hellinger-kernel trick of the BoW era, which lets a linear SVM
    behave like a chi-square-kernel SVM).
    """

    def __init__(
        self,
        n_words: int = 64,
        patch_size: int = 7,
        stride: int = 3,
        pyramid: tuple[int, ...] = (1, 2),
        n_fit_patches: int = 50_000,
        min_patch_energy: float = 0.05,
        seed: int = 0,
    ) -> None:
        if n_words < 2:
            raise ValueError(f"n_words must be >= 2, got {n_words}")
        if not pyramid or any(level < 1 for level in pyramid):
            raise ValueError(f"pyramid levels must be >= 1, got {pyramid}")
        self.n_words, self.patch_size, self.stride, self.pyramid = n_words, patch_size, stride, tuple(pyramid)
        self.n_fit_patches, self.min_patch_energy, self.seed = n_fit_patches, min_patch_energy, seed
        self.centers: Tensor | None = None

    @staticmethod
    def _normalize(p: Tensor) -> Tensor:
        """Brightness and contrast normalization of each patch (see :func:`normalize_patches`)."""
        return normalize_patches(p)

    def fit(self, x: Tensor) -> BagOfVisualWords:
        """Learn the dictionary from patches of ``x`` (``Tensor[N, C, H, W]``, scaled to [0, 1])."""
        from sklearn.cluster import MiniBatchKMeans

        patches = extract_patches(x.float().cpu(), self.patch_size, self.stride).flatten(0, 1)
        patches = patches[patches.std(-1) > self.min_patch_energy]
        g = torch.Generator().manual_seed(self.seed)
        if len(patches) > self.n_fit_patches:
            patches = patches[torch.randperm(len(patches), generator=g)[: self.n_fit_patches]]
        if len(patches) < self.n_words:
            raise ValueError(f"only {len(patches)} informative patches to fit {self.n_words} words")
        km = MiniBatchKMeans(self.n_words, random_state=self.seed, n_init=3, batch_size=4096)
        km.fit(self._normalize(patches).numpy())
        self.centers = torch.as_tensor(km.cluster_centers_, dtype=torch.float32)
        return self

    def encode(self, x: Tensor, batch_size: int = 2048) -> Tensor:
        """Index of the nearest visual word of each patch: ``Tensor[N, gh, gw]`` (long).

        Raises:
            ValueError: unless ``x`` is ``Tensor[N, C, H, W]`` with the dictionary's ``C`` and sides of at least
                ``patch_size`` (the message names the expected and the received shapes).
        """
        if self.centers is None:
            raise RuntimeError("call fit() before encode()/transform()")
        p_ = self.patch_size
        c = self.centers.shape[1] // (p_ * p_)  # the channels of the patches the dictionary was fit on
        if x.dim() != 4 or x.shape[1] != c or min(x.shape[-2:]) < p_:
            raise ValueError(
                f"expected images (N, {c}, H, W) with H, W >= {p_} (the dictionary's words are {c}x{p_}x{p_} "
                f"patches), got shape {tuple(x.shape)}"
            )
        n, _, h, w = x.shape
        gh = (h - self.patch_size) // self.stride + 1
        gw = (w - self.patch_size) // self.stride + 1
        centers = self.centers.to(x.device)
        out = []
        for i in range(0, n, batch_size):
            p = self._normalize(extract_patches(x[i : i + batch_size].float(), self.patch_size, self.stride))
            out.append(torch.cdist(p, centers.expand(len(p), -1, -1)).argmin(-1))  # (B, L)
        return torch.cat(out).view(n, gh, gw)

    def transform(self, x: Tensor) -> np.ndarray:
        """Spatial-pyramid histograms of visual words, ``np.ndarray[N, D]`` (see class docstring)."""
        words = self.encode(x)  # (N, gh, gw)
        one_hot = F.one_hot(words, self.n_words).permute(0, 3, 1, 2).float()  # (N, K, gh, gw)
        feats = [F.adaptive_avg_pool2d(one_hot, level).flatten(1) for level in self.pyramid]  # (N, K*l*l)
        f = torch.cat(feats, 1).sqrt()
        f = f / f.norm(dim=1, keepdim=True).clamp_min(1e-12)
        return f.cpu().numpy()

    def fit_transform(self, x: Tensor) -> np.ndarray:
        return self.fit(x).transform(x)

    @property
    def dim(self) -> int:
        return self.n_words * sum(level * level for level in self.pyramid)

    def __repr__(self) -> str:
        return (
            f"BagOfVisualWords(n_words={self.n_words}, patch_size={self.patch_size}, stride={self.stride}, "
            f"pyramid={self.pyramid}, dim={self.dim})"
        )
