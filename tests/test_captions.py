"""Captioned digit scenes and their questions (course_lib.data.synthetic.captions), the word vocabulary, easy-VQA."""

from __future__ import annotations

import pytest
import torch

from course_lib.data.real import MissingDataError, load_easy_vqa
from course_lib.data.real.easy_vqa import QUESTION_TYPES as EASY_TYPES
from course_lib.data.real.easy_vqa import SHAPES, question_type
from course_lib.data.synthetic import make_captioned_scenes
from course_lib.data.synthetic.captions import ANSWERS, QUESTION_TYPES, describe
from course_lib.data.vocab import BOS, EOS, PAD, WordVocab


@pytest.fixture(scope="module")
def digits():
    g = torch.Generator().manual_seed(0)
    x = torch.rand(200, 1, 28, 28, generator=g) * (torch.rand(200, 1, 28, 28, generator=g) > 0.6)
    x[:, :, :4] = 0  # MNIST-like: ink away from the border
    x[:, :, -4:] = 0
    return x, torch.arange(200) % 10


@pytest.fixture(scope="module")
def scenes(digits):
    return make_captioned_scenes(*digits, 90, seed=3)


def test_same_seed_same_scenes_other_seed_other_scenes(digits, scenes):
    again = make_captioned_scenes(*digits, 90, seed=3)
    assert torch.equal(again.images, scenes.images) and torch.equal(again.captions, scenes.captions)
    assert torch.equal(again.questions, scenes.questions) and again.caption_texts == scenes.caption_texts
    other = make_captioned_scenes(*digits, 90, seed=4)
    assert not torch.equal(other.images, scenes.images)


def test_shapes_and_balanced_digit_counts(scenes):
    n = len(scenes)
    assert scenes.images.shape == (n, 1, 48, 48) and scenes.captions.shape[:2] == (n, 3)
    assert torch.bincount(scenes.n_digits, minlength=4)[1:].tolist() == [30, 30, 30]
    x, c = scenes.training_pairs()
    assert len(x) == len(c) == 3 * n and torch.equal(c[3:6], scenes.captions[1])


def test_captions_describe_the_layout(scenes):
    for chain, centers, axis, refs in zip(
        scenes.chain.tolist(), scenes.centers, scenes.axis.tolist(), scenes.caption_texts
    ):
        k = sum(c >= 0 for c in chain)
        digits = [c for c in chain if c >= 0]
        assert len(set(digits)) == k, "classes in a scene are distinct"
        assert refs == describe(digits, axis)
        words = refs[0].split()
        assert [int(w) for w in words if w.isdigit()] == digits, "the caption names the digits in reading order"
        if k > 1:
            assert ("left" in words) == (axis == 0) and ("above" in words) == (axis == 1)
            along = centers[:k, axis]
            assert torch.all(along[1:] - along[:-1] >= 8), "each digit is really before the next along the axis"
            assert [int(w) for w in refs[1].split() if w.isdigit()] == digits[::-1]
        assert refs[2].split()[0] == ["one", "two", "three"][k - 1]


def test_answers_are_true_of_the_scene(scenes):
    for q, a, t, chain in zip(
        scenes.question_texts, scenes.answers.tolist(), scenes.qtypes.tolist(), scenes.chain.tolist()
    ):
        digits, answer, w = [c for c in chain if c >= 0], ANSWERS[a], q.split()
        if QUESTION_TYPES[t] == "count":
            assert answer == ["one", "two", "three"][len(digits) - 1]
        elif QUESTION_TYPES[t] == "exists":
            assert answer == ("yes" if int(w[3]) in digits else "no")
        elif QUESTION_TYPES[t] == "relation":  # "is the A left of the B ?"
            first, second = int(w[2]), int(w[-2])
            before = w[3] in ("left", "above")
            assert answer == ("yes" if (digits.index(first) < digits.index(second)) == before else "no")
        else:  # "what digit is left of the B ?": the digit next to B on that side
            b = digits.index(int(w[-2]))
            assert int(answer) == digits[b - 1 if w[3] in ("left", "above") else b + 1]
    yes, no = (scenes.answers == ANSWERS.index("yes")).sum(), (scenes.answers == ANSWERS.index("no")).sum()
    assert abs(int(yes) - int(no)) < 0.5 * (yes + no)


def test_vocabulary_round_trip(scenes):
    v = scenes.vocab
    assert (v.index["<pad>"], v.index["<bos>"], v.index["<eos>"]) == (PAD, BOS, EOS)
    assert v.decode_batch(scenes.captions[:, 0]) == [refs[0] for refs in scenes.caption_texts]
    assert v.decode_batch(scenes.questions) == scenes.question_texts
    assert (scenes.captions == EOS).sum() == scenes.captions.shape[0] * 3
    ids = WordVocab(["b", "a"]).encode(["a b a", "b"], 5)
    assert ids.tolist() == [[4, 3, 4, EOS, PAD], [3, EOS, PAD, PAD, PAD]]
    assert WordVocab.from_sentences(["z y", "y"]).words[3:] == ["y", "z"]
    with pytest.raises(ValueError, match="not in the vocabulary"):
        v.encode(["a cat"])
    with pytest.raises(ValueError, match="more than length"):
        v.encode(["a 3 left of a 7"], 3)


