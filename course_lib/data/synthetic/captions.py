"""Captioned multi-digit scenes, with counting and relation questions on the same scenes (captioning and VQA).

RCP209, *Open questions*: image captioning (one to many) and visual question answering (many to one). The course's
toy version of COCO captions and VQA: MNIST digits on a canvas (:func:`make_digit_scenes`), each scene described by a
small grammar from its layout. The digits are read along the axis of their spread (left to right, or top to bottom)::

    a 3 left of a 7                   a 7 right of a 3                  two digits : a 3 left of a 7
    a 5 above a 1 above a 8           a 8 below a 1 below a 5           three digits : a 5 above a 1 above a 8

Three references per image (the forward chain, the reversed chain, the counted chain), as COCO has several.
Scenes are kept only when their layout makes every relation true and unambiguous: distinct classes, and the
centres of consecutive digits at least ``min_gap`` pixels apart along the reading axis (the axis of the larger
spread of the centres). The geometry is vectorized over scenes; only the strings are built per scene.

One question per scene, of four types (:data:`QUESTION_TYPES`): ``count`` ("how many digits ?"), ``exists`` ("is
there a 7 ?", yes or no in equal shares), ``relation`` ("is the 3 left of the 7 ?", yes or no in equal shares) and
``query`` ("what digit is left of the 7 ?", the 7 being the second digit in reading order). One-digit scenes get
a ``count`` or ``exists`` question instead of the relational ones. :func:`ask` draws several questions per scene,
with the four types balanced; :func:`caption_scores` reads what a generated caption states (its digits, its relation).
"""

from __future__ import annotations

import re
from dataclasses import dataclass

import torch
import torch.nn.functional as F
from torch import Tensor

from ..vocab import WordVocab
from .scenes import make_digit_scenes

NUMBERS = ("zero", "one", "two", "three", "four")
QUESTION_TYPES = ("count", "exists", "relation", "query")
ANSWERS = ("no", "yes", "one", "two", "three", "four", *[str(d) for d in range(10)])
RELATIONS = {0: ("left of", "right of"), 1: ("above", "below")}  # axis -> (before, after)
_CAPTION_WORDS = ("a", "of", ":", "digit", "digits", "left", "right", "above", "below", *NUMBERS[1:])
WORDS = (*_CAPTION_WORDS, *[str(d) for d in range(10)], "how", "many", "?", "is", "there", "the", "what")


@dataclass
class CaptionedScenes:
    """Scenes with captions and one question each.

    Attributes:
        images: ``Tensor[N, 1, S, S]`` in [0, 1].
        chain: ``Tensor[N, K]`` classes in reading order, -1 after the last digit.
        centers: ``Tensor[N, K, 2]`` (x, y) centre of each digit's ink box, in reading order (0 when empty).
        axis: ``Tensor[N]`` 0 when the digits are read left to right, 1 when top to bottom.
        captions: ``Tensor[N, R, L]`` word ids of the ``R`` references (``<eos>``, then padding).
        questions: ``Tensor[N, Lq]`` word ids (padding after the question, no ``<eos>``).
        answers: ``Tensor[N]`` index into :data:`ANSWERS`; qtypes: ``Tensor[N]`` index into :data:`QUESTION_TYPES`.
        caption_texts, question_texts: the same as strings.
        vocab: the :class:`WordVocab` of captions and questions.
    """

    images: Tensor
    chain: Tensor
    centers: Tensor
    axis: Tensor
    captions: Tensor
    questions: Tensor
    answers: Tensor
    qtypes: Tensor
    caption_texts: list[list[str]]
    question_texts: list[str]
    vocab: WordVocab

    def __len__(self) -> int:
        return len(self.images)

    @property
    def n_digits(self) -> Tensor:
        return (self.chain >= 0).sum(1)

    def training_pairs(self) -> tuple[Tensor, Tensor]:
        """Every (image, reference) pair: ``(images Tensor[N*R, 1, S, S], captions Tensor[N*R, L])``."""
        r = self.captions.shape[1]
        return self.images.repeat_interleave(r, 0), self.captions.flatten(0, 1)


