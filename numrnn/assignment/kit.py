"""NumPy-only helpers shared by the grader, the sandbox and the student's public tests.

This one file is used three ways, so that a student's public tests, the grader and
the sandboxed harness agree on every number:

* the grader imports it (``numrnn.assignment.kit``) to draw inputs and compare arrays;
* the sandbox harness imports a copy of it from its working directory to take
  finite differences of the student's own forward function;
* ``numrnn assignment make`` pastes its text into the student version, where
  :func:`run_public_tests` checks the student's functions on fixed cases.

It may import only the standard library and NumPy, never numrnn.
"""

import numpy as np

DEFAULT_FD_EPS = 1e-5
DEFAULT_FD_TOL = 1e-4
DEFAULT_RTOL = 1e-10  # the precision contract: float64 work (~1e-15) meets it, float32 (2e-9+) not
FLOAT32_LEVEL = 1e-5  # an error above the tolerance and below this is rounding, not a wrong formula
ERROR_FLOOR = 1e-8


def make_inputs(args, dims, rng):
    """Random float64 arrays for a graded function's arguments.

    Parameters
    ----------
    args : dict of str to dict
        Argument name to ``{"shape": tuple of str or int, "scale": float}``; a
        str in a shape is a size named in ``dims``.
    dims : dict of str to int
        The sizes of this trial, e.g. ``{"T": 3, "B": 2, "D": 3, "H": 4}``.
    rng : numpy.random.Generator

    Returns
    -------
    dict of str to ndarray
        In the order of ``args``; each entry ``scale * N(0, 1)``.
    """
    inputs = {}
    for name, spec in args.items():
        shape = tuple(dims[size] if isinstance(size, str) else int(size) for size in spec["shape"])
        inputs[name] = float(spec.get("scale", 1.0)) * rng.standard_normal(shape)
    return inputs


def max_relative_error(got, expected, floor=ERROR_FLOOR):
    """Largest entrywise ``|got - expected| / max(|got| + |expected|, floor)``; 0 if empty."""
    got, expected = np.asarray(got, dtype=np.float64), np.asarray(expected, dtype=np.float64)
    if got.size == 0:
        return 0.0
    scale = np.maximum(np.abs(got) + np.abs(expected), floor)
    return float(np.max(np.abs(got - expected) / scale))


def scaled_error(got, expected):
    """``max |got - expected|`` over the largest ``|got| + |expected|`` of the arrays; 0 if empty.

    The error is measured against the arrays' scale, not entry by entry, so an
    entry that is nearly zero because terms cancel cannot turn float64 rounding
    into a large relative error; float32 rounding still shows as 1e-8 or more.
    """
    got, expected = np.asarray(got, dtype=np.float64), np.asarray(expected, dtype=np.float64)
    if got.size == 0:
        return 0.0
    scale = float(np.max(np.abs(got) + np.abs(expected)))
    difference = float(np.max(np.abs(got - expected)))
    return difference / scale if scale > 0 else difference


def precision_contract(rtol):
    """The sentence that states the dtype and tolerance contract to students."""
    return (
        f"Work in float64 (NumPy's default) and return float64 arrays: each array is compared "
        f"with the reference's, and its largest difference, relative to the arrays' largest "
        f"entry, must be at most {rtol:g}. float32 arithmetic (errors of 1e-9 and more) does "
        f"not meet it."
    )


def compare(name, got, expected, rtol):
    """The verdict on one returned array, the same in the public checks and the grader.

    Parameters
    ----------
    name : str
        The array's name in the message (``"dW_hh"``, ``"output"``).
    got : object
        What the student's function returned.
    expected : ndarray
        The reference's array.
    rtol : float
        The item's tolerance on :func:`scaled_error`.

    Returns
    -------
    (float, str or None)
        The error (inf when ``got`` is not a finite float64 array of the right
        shape) and None when it passes, else the message for the student.
    """
    problem = array_problem(name, got, np.shape(expected))
    if problem:
        return np.inf, problem
    error = scaled_error(got, expected)
    if error <= rtol:
        return error, None
    if is_rounding(error, rtol):
        return error, f"{name} is off by a relative error of {error:.1e}: {rounding_advice(rtol)}"
    return error, f"{name} wrong (max relative error {error:.1e})"


def is_rounding(error, rtol):
    """Whether an error above the tolerance is the size of float32 rounding, not a bug."""
    return rtol < error < FLOAT32_LEVEL


def rounding_advice(rtol):
    """What a float32-sized error means, and what to do."""
    return (
        f"the size of float32 rounding (precision); compute in float64 (the tolerance is {rtol:g})"
    )


def array_problem(name, got, expected_shape):
    """Why ``got`` cannot stand for an array of ``expected_shape`` (None when it can).

    The checks every returned value goes through before it is compared: an
    ndarray (not a list or a scalar), float64, the expected shape, finite.
    """
    if not isinstance(got, np.ndarray):
        return f"{name} is a {type(got).__name__}, expected an ndarray of shape {expected_shape}"
    if got.dtype != np.float64:
        return f"{name} has dtype {got.dtype}, expected float64"
    if got.shape != tuple(expected_shape):
        return f"{name} has shape {got.shape}, expected {tuple(expected_shape)}"
    if not np.all(np.isfinite(got)):
        return f"{name} contains NaN or inf"
    return None


