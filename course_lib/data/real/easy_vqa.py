"""easy-VQA (Zhou 2020): coloured shapes on 64x64 images, questions about them, 13 answers; shipped by the
``easy-vqa`` package (4,000 training and 1,000 test images, 38,575 and 9,673 questions).

RCP209, *Open questions* (VQA: "input: question & image, output: answer"). :func:`read_split` and
:func:`read_images` are the package's one reader (the transfer task :func:`course_lib.data.easy_vqa_shapes` reads it
through them too): a missing package or file is a :class:`MissingDataError` that names the fix. The images are read
once, resized and kept as a tensor; every question points to its image (``image_index``), so an image is stored once
however many questions it has. The question types are read from the question's form: ``shape`` ("what shape is
...", "what is the blue shape?"), ``color`` ("what color is ...", "what is the color of ...") and ``yes/no``
(everything else: "is there a red shape?").
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import NamedTuple

import torch
import torch.nn.functional as F
from torch import Tensor

from ..vocab import WordVocab
from .files import MissingDataError

QUESTION_TYPES = ("shape", "color", "yes/no")
SHAPES = ("circle", "rectangle", "triangle")


@dataclass
class EasyVQA:
    """One split of easy-VQA as tensors.

    Attributes:
        images: ``Tensor[M, 3, S, S]`` in [0, 1].
        image_index: ``Tensor[N]`` the image of each question.
        questions: ``Tensor[N, L]`` word ids (padding after the question, no ``<eos>``).
        answers: ``Tensor[N]`` index into ``answer_names``; qtypes: ``Tensor[N]`` index into :data:`QUESTION_TYPES`.
        question_texts: the questions as strings; answer_names: the 13 answers; vocab: the question words.
    """

    images: Tensor
    image_index: Tensor
    questions: Tensor
    answers: Tensor
    qtypes: Tensor
    question_texts: list[str]
    answer_names: list[str]
    vocab: WordVocab

    def __len__(self) -> int:
        return len(self.questions)

    def attributes(self) -> Tensor:
        """``Tensor[M, 2]``: each image's shape (index into :data:`SHAPES`) and colour (index into :meth:`colors`),
        read from the answers of its "what shape" and "what color" questions; -1 where it has no such question
        (every easy-VQA image holds one shape)."""
        out = torch.full((len(self.images), 2), -1, dtype=torch.long)
        colors = self.colors()
        for i, a, t in zip(self.image_index.tolist(), self.answers.tolist(), self.qtypes.tolist()):
            if t < 2:
                name = self.answer_names[a]
                out[i, t] = SHAPES.index(name) if t == 0 else colors.index(name)
        return out.to(self.images.device)

    def colors(self) -> list[str]:
        """The colour answers, in the order of ``answer_names``."""
        return [a for a in self.answer_names if a not in (*SHAPES, "yes", "no")]

    def question_images(self) -> Tensor:
        """The image of every question, ``Tensor[N, 3, S, S]`` (a gather: memory grows with ``N``)."""
        return self.images[self.image_index]


class EasyVQAFiles(NamedTuple):
    """One split as the ``easy-vqa`` package ships it (:func:`read_split`): the questions (texts, answers, image ids),
    the PNG of every image id, and the 13 answers."""

    texts: list[str]
    answers: list[str]
    image_ids: list[int]
    paths: dict[int, str]
    answer_names: list[str]


def _package():
    try:
        import easy_vqa
    except ImportError:
        raise MissingDataError(
            "easy-VQA comes with the `easy-vqa` package, which is not installed. "
            "Fix: `pip install easy-vqa` (a dependency of course_lib: `pip install -e .`)."
        ) from None
    return easy_vqa


def read_split(train: bool = True) -> EasyVQAFiles:
    """The one reader of the ``easy-vqa`` package: its questions, image paths and answers for one split.

    Raises:
        MissingDataError: the package is not installed, or its files are missing or unreadable (the message names
            the fix).
    """
    ev = _package()
    try:
        texts, answers, image_ids = ev.get_train_questions() if train else ev.get_test_questions()
        paths = ev.get_train_image_paths() if train else ev.get_test_image_paths()
        answer_names = ev.get_answers()
    except OSError as err:
        raise MissingDataError(
            f"easy-VQA's files are missing or unreadable ({err}). "
            "Fix: reinstall the package, `pip install --force-reinstall easy-vqa`."
        ) from None
    return EasyVQAFiles(list(texts), list(answers), list(image_ids), dict(paths), list(answer_names))


def read_images(paths: dict[int, str], ids: Sequence[int]) -> Tensor:
    """The images ``ids`` (keys of :attr:`EasyVQAFiles.paths`), decoded: ``Tensor[M, 3, 64, 64]`` uint8 RGB.

    Raises:
        MissingDataError: an image is not in the package or its PNG cannot be read (the message names them).
    """
    import numpy as np
    from PIL import Image

    missing = [i for i in ids if i not in paths]
    if missing:
        raise MissingDataError(
            f"easy-VQA images {missing[:5]} are missing from the package. "
            "Fix: `pip install --force-reinstall easy-vqa`."
        )
    if not len(ids):
        return torch.zeros(0, 3, 64, 64, dtype=torch.uint8)
    try:
        pixels = np.stack([np.asarray(Image.open(paths[i]).convert("RGB")) for i in ids])  # (M, 64, 64, 3)
    except OSError as err:
        raise MissingDataError(
            f"an easy-VQA image is unreadable ({err}). Fix: `pip install --force-reinstall easy-vqa`."
        ) from None
    return torch.from_numpy(pixels).permute(0, 3, 1, 2)  # a view: the decoded bytes in HWC order, not copied


def _tokens(text: str) -> str:
    return text.lower().replace("?", " ?").strip()


def question_type(text: str) -> int:
    """``0`` shape, ``1`` color, ``2`` yes/no, from the question's form."""
    t = text.lower()
    if not t.startswith("what"):
        return 2
    return 1 if "color" in t.split() else 0