def _layout(boxes: Tensor, digits: Tensor, min_gap: float) -> tuple[Tensor, Tensor, Tensor, Tensor]:
    """Reading axis, order, centres in order and the validity of every scene (vectorized over scenes)."""
    active = digits >= 0
    centers = torch.stack([(boxes[..., 0] + boxes[..., 2]) / 2, (boxes[..., 1] + boxes[..., 3]) / 2], -1)  # (n, K, 2)
    big = torch.tensor(1e6, device=boxes.device)
    lo = torch.where(active[..., None], centers, big).amin(1)
    hi = torch.where(active[..., None], centers, -big).amax(1)
    axis = ((hi - lo)[:, 1] > (hi - lo)[:, 0]).long()  # (n,) the axis of the larger spread
    along = centers.gather(2, axis.view(-1, 1, 1).expand(-1, centers.shape[1], 1)).squeeze(2)  # (n, K)
    order = torch.where(active, along, big).argsort(1)  # empty slots last
    centers = centers.gather(1, order[..., None].expand(-1, -1, 2))
    chain = digits.gather(1, order)
    act = chain >= 0
    diff = centers[:, 1:] - centers[:, :-1]  # consecutive pairs
    d_along = diff.gather(2, axis.view(-1, 1, 1).expand(-1, diff.shape[1], 1)).squeeze(2)
    ok_pairs = (~act[:, 1:] | (d_along >= min_gap)).all(1)
    same = (chain[:, :, None] == chain[:, None, :]) & act[:, :, None] & act[:, None, :]
    distinct = same.sum((1, 2)) == act.sum(1)  # only the diagonal
    return axis, chain, torch.where(act[..., None], centers, 0.0), ok_pairs & distinct


def describe(chain: list[int], axis: int) -> list[str]:
    """The three references of one scene: ``chain`` its classes in reading order, ``axis`` 0 (horizontal) or 1."""
    before, after = RELATIONS[axis]
    fwd = f" {before} ".join(f"a {c}" for c in chain)
    rev = f" {after} ".join(f"a {c}" for c in reversed(chain))
    count = f"{NUMBERS[len(chain)]} digit{'s' if len(chain) > 1 else ''} : {fwd}"
    return [fwd, rev, count]


def _question(chain: list[int], axis: int, kind: int, r: list[float]) -> tuple[str, str, int]:
    """One question of type ``kind`` (an index into QUESTION_TYPES) with its answer, from uniform draws ``r``."""
    k = len(chain)
    if k == 1 and kind >= 2:
        kind = kind - 2  # relation -> count, query -> exists
    if kind == 0:
        return "how many digits ?", NUMBERS[k], 0
    if kind == 1:
        absent = [c for c in range(10) if c not in chain]
        c = chain[int(r[1] * k)] if r[0] < 0.5 else absent[int(r[1] * len(absent))]
        return f"is there a {c} ?", "yes" if c in chain else "no", 1
    before, after = RELATIONS[axis]
    if kind == 2:
        i = int(r[1] * (k - 1))
        j = i + 1 + int(r[2] * (k - 1 - i))  # i < j: chain[i] is `before` chain[j]
        word = before if r[3] < 0.5 else after
        if r[0] < 0.5:
            return f"is the {chain[i]} {word} the {chain[j]} ?", "yes" if word == before else "no", 2
        return f"is the {chain[j]} {word} the {chain[i]} ?", "yes" if word == after else "no", 2
    if r[0] < 0.5:  # the only digit before the second one is the first
        return f"what digit is {before} the {chain[1]} ?", str(chain[0]), 3
    return f"what digit is {after} the {chain[-2]} ?", str(chain[-1]), 3


@dataclass
class SceneQuestions:
    """Several questions per scene (:func:`ask`): ``image_index Tensor[N]`` the scene of each question, ``questions
    Tensor[N, Lq]`` word ids, ``answers`` and ``qtypes Tensor[N]`` (indices into :data:`ANSWERS`, :data:`QUESTION_TYPES`),
    ``question_texts``."""

    image_index: Tensor
    questions: Tensor
    answers: Tensor
    qtypes: Tensor
    question_texts: list[str]

    def __len__(self) -> int:
        return len(self.questions)


