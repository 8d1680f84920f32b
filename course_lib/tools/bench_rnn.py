"""Benchmark: training tokens/s of a character LM with the course's LSTM cell (:mod:`course_lib.layers.recurrent`,
a Python loop over time steps) against the same model on ``nn.LSTM`` (cuDNN on CUDA, a fused kernel on CPU).

Both train with :func:`course_lib.engine.train_step` (Adam, cross-entropy over every step) on random character ids
(``--vocab`` symbols, ``--batch`` windows of ``--seq-len``), ``--hidden`` units; each is timed over ``--steps``
steps after a warm-up, interleaved ``--repeats`` times, and the median is reported with the ratio. CPU timings
depend on the thread count: compare at ``OMP_NUM_THREADS=1`` (or ``--threads 1``), and note the machine's load::

    OMP_NUM_THREADS=1 python -m course_lib.tools.bench_rnn [--device cpu] [--hidden 256] [--steps 5]
"""

from __future__ import annotations

import argparse
import statistics
import time

import torch

from ..config import get_device
from ..engine import synchronize, train_step
from ..models.sequence import CharLM
from ..ops.losses import sequence_cross_entropy


def _tokens_per_second(model: CharLM, x: torch.Tensor, y: torch.Tensor, steps: int) -> float:
    opt = torch.optim.Adam(model.parameters(), lr=1e-3)
    synchronize(x.device)
    t0 = time.perf_counter()
    for _ in range(steps):
        train_step(model, x, y, opt, loss_fn=sequence_cross_entropy)
    synchronize(x.device)
    return steps * x.numel() / (time.perf_counter() - t0)


def bench(
    device: torch.device,
    hidden: int = 256,
    batch: int = 32,
    seq_len: int = 64,
    vocab: int = 65,
    steps: int = 5,
    repeats: int = 3,
) -> dict[str, float]:
    """Median training tokens/s of the course's LSTM and of ``nn.LSTM``, and their ratio (course / torch)."""
    g = torch.Generator().manual_seed(0)
    x = torch.randint(0, vocab, (batch, seq_len + 1), generator=g).to(device)
    x, y = x[:, :-1], x[:, 1:]
    models = {}
    for name, cell in (("course", "course_lstm"), ("torch", "lstm")):
        torch.manual_seed(0)
        models[name] = CharLM(vocab, hidden, cell=cell).to(device)
        _tokens_per_second(models[name], x, y, 1)  # warm-up
    runs = {name: [] for name in models}
    for _ in range(repeats):
        for name, model in models.items():
            runs[name].append(_tokens_per_second(model, x, y, steps))
    out = {f"{name}_tokens_per_s": statistics.median(r) for name, r in runs.items()}
    out["ratio"] = out["course_tokens_per_s"] / out["torch_tokens_per_s"]
    return out


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
    r = bench(device, a.hidden, a.batch, a.seq_len, a.vocab, a.steps, a.repeats)
    print(
        f"char LM training, LSTM {a.hidden} units, batch {a.batch} x {a.seq_len} characters, vocabulary {a.vocab}, "
        f"{device}, {torch.get_num_threads()} thread(s), median of {a.repeats} x {a.steps} steps"
    )
    print(f"course LSTM cell: {r['course_tokens_per_s']:,.0f} tokens/s")
    print(f"nn.LSTM:          {r['torch_tokens_per_s']:,.0f} tokens/s")
    print(f"course / torch:   {r['ratio']:.2f}x")
    return r


if __name__ == "__main__":
    main()