def load_easy_vqa(
    train: bool = True,
    *,
    size: int = 32,
    max_questions: int | None = None,
    seed: int = 0,
    vocab: WordVocab | None = None,
    device: torch.device | str = "cpu",
) -> EasyVQA:
    """A split of easy-VQA as tensors on ``device``.

    Args:
        train: the training split, else the test split.
        size: side the 64x64 images are resized to (antialiased).
        max_questions: keep a random subset of this many questions (seeded by ``seed``), and only their images.
        vocab: the question vocabulary (pass the training split's to the test split); default: built from the split.
        device: where the tensors live.

    Raises:
        MissingDataError: the package or one of its files is missing; the message names the fix.
    """
    texts, answers, image_ids, paths, answer_names = read_split(train)
    order = torch.arange(len(texts))
    if max_questions is not None and max_questions < len(texts):
        order = torch.randperm(len(texts), generator=torch.Generator().manual_seed(seed))[:max_questions]
    keep = order.tolist()
    ids = sorted({image_ids[i] for i in keep})
    position = {image_id: k for k, image_id in enumerate(ids)}
    images = read_images(paths, ids).float() / 255  # (M, 3, 64, 64)
    if size != images.shape[-1]:
        images = F.interpolate(images, size=(size, size), mode="bilinear", antialias=True, align_corners=False)
    q_texts = [_tokens(texts[i]) for i in keep]
    vocab = WordVocab.from_sentences(q_texts) if vocab is None else vocab
    return EasyVQA(
        images=images.clamp(0, 1).to(device),
        image_index=torch.tensor([position[image_ids[i]] for i in keep], device=device),
        questions=vocab.encode(q_texts, eos=False, device=device),
        answers=torch.tensor([answer_names.index(answers[i]) for i in keep], device=device),
        qtypes=torch.tensor([question_type(texts[i]) for i in keep], device=device),
        question_texts=q_texts,
        answer_names=answer_names,
        vocab=vocab,
    )