def ask(scenes: CaptionedScenes, per_scene: int, *, balanced: bool = True, seed: int = 0) -> SceneQuestions:
    """``per_scene`` questions about every scene. ``balanced``: the four types equally frequent over the set (one-digit
    scenes have no ``relation`` or ``query`` question, so the others get more); else drawn uniformly, as
    :func:`make_captioned_scenes` does (one-digit scenes turn ``relation`` into ``count``, ``query`` into ``exists``)."""
    if per_scene < 1:
        raise ValueError(f"per_scene must be >= 1, got {per_scene}")
    chains = [[c for c in row if c >= 0] for row in scenes.chain.tolist()]
    axes, n = scenes.axis.tolist(), len(chains)
    g = torch.Generator().manual_seed(seed)
    single = torch.tensor([len(c) == 1 for c in chains]).repeat_interleave(per_scene)  # (N,)
    kinds = torch.randint(0, len(QUESTION_TYPES), (len(single),), generator=g)
    if balanced:  # one-digit scenes: count or exists; the others: the four types weighted to even the totals
        f1 = float(single.float().mean())
        w1 = torch.tensor([0.5, 0.5, 0.0, 0.0])
        w2 = ((0.25 - f1 * w1) / max(1 - f1, 1e-9)).clamp(min=0)
        probs = torch.where(single[:, None], w1, w2 / w2.sum())
        kinds = torch.multinomial(probs, 1, generator=g).squeeze(1)
    draws = torch.rand(len(single), 4, generator=g).tolist()
    index = torch.arange(n).repeat_interleave(per_scene)
    qa = [_question(chains[i], axes[i], k, r) for i, k, r in zip(index.tolist(), kinds.tolist(), draws)]
    dev = scenes.images.device
    texts = [q for q, _, _ in qa]
    return SceneQuestions(
        index.to(dev),
        scenes.vocab.encode(texts, eos=False).to(dev),
        torch.tensor([ANSWERS.index(a) for _, a, _ in qa], device=dev),
        torch.tensor([t for _, _, t in qa], device=dev),
        texts,
    )


def parse_caption(text: str) -> tuple[tuple[int, ...], str | None]:
    """What a caption of the grammar states: the digits in the order it names them, and its relation (``"left of"``,
    ``"right of"``, ``"above"``, ``"below"``; ``None`` when it names none or several)."""
    words = text.split()
    if ":" in words:
        words = words[words.index(":") + 1 :]
    digits = tuple(int(w) for w in words if w.isdigit())
    found = set(re.findall(r"\b(left of|right of|above|below)\b", " ".join(words)))
    return digits, found.pop() if len(found) == 1 else None


def caption_scores(hypotheses: list[str], scenes: CaptionedScenes) -> dict[str, Tensor]:
    """Per caption, ``Tensor[N]`` bool: ``digit_set`` (it names exactly the scene's digits, in any order) and
    ``layout`` (besides, it names them in an order and with a relation that one of the references states: the
    forward chain with the first relation word of its axis, or the reversed chain with the second)."""
    if len(hypotheses) != len(scenes):
        raise ValueError(f"need one caption per scene, got {len(hypotheses)} for {len(scenes)}")
    digit_set, layout = [], []
    for text, row, axis in zip(hypotheses, scenes.chain.tolist(), scenes.axis.tolist()):
        chain = tuple(c for c in row if c >= 0)
        said, relation = parse_caption(text)
        ok_set = sorted(said) == sorted(chain) and len(set(said)) == len(said)
        before, after = RELATIONS[axis]
        ok_layout = (
            said == chain
            if len(chain) == 1
            else (said == chain and relation == before) or (said == chain[::-1] and relation == after)
        )
        digit_set.append(ok_set)
        layout.append(ok_set and ok_layout)
    return {"digit_set": torch.tensor(digit_set), "layout": torch.tensor(layout)}