def finite_difference(loss, inputs, name, eps=DEFAULT_FD_EPS):
    """Central differences of the scalar ``loss(inputs)`` with respect to ``inputs[name]``.

    Parameters
    ----------
    loss : callable
        Takes a dict like ``inputs`` and returns a float; it receives copies,
        so it may modify them.
    inputs : dict of str to ndarray
    name : str
        The input to perturb, one entry at a time.
    eps : float

    Returns
    -------
    ndarray of the shape of ``inputs[name]``
    """
    base = inputs[name]
    grad = np.zeros_like(base, dtype=np.float64)
    for index in np.ndindex(base.shape):
        values = []
        for sign in (1.0, -1.0):
            shifted = {key: value.copy() for key, value in inputs.items()}
            shifted[name][index] += sign * eps
            values.append(float(loss(shifted)))
        grad[index] = (values[0] - values[1]) / (2.0 * eps)
    return grad


def forward_loss(forward, arg_names, dout, returns_cache):
    """The scalar ``sum(dout * out)`` whose gradient a backward function returns."""

    def loss(inputs):
        result = forward(*[inputs[name] for name in arg_names])
        out = result[0] if returns_cache else result
        return float(np.sum(dout * np.asarray(out, dtype=np.float64)))

    return loss


def as_grad_list(result, grad_names):
    """A backward function's return value as a list in ``grad_names`` order, or a reason why not."""
    if isinstance(result, dict):
        missing = [name for name in grad_names if name not in result]
        if missing:
            return None, f"the returned dict has no {', '.join(missing)}"
        return [result[name] for name in grad_names], None
    if not isinstance(result, (tuple, list)):
        return (
            None,
            f"returned a {type(result).__name__}, expected a tuple ({', '.join(grad_names)})",
        )
    if len(result) != len(grad_names):
        return (
            None,
            f"returned {len(result)} values, expected {len(grad_names)} ({', '.join(grad_names)})",
        )
    return list(result), None


def join_names(names):
    """``a``, ``a and b``, ``a, b and c``."""
    names = list(names)
    return names[0] if len(names) == 1 else ", ".join(names[:-1]) + " and " + names[-1]


def run_public_tests(cases, namespace):
    """Check the functions in ``namespace`` on the fixed public cases and print one line each.

    Parameters
    ----------
    cases : dict
        Item name to its public case, as ``numrnn assignment make`` writes it:
        the check, the arguments, the expected outputs and the tolerances.
    namespace : dict
        Where the student's functions live, usually ``globals()``.

    Returns
    -------
    int
        How many items passed.
    """
    passed = 0
    for name, case in cases.items():
        try:
            ok, message = _public_case(name, case, namespace)
        except NotImplementedError:
            ok, message = False, "not implemented yet"
        except Exception as error:  # noqa: BLE001 - a student's bug is reported, not raised
            ok, message = False, f"raised {type(error).__name__}: {error}"
        passed += ok
        print(f"{'PASS' if ok else 'FAIL'}  {name}: {message}")
    print(f"{passed} of {len(cases)} public checks passed (the grader uses other, hidden inputs)")
    return passed


def _public_case(name, case, namespace):
    """(passed, message) for one public case."""
    if case["check"] == "value":
        if name not in namespace:
            return False, f"{name} is not defined"
        value = np.asarray(namespace[name], dtype=np.float64)
        if value.shape != tuple(case["shape"]) or not np.all(np.isfinite(value)):
            return False, f"{name} must be a finite number of shape {tuple(case['shape'])}"
        return True, "is a finite number (its value is checked by the grader)"
    function_name = name if case["check"] == "forward" else case["forward"]
    for needed in {name, function_name}:
        if not callable(namespace.get(needed)):
            return False, f"{needed} is not defined"
    inputs = {key: np.array(value, dtype=np.float64) for key, value in case["args"].items()}
    copies = {key: value.copy() for key, value in inputs.items()}
    forward = namespace[function_name]
    result = forward(*copies.values())
    out = result[0] if case["returns_cache"] else result
    if case["check"] == "forward":
        _, problem = compare("output", out, np.array(case["expected"]), case["rtol"])
        return (False, problem) if problem else (True, "output matches")
    dout = np.array(case["dout"], dtype=np.float64)
    grads, problem = as_grad_list(namespace[name](dout, result[1]), list(case["grads"]))
    if problem:
        return False, problem
    loss = forward_loss(forward, list(inputs), dout, case["returns_cache"])
    wrong, inconsistent = [], []
    for (grad_name, arg_name), got in zip(case["grads"].items(), grads, strict=True):
        error, problem = compare(
            grad_name, got, np.array(case["expected"][grad_name]), case["rtol"]
        )
        if problem and error == np.inf:
            return False, problem
        if problem:
            wrong.append(problem)
        numeric = finite_difference(loss, inputs, arg_name, case["fd_eps"])
        if max_relative_error(got, numeric, floor=1e-6) > case["fd_tol"]:
            inconsistent.append(grad_name)
    if wrong:
        message = "; ".join(wrong)
        if inconsistent:
            message += (
                f"; {join_names(inconsistent)} disagree with differences of your {function_name}"
            )
        return False, message
    return True, "gradients match, and agree with finite differences of your forward"
