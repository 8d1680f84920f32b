"""Benchmark: training tokens/s of a character LM with the course's LSTM cell (:mod:`course_lib.layers.recurrent`,
a Python loop over time steps) against the same model on ``nn.LSTM`` (cuDNN on CUDA, a fused kernel on CPU).

Both train with :func:`course_lib.engine.train_step` (Adam, cross-entropy over every step) on random character ids
(``--vocab`` symbols, ``--batch`` windows of ``--seq-len``), ``--hidden`` units; each is timed over ``--steps``
steps after a warm-up (:func:`course_lib.tools.timing.measure`: ``torch.utils.benchmark.Timer``), interleaved
``--repeats`` times, and the median is reported with the ratio, then ``Compare``'s table. CPU timings
depend on the thread count: compare at ``OMP_NUM_THREADS=1`` (or ``--threads 1``), and note the machine's load::

    OMP_NUM_THREADS=1 python -m course_lib.tools.bench_rnn [--device cpu] [--hidden 256] [--steps 5]
"""

from __future__ import annotations

import argparse

import torch
from torch.utils.benchmark import Measurement

from ..config import get_device
from ..engine import train_step
from ..models.sequence import CharLM
from ..ops.losses import sequence_cross_entropy
from .timing import Case, compare_table, measure


def measure_training(
    device: torch.device,
    hidden: int = 256,
    batch: int = 32,
    seq_len: int = 64,
    vocab: int = 65,
    steps: int = 5,
    repeats: int = 3,
) -> tuple[dict[str, Measurement], int]:
    """``({"course": ..., "torch": ...}, tokens per step)``: the seconds per training step of each LSTM.

    Each round times ``steps`` training steps of each model in one block (``Timer.timeit(steps)``, a fresh Adam made
    outside the timing), after two untimed ones (its warm-up).
    """
    g = torch.Generator().manual_seed(0)
    x = torch.randint(0, vocab, (batch, seq_len + 1), generator=g).to(device)
    x, y = x[:, :-1], x[:, 1:]
    cases = {}
    for name, cell in (("course", "course_lstm"), ("torch", "lstm")):
        torch.manual_seed(0)
        model = CharLM(vocab, hidden, cell=cell).to(device)
        cases[name] = Case(
            run=lambda opt, model=model: train_step(model, x, y, opt, loss_fn=sequence_cross_entropy),
            setup=lambda model=model: torch.optim.Adam(model.parameters(), lr=1e-3),
            description=f"{name} LSTM",
        )
    runs = measure(cases, device, label="char LM training step", sub_label=str(device), repeats=repeats, number=steps)
    return runs, x.numel()


def tokens_per_second(runs: dict[str, Measurement], tokens: int) -> dict[str, float]:
    """Median training tokens/s of each and their ratio (course / torch)."""
    out = {f"{name}_tokens_per_s": tokens / m.median for name, m in runs.items()}
    out["ratio"] = out["course_tokens_per_s"] / out["torch_tokens_per_s"]
    return out


def bench(device: torch.device, **options) -> dict[str, float]:
    """Median training tokens/s of the course's LSTM and of ``nn.LSTM``, and their ratio (course / torch).

    ``options`` are :func:`measure_training`'s (hidden, batch, seq_len, vocab, steps, repeats)."""
    return tokens_per_second(*measure_training(device, **options))


def main(argv: list[str] | None = None) -> dict[str, float]:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--device", default="auto")
    p.add_argument("--hidden", type=int, default=256)
    p.add_argument("--batch", type=int, default=32)
    p.add_argument("--seq-len", type=int, default=64)
    p.add_argument("--vocab", type=int, default=65)
    p.add_argument("--steps", type=int, default=5)
    p.add_argument("--repeats", type=int, default=3)
    p.add_argument("--threads", type=int, default=0, help="torch.set_num_threads (0: leave as is)")
    a = p.parse_args(argv)
    if a.threads:
        torch.set_num_threads(a.threads)
    device = get_device(a.device)
    runs, tokens = measure_training(device, a.hidden, a.batch, a.seq_len, a.vocab, a.steps, a.repeats)
    r = tokens_per_second(runs, tokens)
    print(
        f"char LM training, LSTM {a.hidden} units, batch {a.batch} x {a.seq_len} characters, vocabulary {a.vocab}, "
        f"{device}, {torch.get_num_threads()} thread(s), median of {a.repeats} x {a.steps} steps"
    )
    print(f"course LSTM cell: {r['course_tokens_per_s']:,.0f} tokens/s")
    print(f"nn.LSTM:          {r['torch_tokens_per_s']:,.0f} tokens/s")
    print(f"course / torch:   {r['ratio']:.2f}x")
    print(compare_table(runs.values()))
    return r


if __name__ == "__main__":
    main()
