"""The reference solution: the teacher's source run in the grader's own process.

The source is trusted code. Its solution cells run once per batch (never in a
sandbox, never copied to one); the hidden trials' inputs are drawn here and the
reference outputs computed here, so a student's process sees the inputs of its
own run and nothing else.
"""

from __future__ import annotations

import contextlib
import hashlib
import io
from dataclasses import dataclass, field

import numpy as np

from . import kit
from .source import Assignment

PUBLIC_ENTROPY = 0x5EED  # the public cases' seed; hidden trials use the grader's seed
SIZE_ATTEMPTS = 1000  # draws tried for a trial whose sizes all differ from each other


@dataclass
class Trial:
    """One set of inputs for an item and what the reference makes of it.

    Attributes
    ----------
    dims : dict of str to int
    inputs : dict of str to ndarray
        The arguments of the (forward) function, in signature order.
    dout : ndarray or None
        For a backward item: the upstream gradient, shaped like the forward's output.
    expected : dict of str to ndarray
        ``"out"`` (forward), each gradient's name (backward) or ``"value"``.
    """

    dims: dict
    inputs: dict = field(default_factory=dict)
    dout: np.ndarray | None = None
    expected: dict = field(default_factory=dict)


class Reference:
    """The teacher's solution, loaded from an :class:`Assignment`.

    Parameters
    ----------
    assignment : Assignment

    Raises
    ------
    ValueError
        If a cell of the source raises, or a graded function or answer is missing from it.
    """

    def __init__(self, assignment: Assignment):
        self.assignment = assignment
        self.namespace = {"__name__": f"numrnn_reference_{assignment.name}"}
        for index, code in enumerate(assignment.reference_cells(), start=1):
            try:
                with contextlib.redirect_stdout(io.StringIO()):  # the cells' prints are not ours
                    exec(
                        compile(code, f"{assignment.path} (code cell {index})", "exec"),
                        self.namespace,
                    )
            except Exception as error:
                raise ValueError(
                    f"the reference solution in {assignment.path} failed in code cell {index}: "
                    f"{type(error).__name__}: {error}"
                ) from error
        for name, item in assignment.grading.items.items():
            if item.check == "value":
                if name not in self.namespace:
                    raise ValueError(
                        f"{assignment.path}: the answer {name} is declared but never assigned"
                    )
            elif not callable(self.namespace.get(name)):
                raise ValueError(
                    f"{assignment.path}: the graded function {name} is declared but not defined"
                )

    def _trial(self, name: str, dims: dict, rng: np.random.Generator) -> Trial:
        grading = self.assignment.grading
        item = grading.items[name]
        trial = Trial(dims=dict(dims))
        if item.check == "value":
            trial.expected["value"] = np.asarray(self.namespace[name], dtype=np.float64)
            return trial
        forward_item = grading.items[item.forward] if item.check == "backward" else item
        trial.inputs = kit.make_inputs(forward_item.args, dims, rng)
        forward = self.namespace[forward_item.name]
        result = forward(*[value.copy() for value in trial.inputs.values()])
        out = np.asarray(result[0] if forward_item.returns_cache else result, dtype=np.float64)
        if item.check == "forward":
            trial.expected["out"] = out
            return trial
        trial.expected["forward_out"] = out  # tells a wrong backward from a wrong forward's cache
        trial.dout = rng.standard_normal(out.shape)
        grads, problem = kit.as_grad_list(
            self.namespace[name](trial.dout.copy(), result[1]), list(item.grads)
        )
        if problem:
            raise ValueError(f"{self.assignment.path}: the reference {name} {problem}")
        trial.expected.update(
            {
                grad: np.asarray(value, dtype=np.float64)
                for grad, value in zip(item.grads, grads, strict=True)
            }
        )
        return trial

    def public_trial(self, name: str) -> Trial:
        """The fixed public case of item ``name`` (the one the student version shows)."""
        index = list(self.assignment.grading.items).index(name)
        return self._trial(
            name,
            self.assignment.grading.public_dims,
            np.random.default_rng([PUBLIC_ENTROPY, index]),
        )

    def hidden_trials(self, seed: int, submission: str = "") -> dict:
        """Item name to its hidden trials, drawn from ``seed`` and the submission's name.

        Each submission gets its own draw (a bug that a lucky draw would hide is not hidden
        for a whole class at once), and the same seed and name give the same trials again.
        The first trial of every item has sizes that differ from the public case's in every
        dimension and from each other (so D != H and M != H): a size written into the code as
        a number fails it, whatever the seed (:func:`distinct_sizes`).

        Parameters
        ----------
        seed : int
            The grader's hidden seed.
        submission : str
            The submission's name in the batch.

        Returns
        -------
        dict of str to list of Trial
        """
        grading = self.assignment.grading
        digest = hashlib.sha256(submission.encode("utf-8", "surrogateescape")).digest()
        key = [int.from_bytes(digest[i : i + 4], "little") for i in range(0, 16, 4)]
        trials = {}
        for index, (name, item) in enumerate(grading.items.items()):
            count = 1 if item.check == "value" else grading.trials
            trials[name] = []
            for k in range(count):
                rng = np.random.default_rng([seed, index, k, 1, *key])
                if k == 0:
                    dims = distinct_sizes(grading.dims, grading.public_dims, rng)
                else:
                    dims = {
                        size: int(rng.integers(low, high + 1))
                        for size, (low, high) in grading.dims.items()
                    }
                trials[name].append(self._trial(name, dims, rng))
        return trials


def distinct_sizes(dims: dict, public: dict, rng: np.random.Generator) -> dict:
    """Sizes drawn from ``dims`` that differ from ``public`` in every dimension, and from
    each other where the ranges allow.

    Parameters
    ----------
    dims : dict of str to (int, int)
        Each size's range, both ends included.
    public : dict of str to int
        The public case's sizes.
    rng : numpy.random.Generator

    Returns
    -------
    dict of str to int
        A size keeps its public value only when its range holds no other; the sizes are
        pairwise distinct unless :data:`SIZE_ATTEMPTS` draws found no such choice.
    """
    choices = {
        size: [v for v in range(low, high + 1) if v != public.get(size)] or [public[size]]
        for size, (low, high) in dims.items()
    }
    first = None
    for _ in range(SIZE_ATTEMPTS):
        drawn = {size: int(rng.choice(values)) for size, values in choices.items()}
        if len(set(drawn.values())) == len(drawn):
            return drawn
        first = first or drawn
    return first
