"""Seeded sequence tasks: the adding problem, the copy (memory) task, and a date-translation task.

- Adding problem (Hochreiter & Schmidhuber 1997, experiment 4; in the form of Le et al. 2015 and Arjovsky et al.
  2016): ``T`` random values in ``[0, 1]``, two of them marked (one in each half); the target is their sum.
  Predicting the mean, 1, gives the trivial MSE ``Var(U1 + U2) = 1/6`` (:data:`ADDING_BASELINE_MSE`).
- Copy / memory task (Hochreiter & Schmidhuber 1997; Arjovsky et al. 2016): ``length`` symbols, a lag of
  ``lag`` blanks, a delimiter, then the net must output the symbols; chance is ``1 / n_symbols`` per symbol.
- Dates (the classic attention toy task): a date written in one of many textual forms (``"3 March 1987"``,
  ``"Tue, Mar 3, 87"``, ``"03/03/1987"``...) to its ISO form ``"1987-03-03"``; a seeded train/test split. Several
  dates per source (``"3 March 1987; 12/01/2003"`` -> ``"1987-03-03 2003-01-12"``) make the sources span a wide
  range of lengths, and what a fixed-length summary must hold grow with them (Bahdanau et al. 2014, Fig. 2).
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
    | set("0123456789;")
)
TARGET_CHARS = SPECIAL + list("0123456789- ")
SOURCE_SEP, TARGET_SEP = "; ", " "  # between the dates of one source, of one target
FILLER_WORDS = "as said in our letter sent by post on the day before this note i hope to see you then".split()


@dataclass
class DateTranslation:
    """Dates as ``(source text, ISO target)``, encoded: ids ``Tensor[N, L]`` padded with ``PAD``, targets end in
    ``EOS``. ``src_lengths``: characters of each source; ``texts``/``isos``: the strings (several dates joined by
    :data:`SOURCE_SEP` / :data:`TARGET_SEP`); ``spans``: for each source, the ``(start, end)`` of each of its dates
    in the text, in order (separators and filler excluded)."""

    src: Tensor
    tgt: Tensor
    src_lengths: Tensor
    texts: list[str]
    isos: list[str]
    spans: list[list[tuple[int, int]]]

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
    n_train: int,
    n_test: int,
    seed: int = 0,
    device: torch.device | str | None = None,
    dates: tuple[int, int] = (1, 1),
    filler: tuple[int, int] = (0, 0),
) -> tuple[DateTranslation, DateTranslation]:
    """Sources of ``k`` random dates between 1950 and 2049 (``k`` uniform in ``dates``, inclusive), each in one of the
    textual forms of :data:`FORMATS` (uniformly), and their ISO forms in the same order.

    Train and test draw from disjoint sets of dates (a seeded split of the days, in proportion to ``n_train`` and
    ``n_test``). With ``filler=(a, b)``, about ``m`` characters of lower-case words (:data:`FILLER_WORDS`, no month
    or day name; ``m`` uniform in ``[a, b]``) surround the dates, split at random before and after them, so that
    a source's length no longer says how much it holds. Sources are padded to the longest possible; targets are
    ``11 k`` characters with ``EOS``.
    """
    lo, hi = dates
    if n_train < 1 or n_test < 1:
        raise ValueError(f"need n_train, n_test >= 1, got {n_train}, {n_test}")
    if not 1 <= lo <= hi:
        raise ValueError(f"dates=(lo, hi) needs 1 <= lo <= hi, got {dates}")
    if not 0 <= filler[0] <= filler[1]:
        raise ValueError(f"filler=(a, b) needs 0 <= a <= b, got {filler}")
    rng = random.Random(seed)
    first, span = dt.date(1950, 1, 1).toordinal(), (dt.date(2049, 12, 31) - dt.date(1950, 1, 1)).days + 1
    days = rng.sample(range(span), span)
    cut = round(span * n_train / (n_train + n_test))
    longest = max(len(f(dt.date(2000, 9, 27))) for f in FORMATS)  # "Wednesday, September 27, 2000"
    width = hi * (longest + len(SOURCE_SEP)) + filler[1] + max(map(len, FILLER_WORDS)) + 4
    sets = []
    for n, pool in ((n_train, days[:cut]), (n_test, days[cut:])):
        texts, isos, spans = [], [], []
        for _ in range(n):
            picks = [dt.date.fromordinal(first + d) for d in rng.sample(pool, rng.randint(lo, hi))]
            parts = [FORMATS[rng.randrange(len(FORMATS))](d) for d in picks]
            words, m = [], rng.randint(*filler)
            while m > 0 and sum(len(w) + 1 for w in words) < m:
                words.append(rng.choice(FILLER_WORDS))
            cut_at = rng.randint(0, len(words))
            before = "".join(w + " " for w in words[:cut_at])
            texts.append(before + " ".join([SOURCE_SEP.join(parts), *words[cut_at:]]))
            starts = [len(before) + sum(len(p) + len(SOURCE_SEP) for p in parts[:k]) for k in range(len(parts))]
            spans.append([(a, a + len(p)) for a, p in zip(starts, parts)])
            isos.append(TARGET_SEP.join(d.isoformat() for d in picks))
        src = _encode(texts, SOURCE_CHARS, width, eos=False)
        tgt = _encode(isos, TARGET_CHARS, 11 * hi, eos=True)
        lengths = torch.tensor([len(t) for t in texts])
        sets.append(DateTranslation(src.to(device), tgt.to(device), lengths.to(device), texts, isos, spans))
    return sets[0], sets[1]