def test_easy_vqa_tensors_and_types():
    data = load_easy_vqa(train=False, size=16, max_questions=40, seed=1)
    assert data.images.shape[1:] == (3, 16, 16) and len(data) == 40
    assert 0 <= float(data.images.min()) and float(data.images.max()) <= 1
    assert int(data.image_index.max()) < len(data.images) and data.question_images().shape == (40, 3, 16, 16)
    assert data.vocab.decode_batch(data.questions) == data.question_texts
    for text, a, t in zip(data.question_texts, data.answers.tolist(), data.qtypes.tolist()):
        answer = data.answer_names[a]
        kind = EASY_TYPES[t]
        assert (answer in ("yes", "no")) == (kind == "yes/no"), (text, answer)
        assert (answer in ("circle", "rectangle", "triangle")) == (kind == "shape"), (text, answer)
    assert question_type("What color is the shape?") == 1 and question_type("is there a red shape?") == 2
    att = data.attributes()
    assert att.shape == (len(data.images), 2)
    for i, a, t in zip(data.image_index.tolist(), data.answers.tolist(), data.qtypes.tolist()):
        if t == 0:
            assert SHAPES[att[i, 0]] == data.answer_names[a]
        elif t == 1:
            assert data.colors()[att[i, 1]] == data.answer_names[a]


def test_easy_vqa_missing_package_names_the_fix(monkeypatch):
    import builtins

    real_import = builtins.__import__

    def no_easy_vqa(name, *args, **kwargs):
        if name == "easy_vqa":
            raise ImportError(name)
        return real_import(name, *args, **kwargs)

    monkeypatch.setattr(builtins, "__import__", no_easy_vqa)
    with pytest.raises(MissingDataError, match="pip install easy-vqa"):
        load_easy_vqa()


def test_ask_balances_types_and_answers_agree_with_the_scene(scenes):
    from course_lib.data.synthetic.captions import ask

    q = ask(scenes, 20, seed=1)
    assert len(q) == 20 * len(scenes) and q.questions.shape[0] == len(q)
    counts = torch.bincount(q.qtypes, minlength=4).float() / len(q)
    assert torch.allclose(counts, torch.full((4,), 0.25), atol=0.03)
    single = scenes.n_digits[q.image_index] == 1
    assert not ((q.qtypes >= 2) & single).any()  # no relation or query question about one digit
    for i in range(0, len(q), 37):  # "is there a c ?": yes exactly when c is in the scene
        text = q.question_texts[i]
        if text.startswith("is there"):
            c = int(text.split()[3])
            assert (ANSWERS[q.answers[i]] == "yes") == (c in scenes.chain[q.image_index[i]].tolist())
    again = ask(scenes, 20, seed=1)
    assert torch.equal(again.questions, q.questions) and torch.equal(again.answers, q.answers)


def test_caption_scores_parse_digits_and_relation(scenes):
    from course_lib.data.synthetic.captions import caption_scores, parse_caption

    assert parse_caption("two digits : a 3 left of a 7") == ((3, 7), "left of")
    assert parse_caption("a 5 above a 1 below a 8") == ((5, 1, 8), None)
    refs = [r[k] for r, k in zip(scenes.caption_texts, [0, 1, 2] * 30)]
    s = caption_scores(refs, scenes)
    assert s["digit_set"].all() and s["layout"].all()  # every reference states the scene
    several = [i for i in range(len(scenes)) if scenes.n_digits[i] >= 2]
    wrong = list(refs)
    for i in several:  # the same digits with the other relation word: the set is right, the layout is not
        before, after = ("left of", "right of") if scenes.axis[i] == 0 else ("above", "below")
        w = scenes.caption_texts[i][0]
        wrong[i] = w.replace(before, after)
    s = caption_scores(wrong, scenes)
    assert s["digit_set"].all() and not s["layout"][several].any()
    assert not caption_scores(["a 3 left of a 3"] * len(scenes), scenes)["digit_set"].any()


def test_nearer_than_others():
    from course_lib.data.synthetic.captions import nearer_than_others

    centers = torch.tensor([[[4.0, 4.0], [20.0, 4.0], [0.0, 0.0]], [[12.0, 12.0], [0.0, 0.0], [0.0, 0.0]]])
    n = torch.tensor([2, 1])
    cells = torch.tensor([0, 35])  # cell 0 is centred on (4, 4); cell 35 on (44, 44)
    assert nearer_than_others(cells, centers, n, torch.tensor([0, 0])).tolist() == [True, True]  # alone: any cell
    assert nearer_than_others(cells, centers, n, torch.tensor([1, 0])).tolist() == [False, True]
    tie = torch.tensor([[[4.0, 4.0], [20.0, 4.0], [0.0, 0.0]]])  # cell 1 (12, 4): as near both digits
    assert not nearer_than_others(torch.tensor([1]), tie, torch.tensor([2]), torch.tensor([0])).any()