def nearer_than_others(
    cells: Tensor, centers: Tensor, n_digits: Tensor, target: Tensor, grid: int = 6, stride: int = 8
) -> Tensor:
    """``Tensor[N]`` bool: the centre of grid cell ``cells[n]`` (row-major, ``grid`` cells of ``stride`` pixels a
    side) is strictly nearer digit ``target[n]``'s centre than every other digit of its scene (``centers Tensor[N, K,
    2]`` (x, y) with the first ``n_digits[n]`` real): where a word is grounded, scored against its scene."""
    xy = torch.stack([cells % grid, cells // grid], -1).to(centers.dtype).add(0.5).mul(stride)  # (N, 2)
    dist = (centers - xy[:, None]).norm(dim=-1)  # (N, K)
    slot = torch.arange(centers.shape[1], device=cells.device)[None]  # (1, K)
    others = torch.where((slot < n_digits[:, None]) & (slot != target[:, None]), dist, torch.inf)
    return dist.gather(1, target[:, None]).squeeze(1) < others.amin(1)


def make_captioned_scenes(
    x: Tensor,
    y: Tensor,
    n: int,
    *,
    canvas: int = 48,
    digit_size: int = 16,
    min_digits: int = 1,
    max_digits: int = 3,
    min_gap: float = 8.0,
    fragments: int = 0,
    seed: int = 0,
) -> CaptionedScenes:
    """``n`` captioned scenes with one question each, from MNIST digits ``x`` (``Tensor[M, 1, 28, 28]`` in [0, 1]).

    Args:
        x, y: source digits (unnormalized) and their labels; scenes are built on ``x``'s device.
        n: number of scenes.
        canvas, digit_size: as :func:`make_digit_scenes`.
        min_digits, max_digits: digits per scene (at most four: the grammar counts to four).
        min_gap: the least distance, along the reading axis, between consecutive digits' centres.
        fragments: clutter fragments per scene (as :func:`make_digit_scenes`).
        seed: the same seed gives the same scenes, captions and questions.
    """
    if not 1 <= min_digits <= max_digits <= 4:
        raise ValueError(f"need 1 <= min_digits <= max_digits <= 4, got {min_digits}, {max_digits}")
    counts = list(range(min_digits, max_digits + 1))
    kept = []
    for k in counts:  # the same number of scenes for every digit count (more digits are rejected more often)
        need, rate, attempt = n // len(counts) + (k - min_digits < n % len(counts)), 0.5, 0
        while need > 0:
            if attempt > 20:
                raise ValueError("too few valid layouts: raise the canvas or lower min_gap, digit_size or max_digits")
            s = make_digit_scenes(
                x,
                y,
                int(1.3 * need / rate) + 32,
                canvas=canvas,
                digit_size=digit_size,
                min_digits=k,
                max_digits=k,
                min_fragments=fragments,
                max_fragments=fragments,
                seed=seed * 1000 + 100 * k + attempt,
            )
            axis, chain, centers, ok = _layout(s.boxes, s.digits, min_gap)
            ok &= (s.digits >= 0).sum(1) == k  # a slot with no free place leaves fewer digits
            rate = max(float(ok.float().mean()), 0.02)
            idx = ok.nonzero().squeeze(1)[:need]
            pad = max_digits - k  # every scene gets max_digits slots
            kept.append(
                (s.images[idx], F.pad(chain[idx], (0, pad), value=-1), F.pad(centers[idx], (0, 0, 0, pad)), axis[idx])
            )
            need -= len(idx)
            attempt += 1
    images, chain, centers, axis = (torch.cat(parts) for parts in zip(*kept))
    mix = torch.randperm(n, generator=torch.Generator().manual_seed(seed)).to(images.device)  # interleave the counts
    images, chain, centers, axis = images[mix], chain[mix], centers[mix], axis[mix]
    chains = [[c for c in row if c >= 0] for row in chain.tolist()]
    axes = axis.tolist()
    g = torch.Generator().manual_seed(seed + 1)
    kinds = torch.randint(0, len(QUESTION_TYPES), (n,), generator=g).tolist()
    draws = torch.rand(n, 4, generator=g).tolist()
    caption_texts = [describe(c, a) for c, a in zip(chains, axes)]
    qa = [_question(c, a, k, r) for c, a, k, r in zip(chains, axes, kinds, draws)]
    vocab = WordVocab(WORDS)
    length = max(len(ref.split()) for refs in caption_texts for ref in refs) + 1
    captions = vocab.encode([ref for refs in caption_texts for ref in refs], length).view(n, 3, length)
    dev = images.device
    questions = vocab.encode([q for q, _, _ in qa], eos=False)
    answers = torch.tensor([ANSWERS.index(a) for _, a, _ in qa])
    qtypes = torch.tensor([t for _, _, t in qa])
    return CaptionedScenes(
        images,
        chain,
        centers,
        axis,
        captions.to(dev),
        questions.to(dev),
        answers.to(dev),
        qtypes.to(dev),
        caption_texts,
        [q for q, _, _ in qa],
        vocab,
    )


__all__ = [
    "ANSWERS",
    "QUESTION_TYPES",
    "CaptionedScenes",
    "SceneQuestions",
    "ask",
    "caption_scores",
    "describe",
    "make_captioned_scenes",
    "nearer_than_others",
    "parse_caption",
]
