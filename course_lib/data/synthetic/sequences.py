"""Seeded sequence tasks: the adding problem, the copy (memory) task, and a date-translation task.

- Adding problem (Hochreiter & Schmidhuber 1997, experiment 4; in the form of Le et al. 2015 and Arjovsky et al.
  2016): ``T`` random values in ``[0, 1]``, two of them marked (one in each half); the target is their sum.
  Predicting the mean, 1, gives the trivial MSE ``Var(U1 + U2) = 1/6`` (:data:`ADDING_BASELINE_MSE`).
- Copy / memory task (Hochreiter & Schmidhuber 1997; Arjovsky et al. 2016): ``length`` symbols, a lag of
  ``lag`` blanks, a delimiter, then the net must output the symbols; chance is ``1 / n_symbols`` per symbol.
- Dates (the classic attention toy task): a date written in one of many textual forms (``"3 March 1987"``,
  ``"Tue, Mar 3, 87"``, ``"03/03/1987"``...) to its ISO form ``"1987-03-03"``; a seeded train/test split.
"""

from __future__ import annotations

import datetime as dt
import random
from dataclasses import dataclass

import torch
from torch import Tensor

ADDING_BASELINE_MSE = 1 / 6  # predict 1 whatever the input: the variance of the sum of two U(0, 1)


def _generator(seed: int) -> torch.Generator:
    return torch.Generator().manual_seed(seed)


