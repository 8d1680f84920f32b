"""Sequence data (Tiny Shakespeare windows, adding, copy, dates), the char LM, the encoder-decoder, text metrics."""

from __future__ import annotations

import math

import pytest
import torch
import torch.nn.functional as F

from course_lib.data import (
    ADDING_BASELINE_MSE,
    CharVocab,
    adding_problem,
    char_streams,
    char_windows,
    copy_task,
    date_translation,
    shakespeare_corpus,
)
from course_lib.data.synthetic.sequences import EOS, FILLER_WORDS, FORMATS, SOURCE_SEP, TARGET_SEP
from course_lib.metrics.text import bits_per_character, exact_match, sequence_cross_entropy
from course_lib.models import CharLM, Seq2Seq
from course_lib.models.sequence import TruncatedBPTT


def test_shakespeare_corpus_is_contiguous_and_round_trips(device):
    corpus = shakespeare_corpus(0.1, device=device)
    assert len(corpus.vocab) == 65 and corpus.train.device.type == device.type
    assert len(corpus.train) + len(corpus.val) == 1_115_394
    assert corpus.vocab.decode(corpus.train[:14]) == "First Citizen:"
    x, y = char_windows(corpus.val, 32)
    assert x.shape == y.shape == (len(corpus.val) // 32 - (len(corpus.val) % 32 == 0), 32)
    torch.testing.assert_close(x[:, 1:], y[:, :-1])  # the target is the input shifted by one character
    torch.testing.assert_close(x[1, 0], corpus.val[32])
    xs, _ = char_windows(corpus.train, 16, n=10, seed=3)
    torch.testing.assert_close(xs, char_windows(corpus.train, 16, n=10, seed=3)[0])


def test_vocab_rejects_unknown_characters():
    v = CharVocab("abc")
    assert v.decode(v.encode("cab")) == "cab"
    with pytest.raises(ValueError, match="outside the vocabulary"):
        v.encode("abz")


def test_adding_problem_targets_and_trivial_baseline():
    x, y = adding_problem(20_000, 30, seed=1)
    assert x.shape == (20_000, 30, 2) and y.shape == (20_000,)
    assert (x[..., 1].sum(1) == 2).all()
    assert (x[:, :15, 1].sum(1) == 1).all()  # one marker in each half
    torch.testing.assert_close((x[..., 0] * x[..., 1]).sum(1), y)
    assert abs(float(((y - 1) ** 2).mean()) - ADDING_BASELINE_MSE) < 0.01
    torch.testing.assert_close(adding_problem(5, 30, seed=1)[0], adding_problem(5, 30, seed=1)[0])


def test_copy_task_layout():
    x, y = copy_task(3, lag=4, length=2, n_symbols=5, seed=0)
    assert x.shape == y.shape == (3, 2 * 2 + 4)
    torch.testing.assert_close(y[:, -2:], x[:, :2])
    assert (x[:, 6] == 6).all() and (y[:, :6] == 5).all()


def test_dates_split_is_seeded_disjoint_and_encoded():
    tr, te = date_translation(300, 100, seed=4)
    assert not set(tr.isos) & set(te.isos)
    assert tr.decode_target(tr.tgt) == tr.isos
    assert (tr.tgt[:, -1] == EOS).all() and tr.src.shape[0] == 300
    assert (tr.src != 0).sum(1).tolist() == tr.src_lengths.tolist()
    assert date_translation(300, 100, seed=4)[0].texts == tr.texts
    assert len(set(map(len, tr.texts))) > 5 and len(FORMATS) >= 8
    assert all(span == [(0, len(t))] for span, t in zip(tr.spans, tr.texts))  # no filler: the date is the source


def test_dates_with_filler_and_several_dates():
    tr, te = date_translation(400, 100, seed=1, dates=(1, 3), filler=(0, 60))
    assert tr.decode_target(tr.tgt) == tr.isos
    assert (tr.src != 0).sum(1).tolist() == tr.src_lengths.tolist() == [len(t) for t in tr.texts]
    days = lambda d: {x for iso in d.isos for x in iso.split(TARGET_SEP)}
    assert not days(tr) & days(te)  # the split is by date, whatever the number per source
    for text, iso, spans in zip(tr.texts, tr.isos, tr.spans):
        assert len(spans) == len(iso.split(TARGET_SEP))
        for (_, b), day in zip(spans, iso.split(TARGET_SEP)):
            assert text[b - 2 : b] == day[2:4]  # every textual form ends with the year
        a, b = spans[0][0], spans[-1][1]
        assert text[a:b].count(SOURCE_SEP) == len(spans) - 1
        outside = (text[:a] + text[b:]).split()
        assert set(outside) <= set(FILLER_WORDS) and not any(c.isdigit() for c in text[:a] + text[b:])
    assert max(tr.src_lengths.tolist()) > 80 and min(tr.src_lengths.tolist()) < 20
    with pytest.raises(ValueError, match="dates"):
        date_translation(10, 10, dates=(0, 2))
    with pytest.raises(ValueError, match="filler"):
        date_translation(10, 10, filler=(5, 1))


@pytest.mark.parametrize("cell", ["rnn", "gru", "lstm", "course_lstm"])
def test_char_lm_shapes_and_sampling(cell, device):
    torch.manual_seed(0)
    lm = CharLM(11, 16, cell=cell).to(device)
    x = torch.randint(0, 11, (3, 7), device=device)
    assert lm(x).shape == (3, 7, 11)
    s1 = lm.sample(x[0, :3], 5, temperature=0.8, generator=torch.Generator().manual_seed(1))
    s2 = lm.sample(x[0, :3], 5, temperature=0.8, generator=torch.Generator().manual_seed(1))
    assert s1.shape == (5,) and torch.equal(s1, s2)
    greedy = lm.sample(x[0, :3], 1, temperature=0)
    assert int(greedy[0]) == int(lm(x[:1, :3])[0, -1].argmax())


def test_char_lm_sampling_restores_the_modes_even_on_error():
    """``sample`` runs in eval mode through ``eval_mode``: the modes come back after it, and after a failing step."""
    torch.manual_seed(0)
    lm = CharLM(7, 8, cell="gru").train()
    lm.embed.eval()  # a sub-module in its own mode
    before = [m.training for m in lm.modules()]
    lm.sample(torch.tensor([1, 2]), 3, temperature=0)
    assert [m.training for m in lm.modules()] == before
    with pytest.raises(IndexError):
        lm.sample(torch.tensor([1, 99]), 3)  # an id outside the vocabulary fails inside the eval block
    assert [m.training for m in lm.modules()] == before


def test_char_lm_incremental_state_matches_full_forward():
    torch.manual_seed(0)
    lm = CharLM(9, 8, cell="course_lstm").double()
    x = torch.randint(0, 9, (2, 6))
    full = lm(x)
    first, state = lm(x[:, :4], return_state=True)
    rest = lm(x[:, 4:], state)
    torch.testing.assert_close(torch.cat([first, rest], 1), full)


@pytest.mark.parametrize("attention", [False, True])
def test_seq2seq_teacher_forcing_and_greedy_agree(attention, device):
    torch.manual_seed(0)
    model = Seq2Seq(20, 14, hidden_size=8, embed_dim=6, attention=attention).to(device).eval()
    src = torch.randint(3, 20, (4, 9), device=device)
    src[0, 5:] = 0  # padding
    ids, attn = model.greedy_decode(src, 6)
    logits = model(src, ids)  # teacher forcing on the greedy output reproduces it
    assert logits.shape == (4, 6, 14)
    torch.testing.assert_close(logits.argmax(-1), ids)
    if attention:
        assert attn.shape == (4, 6, 9)
        torch.testing.assert_close(attn.sum(-1), torch.ones(4, 6, device=device))
        assert float(attn[0, :, 5:].abs().max()) == 0  # no weight on padding
    else:
        assert attn is None


def test_padding_does_not_change_the_encoding():
    torch.manual_seed(0)
    model = Seq2Seq(20, 14, hidden_size=8, embed_dim=6).double().eval()
    src = torch.randint(3, 20, (2, 5))
    padded = torch.cat([src, torch.zeros(2, 3, dtype=torch.long)], 1)
    tgt = torch.randint(3, 14, (2, 4))
    torch.testing.assert_close(model(src, tgt), model(padded, tgt))


def test_text_metrics_against_torch():
    torch.manual_seed(0)
    logits, y = torch.randn(3, 5, 7), torch.randint(0, 7, (3, 5))
    ce = F.cross_entropy(logits.reshape(15, 7), y.reshape(15))
    torch.testing.assert_close(sequence_cross_entropy(logits, y), ce)
    assert math.isclose(bits_per_character(logits, y), float(ce) / math.log(2), rel_tol=1e-6)
    uniform = torch.zeros(2, 4, 8)
    assert math.isclose(bits_per_character(uniform, torch.zeros(2, 4, dtype=torch.long)), 3.0, rel_tol=1e-6)
    pred = torch.tensor([[1, 2, 0], [1, 3, 0]])
    assert exact_match(pred, torch.tensor([[1, 2, 0], [1, 2, 0]])).tolist() == [True, False]


def test_char_streams_read_each_stream_in_order():
    ids = torch.arange(50)
    x, y = char_streams(ids, batch=3, seq_len=4)  # 49 // 12 = 4 windows per stream, streams of 16
    assert x.shape == y.shape == (12, 4)
    torch.testing.assert_close(y, x + 1)
    for b in range(3):
        stream = torch.cat([x[k * 3 + b] for k in range(4)])
        torch.testing.assert_close(stream, torch.arange(16 * b, 16 * (b + 1)))
    with pytest.raises(ValueError, match="too few"):
        char_streams(torch.arange(10), batch=4, seq_len=4)


@pytest.mark.parametrize("cell", ["rnn", "lstm", "gru"])
def test_truncated_bptt_carries_the_state_and_cuts_the_gradient(cell, device):
    torch.manual_seed(0)
    lm = CharLM(7, 6, cell=cell).to(device)
    x = torch.randint(0, 7, (2, 10), device=device)
    model = TruncatedBPTT(lm)
    first, second = model(x[:, :5]), model(x[:, 5:])
    torch.testing.assert_close(torch.cat([first, second], 1), lm(x))  # two windows read as one sequence
    state = model.state[0] if isinstance(model.state, tuple) else model.state
    assert not state.requires_grad
    second.sum().backward()  # stops at the window's start: only the second window's graph
    model.reset()
    torch.testing.assert_close(model(x[:, 5:]), lm(x[:, 5:]))
    torch.testing.assert_close(model(x[:1, :5]), lm(x[:1, :5]))  # another batch size starts from zero


def test_fresh_text_starts_and_ends_with_a_zero_state():
    torch.manual_seed(0)
    lm = CharLM(7, 6, cell="lstm")
    model = TruncatedBPTT(lm)
    x = torch.randint(0, 7, (2, 10))
    model(x[:, :5])  # a state left by "training"
    loader = model.fresh_text([(x[:, :5], x[:, 1:6]), (x[:, 5:], x[:, 5:])])
    assert len(loader) == 2
    outs = [model(xb) for xb, _ in loader]
    torch.testing.assert_close(torch.cat(outs, 1), lm(x))  # the text read from a zero state, in order
    assert model.state is None  # and nothing carried out of it


def test_forget_bias_sets_the_forget_gate_only():
    lm = CharLM(7, 5, cell="lstm", forget_bias=1.0)
    total = lm.rnn.bias_ih_l0 + lm.rnn.bias_hh_l0
    torch.testing.assert_close(total[5:10], torch.ones(5))
    with pytest.raises(ValueError, match="forget_bias is for cell='lstm'"):
        CharLM(7, 5, cell="gru", forget_bias=1.0)
