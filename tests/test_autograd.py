"""The scalar engine against torch.autograd on random expression graphs (shared subexpressions, tied weights)."""

from __future__ import annotations

import math
import random

import pytest
import torch

from course_lib.autograd import Value, count_paths, zero_grad


def _random_graph(rng: random.Random, n_leaves: int, n_ops: int, lib: str, leaves_data: list[float]):
    """Build the same random DAG with Values or float64 torch scalars; nodes are reused (shared subexpressions)."""
    if lib == "engine":
        leaves = [Value(v) for v in leaves_data]
    else:
        leaves = [torch.tensor(v, dtype=torch.float64, requires_grad=True) for v in leaves_data]
    nodes = list(leaves)
    for _ in range(n_ops):
        op = rng.choice(["add", "mul", "sub", "tanh", "relu", "sigmoid", "pow", "div", "exp"])
        a, b = rng.choice(nodes), rng.choice(nodes)  # the same node may be picked twice: a merge
        if op == "add":
            out = a + b
        elif op == "mul":
            out = a * b
        elif op == "sub":
            out = a - b
        elif op == "tanh":
            out = a.tanh()
        elif op == "relu":
            out = a.relu()
        elif op == "sigmoid":
            out = a.sigmoid()
        elif op == "pow":
            out = (a * 0.5).tanh() ** 2
        elif op == "div":
            out = a / ((b * b) + 1.0)
        else:
            out = (a.tanh()).exp()
        nodes.append(out)
    total = nodes[-1]
    for n in nodes[-4:-1]:
        total = total + n * 0.3
    return leaves, total


@pytest.mark.parametrize("seed", range(6))
def test_engine_matches_torch_on_random_graphs(seed: int) -> None:
    data_rng = random.Random(1000 + seed)
    data = [data_rng.uniform(-2, 2) for _ in range(5)]
    leaves_e, out_e = _random_graph(random.Random(seed), 5, 40, "engine", data)
    leaves_t, out_t = _random_graph(random.Random(seed), 5, 40, "torch", data)
    out_e.backward()
    out_t.backward()
    assert out_e.data == pytest.approx(out_t.item(), rel=1e-10, abs=1e-12)
    for le, lt in zip(leaves_e, leaves_t):
        expected = 0.0 if lt.grad is None else lt.grad.item()
        assert le.grad == pytest.approx(expected, rel=1e-9, abs=1e-12)


def test_lecture_dag_example() -> None:
    """g(f(x), h(x)) = x^2 (a x + b): dg/dx = 2x(ax+b) + a x^2, the sum over the two paths from x."""
    x, a, b = Value(2.0), Value(3.0), Value(1.0)
    g = (x * x) * (a * x + b)
    g.backward()
    assert g.data == 28.0
    assert x.grad == 2 * 2 * (3 * 2 + 1) + 3 * 2**2 == 40.0
    assert a.grad == 2.0**3 and b.grad == 2.0**2
    assert count_paths(g, x) == 3  # x*x uses x twice, a*x once


def test_tied_weights_sum_over_copies() -> None:
    """y = w (w x): dy/dw = the sum of the gradients of the two copies = x w + w x = 2 w x."""
    w, x = Value(1.5), Value(-2.0)
    y = w * (w * x)
    y.backward()
    assert w.grad == pytest.approx(2 * 1.5 * -2.0)
    wt = torch.tensor(1.5, dtype=torch.float64, requires_grad=True)
    (wt * (wt * -2.0)).backward()
    assert w.grad == pytest.approx(wt.grad.item())


def test_mlp_neuron_against_torch() -> None:
    """A 2-layer tanh network on one input, tied across both layers' shared input."""
    rng = random.Random(3)
    xs = [rng.uniform(-1, 1) for _ in range(3)]
    w1 = [[rng.uniform(-1, 1) for _ in range(3)] for _ in range(4)]
    w2 = [rng.uniform(-1, 1) for _ in range(4)]
    W1 = [[Value(v) for v in row] for row in w1]
    W2 = [Value(v) for v in w2]
    h = [sum((wi * xi for wi, xi in zip(row, xs)), Value(0.0)).tanh() for row in W1]
    y = sum((wi * hi for wi, hi in zip(W2, h)), Value(0.0)).relu() + sum(h, Value(0.0)) ** 2
    y.backward()
    tw1 = torch.tensor(w1, dtype=torch.float64, requires_grad=True)
    tw2 = torch.tensor(w2, dtype=torch.float64, requires_grad=True)
    th = torch.tanh(tw1 @ torch.tensor(xs, dtype=torch.float64))
    ty = torch.relu(tw2 @ th) + th.sum() ** 2
    ty.backward()
    assert y.data == pytest.approx(ty.item())
    assert [v.grad for row in W1 for v in row] == pytest.approx(tw1.grad.flatten().tolist())
    assert [v.grad for v in W2] == pytest.approx(tw2.grad.tolist())


def test_accumulation_and_zero_grad() -> None:
    x = Value(3.0)
    y = x * x
    y.backward()
    y.backward()  # leaves accumulate, inner nodes are recomputed: 2 * 6
    assert x.grad == 12.0
    zero_grad([x])
    y.backward()
    assert x.grad == 6.0


def test_deep_chain_has_no_recursion_limit() -> None:
    x = Value(0.1)
    y = x
    for _ in range(5000):
        y = y * 1.0 + 0.0
    y.backward()
    assert x.grad == pytest.approx(1.0)


def test_bad_inputs() -> None:
    with pytest.raises(ValueError, match="expects a number, got a Value"):
        Value(Value(1.0))
    with pytest.raises(ValueError, match="log of a non-positive value"):
        Value(-1.0).log()
    with pytest.raises(ValueError, match="only constant exponents are supported"):
        Value(2.0) ** Value(2.0)
    assert Value(math.e).log().data == pytest.approx(1.0)
    assert (2.0 / Value(4.0)).data == 0.5 and (1.0 - Value(3.0)).data == -2.0