def adding_problem(n: int, T: int, seed: int = 0, device: torch.device | str | None = None) -> tuple[Tensor, Tensor]:
    """``n`` sequences of the adding problem of length ``T``.

    Returns:
        ``x Tensor[n, T, 2]`` (channel 0: the values, channel 1: the two markers) and ``y Tensor[n]``, the sum of the
        two marked values (one marker uniform in the first half, the other in the second half).
    """
    if n < 1 or T < 2:
        raise ValueError(f"need n >= 1 and T >= 2, got n={n}, T={T}")
    g = _generator(seed)
    values = torch.rand(n, T, generator=g)
    first = torch.randint(0, T // 2, (n,), generator=g)
    second = torch.randint(T // 2, T, (n,), generator=g)
    marks = torch.zeros(n, T)
    rows = torch.arange(n)
    marks[rows, first] = 1.0
    marks[rows, second] = 1.0
    y = values[rows, first] + values[rows, second]
    return torch.stack([values, marks], -1).to(device), y.to(device)


def copy_task(
    n: int, lag: int, length: int = 5, n_symbols: int = 8, seed: int = 0, device: torch.device | str | None = None
) -> tuple[Tensor, Tensor]:
    """``n`` sequences of the copy task: remember ``length`` symbols over ``lag`` blank steps.

    Token ids: ``0..n_symbols-1`` the symbols, ``n_symbols`` the blank, ``n_symbols + 1`` the delimiter.
    Input: the symbols, ``lag`` blanks, the delimiter, ``length - 1`` blanks (total ``2 * length + lag``).
    Target: blanks everywhere except the last ``length`` steps, which hold the symbols.

    Returns:
        ``x Tensor[n, L]`` and ``y Tensor[n, L]`` (long), ``L = 2 * length + lag``.
    """
    if n < 1 or lag < 0 or length < 1 or n_symbols < 2:
        raise ValueError(f"need n >= 1, lag >= 0, length >= 1, n_symbols >= 2; got {n}, {lag}, {length}, {n_symbols}")
    blank, delim = n_symbols, n_symbols + 1
    symbols = torch.randint(0, n_symbols, (n, length), generator=_generator(seed))
    pad = torch.full((n, lag), blank)
    tail = torch.full((n, length - 1), blank)
    x = torch.cat([symbols, pad, torch.full((n, 1), delim), tail], 1)
    y = torch.cat([torch.full((n, length + lag), blank), symbols], 1)
    return x.to(device), y.to(device)


MONTHS = [
    "January",
    "February",
    "March",
    "April",
    "May",
    "June",
    "July",
    "August",
    "September",
    "October",
    "November",
    "December",
]
DAYS = ["Monday", "Tuesday", "Wednesday", "Thursday", "Friday", "Saturday", "Sunday"]
FORMATS = (  # each a function of a date -> text
    lambda d: f"{d.day} {MONTHS[d.month - 1]} {d.year}",
    lambda d: f"{MONTHS[d.month - 1]} {d.day}, {d.year}",
    lambda d: f"{DAYS[d.weekday()]}, {MONTHS[d.month - 1]} {d.day}, {d.year}",
    lambda d: f"{DAYS[d.weekday()]} {d.day} {MONTHS[d.month - 1]} {d.year}",
    lambda d: f"{DAYS[d.weekday()][:3]}, {MONTHS[d.month - 1][:3]} {d.day}, {d.year % 100:02d}",
    lambda d: f"{d.day:02d}/{d.month:02d}/{d.year}",
    lambda d: f"{d.day}.{d.month}.{d.year % 100:02d}",
    lambda d: f"{MONTHS[d.month - 1][:3].lower()} {d.day} {d.year}",
    lambda d: f"{d.day} {MONTHS[d.month - 1][:3].upper()} {d.year}",
    lambda d: f"the {d.day} of {MONTHS[d.month - 1].lower()}, {d.year}",
)
PAD, BOS, EOS = 0, 1, 2
SPECIAL = ["<pad>", "<s>", "</s>"]
SOURCE_CHARS = SPECIAL + sorted(
    set("".join(f(dt.date(2000 + k, m, 1 + k)) for f in FORMATS for m in range(1, 13) for k in range(28)))
    | set("0123456789")
)
TARGET_CHARS = SPECIAL + list("0123456789-")


@dataclass
class DateTranslation:
    """Dates as ``(source text, ISO target)``, encoded: ids ``Tensor[N, L]`` padded with ``PAD``, targets end in
    ``EOS``. ``src_lengths``: characters of each source; ``texts``/``isos``: the strings."""

    src: Tensor
    tgt: Tensor
    src_lengths: Tensor
    texts: list[str]
    isos: list[str]

    def decode_target(self, ids: Tensor) -> list[str]:
        """ISO strings of target ids ``Tensor[N, L]`` (cut at the first ``EOS``)."""
        out = []
        for row in ids.tolist():
            row = row[: row.index(EOS)] if EOS in row else row
            out.append("".join(TARGET_CHARS[i] for i in row if i >= len(SPECIAL)))
        return out


def _encode(texts: list[str], chars: list[str], width: int, eos: bool) -> Tensor:
    index = {c: i for i, c in enumerate(chars)}
    out = torch.full((len(texts), width), PAD, dtype=torch.long)
    for r, t in enumerate(texts):
        ids = [index[c] for c in t] + ([EOS] if eos else [])
        out[r, : len(ids)] = torch.tensor(ids)
    return out


def date_translation(
    n_train: int, n_test: int, seed: int = 0, device: torch.device | str | None = None
) -> tuple[DateTranslation, DateTranslation]:
    """Random dates between 1950 and 2049 in the textual forms of :data:`FORMATS` (uniformly), and their ISO form.

    Train and test hold different dates (a seeded split of distinct dates). Sources are padded to the longest
    form; targets are the 10 ISO characters and ``EOS``.
    """
    if n_train < 1 or n_test < 1:
        raise ValueError(f"need n_train, n_test >= 1, got {n_train}, {n_test}")
    rng = random.Random(seed)
    first, span = dt.date(1950, 1, 1).toordinal(), (dt.date(2049, 12, 31) - dt.date(1950, 1, 1)).days + 1
    if n_train + n_test > span:
        raise ValueError(f"at most {span} distinct dates, asked for {n_train + n_test}")
    days = rng.sample(range(span), n_train + n_test)
    width = max(len(f(dt.date(2000, 9, 27))) for f in FORMATS) + 2  # "Wednesday, September 27, 2000" is the longest
    sets = []
    for part in (days[:n_train], days[n_train:]):
        dates = [dt.date.fromordinal(first + d) for d in part]
        texts = [FORMATS[rng.randrange(len(FORMATS))](d) for d in dates]
        isos = [d.isoformat() for d in dates]
        src = _encode(texts, SOURCE_CHARS, width, eos=False)
        tgt = _encode(isos, TARGET_CHARS, 11, eos=True)
        lengths = torch.tensor([len(t) for t in texts])
        sets.append(DateTranslation(src.to(device), tgt.to(device), lengths.to(device), texts, isos))
    return sets[0], sets[1]
