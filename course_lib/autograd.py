"""A scalar reverse-mode automatic differentiation engine: back-propagation on a graph, written out.

Lecture: STA211 "Deep Learning Modules" (N. Thome) and the CVPR-style "Deep learning" lecture,
*backprop on DAGs*: a network is a directed acyclic graph of modules; the backward pass
visits it in reverse topological order, each node sends ``local derivative x upstream
signal`` to its inputs, and **signals are added up where paths merge** (the multivariate
chain rule). A weight used twice (tied weights) is one node with two outgoing paths, so its
gradient is the sum over its copies.

In the spirit of Karpathy's micrograd (MIT licence); tested against ``torch.autograd``
on random expression graphs (``tests/test_autograd.py``).

Example::

    x, a, b = Value(2.0), Value(3.0), Value(1.0)
    g = (x * x) * (a * x + b)    # g(f(x), h(x)) = x^2 (a x + b)
    g.backward()
    x.grad                       # 2 x (a x + b) + a x^2 = 40.0
"""

from __future__ import annotations

import math
from collections.abc import Callable, Iterable

Number = int | float


class Value:
    """A scalar node of a computation graph, with its value ``data`` and its gradient ``grad``.

    Supported operations: ``+ - * /``, ``**`` (a constant exponent), ``tanh``, ``relu``,
    ``sigmoid``, ``exp``, ``log``. Plain numbers are wrapped as constant nodes.

    Attributes:
        data: the value computed by the forward pass.
        grad: d(output)/d(this node), filled by :meth:`backward` (0 before).
        parents: the nodes this one was computed from (empty for leaves).
        op: the operation that produced it (``""`` for leaves), for display.
        label: an optional name, for display.
    """

    __slots__ = ("_backward", "data", "grad", "label", "op", "parents")

    def __init__(self, data: Number, parents: tuple[Value, ...] = (), op: str = "", label: str = "") -> None:
        if isinstance(data, Value):
            raise ValueError("Value(data) expects a number, got a Value; use the Value itself")
        self.data = float(data)
        self.grad = 0.0
        self.parents = parents
        self.op = op
        self.label = label
        self._backward: Callable[[], None] = lambda: None

    # ---- forward: each operation records how to send its upstream gradient to its parents ----
    def __add__(self, other: Value | Number) -> Value:
        other = other if isinstance(other, Value) else Value(other)
        out = Value(self.data + other.data, (self, other), "+")

        def _backward() -> None:  # d(a+b)/da = d(a+b)/db = 1
            self.grad += out.grad
            other.grad += out.grad

        out._backward = _backward
        return out

    def __mul__(self, other: Value | Number) -> Value:
        other = other if isinstance(other, Value) else Value(other)
        out = Value(self.data * other.data, (self, other), "*")

        def _backward() -> None:  # d(ab)/da = b, d(ab)/db = a; "+=": paths that merge add up
            self.grad += other.data * out.grad
            other.grad += self.data * out.grad

        out._backward = _backward
        return out

    def __pow__(self, exponent: Number) -> Value:
        if not isinstance(exponent, int | float):
            raise ValueError(f"only constant exponents are supported, got {type(exponent).__name__}")
        out = Value(self.data**exponent, (self,), f"**{exponent:g}")

        def _backward() -> None:
            self.grad += exponent * self.data ** (exponent - 1) * out.grad

        out._backward = _backward
        return out

    def tanh(self) -> Value:
        t = math.tanh(self.data)
        out = Value(t, (self,), "tanh")

        def _backward() -> None:
            self.grad += (1.0 - t * t) * out.grad

        out._backward = _backward
        return out

    def relu(self) -> Value:
        out = Value(self.data if self.data > 0 else 0.0, (self,), "relu")

        def _backward() -> None:  # the derivative at 0 is taken as 0, as in torch
            self.grad += (1.0 if self.data > 0 else 0.0) * out.grad

        out._backward = _backward
        return out

    def sigmoid(self) -> Value:
        s = 1.0 / (1.0 + math.exp(-self.data)) if self.data >= 0 else math.exp(self.data) / (1.0 + math.exp(self.data))
        out = Value(s, (self,), "sigmoid")

        def _backward() -> None:
            self.grad += s * (1.0 - s) * out.grad

        out._backward = _backward
        return out

    def exp(self) -> Value:
        e = math.exp(self.data)
        out = Value(e, (self,), "exp")

        def _backward() -> None:
            self.grad += e * out.grad

        out._backward = _backward
        return out

    def log(self) -> Value:
        if self.data <= 0:
            raise ValueError(f"log of a non-positive value {self.data}")
        out = Value(math.log(self.data), (self,), "log")

        def _backward() -> None:
            self.grad += out.grad / self.data

        out._backward = _backward
        return out

    # ---- derived operations (built from the ones above, so they need no backward of their own) ----
    def __neg__(self) -> Value:
        return self * -1.0

    def __sub__(self, other: Value | Number) -> Value:
        return self + (-other)

    def __truediv__(self, other: Value | Number) -> Value:
        return self * (other**-1.0 if isinstance(other, Value) else 1.0 / other)

    def __radd__(self, other: Number) -> Value:
        return self + other

    def __rmul__(self, other: Number) -> Value:
        return self * other

    def __rsub__(self, other: Number) -> Value:
        return (-self) + other

    def __rtruediv__(self, other: Number) -> Value:
        return Value(other) * self**-1.0

    # ---- backward ----
    def topological_order(self) -> list[Value]:
        """Every node this one depends on (itself included), each after all of its parents."""
        order: list[Value] = []
        seen: set[int] = set()
        stack: list[tuple[Value, bool]] = [(self, False)]
        while stack:  # iterative depth-first search: deep graphs do not hit Python's recursion limit
            node, expanded = stack.pop()
            if expanded:
                order.append(node)
                continue
            if id(node) in seen:
                continue
            seen.add(id(node))
            stack.append((node, True))
            stack.extend((p, False) for p in node.parents if id(p) not in seen)
        return order

    def backward(self) -> None:
        """Reverse-mode differentiation: fill ``grad`` of every node with d(self)/d(node).

        Leaves accumulate (``+=``) like torch's ``.grad``: call :func:`zero_grad` between two
        backward passes over the same leaves. Inner nodes are reset, so a second call is not
        polluted by the first.
        """
        order = self.topological_order()
        for node in order:
            if node.parents:
                node.grad = 0.0
        self.grad = 1.0
        for node in reversed(order):  # children before parents: a node's grad is complete when it is used
            node._backward()

    def __repr__(self) -> str:
        name = f"{self.label}=" if self.label else ""
        return f"Value({name}{self.data:.6g}, grad={self.grad:.6g})"


def zero_grad(values: Iterable[Value]) -> None:
    """Reset the gradients of ``values`` to 0."""
    for v in values:
        v.grad = 0.0


def count_paths(output: Value, leaf: Value) -> int:
    """Number of distinct paths from ``leaf`` to ``output`` in the graph (the terms of the chain rule's sum)."""
    paths: dict[int, int] = {id(leaf): 1}
    for node in output.topological_order():
        if node is not leaf:
            paths[id(node)] = sum(paths.get(id(p), 0) for p in node.parents)
    return paths.get(id(output), 0)
