"""The ``GRADING`` declaration: what an assignment grades, read without running it.

A teacher's source file holds one top-level assignment ``GRADING = {...}``, a
plain literal (dicts, tuples, strings, numbers). The grader reads it with
:func:`ast.literal_eval`, never ``exec``; the same declaration drives the
student version's public tests and the hidden grading. ``docs/assignments.md``
documents every field; :func:`parse_grading` fills the defaults and rejects
anything else with a message that names the field.

Checks
------
``"forward"``
    The student's function against the reference on fresh random inputs.
``"backward"``
    ``backward(dout, cache)`` after the student's own ``forward``: each
    returned gradient against the reference's (partial credit per gradient)
    and against central differences of the student's forward.
``"value"``
    A module-level variable (a numeric answer) against the reference's value,
    within the stated ``rtol``/``atol``.
"""

from __future__ import annotations

import ast
import numbers
from dataclasses import dataclass, field

from . import kit

CHECKS = ("forward", "backward", "value")
VISIBILITIES = ("visible", "hidden", "after_due_date", "after_published")


@dataclass(frozen=True)
class Limits:
    """The resources of one sandboxed run (one graded function of one submission).

    Attributes
    ----------
    time : float
        Wall-clock seconds the graded function may take, after the submission's
        top-level code has run (default 10).
    top_level_time : float or None
        Wall-clock seconds the submission's top-level code (everything outside
        functions, run before each graded function) may take (default None: the
        same as ``time``).
    memory_mb : int
        Address-space limit, ``RLIMIT_AS`` (default 1024, i.e. 1 GiB).
    output_kb : int
        Largest file the run may write, printed output included (``RLIMIT_FSIZE``, default 1024).
    processes : int
        Processes and threads the run may have (``RLIMIT_NPROC``, default 64).
    """

    time: float = 10.0
    memory_mb: int = 1024
    output_kb: int = 1024
    processes: int = 64
    top_level_time: float | None = None

    @property
    def top_level_seconds(self) -> float:
        """The top-level code's limit: ``top_level_time``, else ``time``."""
        return self.time if self.top_level_time is None else self.top_level_time

    @property
    def wall_seconds(self) -> float:
        """The whole run's wall-clock bound: top-level code, then the function, then 1 s."""
        return self.top_level_seconds + self.time + 1.0

    def updated(self, overrides: dict, where: str) -> "Limits":
        """A copy with ``overrides`` (a ``limits`` dict of the declaration) applied."""
        values = dict(
            time=self.time,
            memory_mb=self.memory_mb,
            output_kb=self.output_kb,
            processes=self.processes,
            top_level_time=self.top_level_time,
        )
        if not isinstance(overrides, dict):
            raise ValueError(f"{where} must be a dict; got {overrides!r}")
        for key, value in overrides.items():
            if key not in values:
                raise ValueError(
                    f"{where} has unknown key {key!r}; the keys are {', '.join(values)}"
                )
            if isinstance(value, bool) or not isinstance(value, numbers.Real) or not value > 0:
                raise ValueError(f"{where}[{key!r}] must be a positive number; got {value!r}")
            values[key] = float(value) if key.endswith("time") else int(value)
        return Limits(**values)


@dataclass(frozen=True)
class Item:
    """One graded item: a function (forward or backward) or a numeric answer."""

    name: str
    check: str
    points: float
    args: dict = field(default_factory=dict)  # forward: name -> {"shape": (...), "scale": s}
    returns_cache: bool = True  # forward returns (out, cache)
    forward: str | None = None  # backward: the forward item it inverts
    grads: dict = field(default_factory=dict)  # backward: gradient name -> argument name
    rtol: float = kit.DEFAULT_RTOL
    atol: float = 0.0
    fd_eps: float = kit.DEFAULT_FD_EPS
    fd_tol: float = kit.DEFAULT_FD_TOL
    limits: Limits = Limits()
    visibility: str = "visible"
    title: str = ""


@dataclass(frozen=True)
class Grading:
    """The whole declaration, defaults filled in."""

    title: str
    items: dict  # name -> Item, in the declared order
    dims: dict  # size -> (low, high) for hidden trials
    public_dims: dict  # size -> int for the public case
    trials: int
    limits: Limits

    @property
    def max_score(self) -> float:
        """The sum of every item's points."""
        return float(sum(item.points for item in self.items.values()))


def find_grading_literal(text: str, filename: str = "<source>"):
    """The ``GRADING = {...}`` literal of a source file, evaluated with :func:`ast.literal_eval`.

    Raises
    ------
    ValueError
        If the file is not valid Python, holds no top-level ``GRADING`` or
        more than one, or its value is not a literal.
    """
    try:
        tree = ast.parse(text, filename=filename)
    except SyntaxError as error:
        raise ValueError(
            f"{filename} is not valid Python: {error.msg} (line {error.lineno})"
        ) from None
    found = [
        node
        for node in tree.body
        if isinstance(node, ast.Assign)
        and any(isinstance(target, ast.Name) and target.id == "GRADING" for target in node.targets)
    ]
    if len(found) != 1:
        raise ValueError(
            f"{filename} must assign GRADING = {{...}} once at top level; found {len(found)}"
        )
    try:
        return ast.literal_eval(found[0].value)
    except ValueError:
        raise ValueError(
            f"{filename}: GRADING (line {found[0].lineno}) must be a plain literal "
            "(dicts, tuples, strings, numbers), with no names or calls"
        ) from None


def _number(value, where, *, positive=False, minimum=None):
    if isinstance(value, bool) or not isinstance(value, numbers.Real):
        raise ValueError(f"{where} must be a number; got {value!r}")
    if positive and not value > 0:
        raise ValueError(f"{where} must be positive; got {value!r}")
    if minimum is not None and value < minimum:
        raise ValueError(f"{where} must be >= {minimum}; got {value!r}")
    return float(value)


def _keys(mapping, where, allowed, required=()):
    if not isinstance(mapping, dict):
        raise ValueError(f"{where} must be a dict; got {type(mapping).__name__}")
    unknown = [key for key in mapping if key not in allowed]
    if unknown:
        raise ValueError(
            f"{where} has unknown key {unknown[0]!r}; the keys are {', '.join(allowed)}"
        )
    missing = [key for key in required if key not in mapping]
    if missing:
        raise ValueError(f"{where} needs the key {missing[0]!r}")


def _arg_spec(spec, where, sizes):
    """``("B", "H")`` or ``{"shape": ("B", "H"), "scale": 0.5}`` -> the dict form."""
    if isinstance(spec, (tuple, list)):
        spec = {"shape": spec}
    _keys(spec, where, ("shape", "scale"), ("shape",))
    shape = spec["shape"]
    if not isinstance(shape, (tuple, list)):
        raise ValueError(f"{where}['shape'] must be a tuple of sizes; got {shape!r}")
    for size in shape:
        if isinstance(size, str) and size not in sizes:
            raise ValueError(
                f"{where}['shape'] uses the size {size!r}, which GRADING['dims'] does not define"
            )
        if not isinstance(size, str) and (
            isinstance(size, bool) or not isinstance(size, int) or size < 1
        ):
            raise ValueError(
                f"{where}['shape'] entries must be size names or positive ints; got {size!r}"
            )
    return {
        "shape": tuple(shape),
        "scale": _number(spec.get("scale", 1.0), f"{where}['scale']", positive=True),
    }


_ITEM_KEYS = (
    "check",
    "points",
    "args",
    "returns_cache",
    "forward",
    "grads",
    "rtol",
    "atol",
    "fd_eps",
    "fd_tol",
    "limits",
    "visibility",
    "title",
)


def parse_grading(raw, filename: str = "<source>") -> Grading:
    """Validate a ``GRADING`` literal and fill in its defaults.

    Parameters
    ----------
    raw : dict
        The literal, as :func:`find_grading_literal` returns it.
    filename : str
        Named in error messages.

    Returns
    -------
    Grading

    Raises
    ------
    ValueError
        Naming the field, the rule and the value received.
    """
    where = f"{filename}: GRADING"
    _keys(
        raw, where, ("title", "dims", "public_dims", "trials", "limits", "items"), ("dims", "items")
    )
    dims = {}
    _keys(
        raw["dims"], f"{where}['dims']", tuple(raw["dims"]) if isinstance(raw["dims"], dict) else ()
    )
    for size, span in raw["dims"].items():
        if isinstance(span, int) and not isinstance(span, bool):
            span = (span, span)
        if (
            not isinstance(span, (tuple, list))
            or len(span) != 2
            or not all(isinstance(v, int) for v in span)
            or not 1 <= span[0] <= span[1]
        ):
            raise ValueError(
                f"{where}['dims'][{size!r}] must be an int or a (low, high) pair with "
                f"1 <= low <= high; got {span!r}"
            )
        dims[size] = (int(span[0]), int(span[1]))
    public = raw.get("public_dims", {size: low for size, (low, _) in dims.items()})
    _keys(public, f"{where}['public_dims']", tuple(dims), tuple(dims))
    for size, value in public.items():
        if isinstance(value, bool) or not isinstance(value, int) or value < 1:
            raise ValueError(
                f"{where}['public_dims'][{size!r}] must be a positive int; got {value!r}"
            )
    trials = raw.get("trials", 2)
    if isinstance(trials, bool) or not isinstance(trials, int) or trials < 1:
        raise ValueError(f"{where}['trials'] must be a positive int; got {trials!r}")
    limits = Limits().updated(raw.get("limits", {}), f"{where}['limits']")
    if not isinstance(raw["items"], dict) or not raw["items"]:
        raise ValueError(f"{where}['items'] must be a non-empty dict of item name to spec")
    items = {}
    for name, spec in raw["items"].items():
        here = f"{where}['items'][{name!r}]"
        if not isinstance(name, str) or not name.isidentifier():
            raise ValueError(f"{where}['items'] keys must be Python names; got {name!r}")
        _keys(spec, here, _ITEM_KEYS, ("check", "points"))
        check = spec["check"]
        if check not in CHECKS:
            raise ValueError(f"{here}['check'] must be one of {', '.join(CHECKS)}; got {check!r}")
        visibility = spec.get("visibility", "visible")
        if visibility not in VISIBILITIES:
            raise ValueError(
                f"{here}['visibility'] must be one of {', '.join(VISIBILITIES)}; got {visibility!r}"
            )
        fields = dict(
            name=name,
            check=check,
            points=_number(spec["points"], f"{here}['points']", minimum=0),
            rtol=_number(
                spec.get("rtol", kit.DEFAULT_RTOL if check != "value" else 1e-6),
                f"{here}['rtol']",
                minimum=0,
            ),
            atol=_number(spec.get("atol", 0.0), f"{here}['atol']", minimum=0),
            fd_eps=_number(
                spec.get("fd_eps", kit.DEFAULT_FD_EPS), f"{here}['fd_eps']", positive=True
            ),
            fd_tol=_number(
                spec.get("fd_tol", kit.DEFAULT_FD_TOL), f"{here}['fd_tol']", positive=True
            ),
            limits=limits.updated(spec.get("limits", {}), f"{here}['limits']"),
            visibility=visibility,
            title=str(spec.get("title", "")),
        )
        if check == "forward":
            if "args" not in spec:
                raise ValueError(f"{here} is a forward check and needs 'args'")
            _keys(
                spec["args"],
                f"{here}['args']",
                tuple(spec["args"]) if isinstance(spec["args"], dict) else (),
            )
            fields["args"] = {
                arg: _arg_spec(arg_spec, f"{here}['args'][{arg!r}]", dims)
                for arg, arg_spec in spec["args"].items()
            }
            fields["returns_cache"] = bool(spec.get("returns_cache", True))
        elif check == "backward":
            forward = spec.get("forward")
            if forward not in items or items[forward].check != "forward":
                raise ValueError(
                    f"{here}['forward'] must name a forward item declared above; got {forward!r}"
                )
            grads = spec.get("grads")
            if not isinstance(grads, dict) or not grads:
                raise ValueError(
                    f"{here}['grads'] must map each returned gradient to the argument it is for"
                )
            for grad_name, arg in grads.items():
                if arg not in items[forward].args:
                    raise ValueError(
                        f"{here}['grads'][{grad_name!r}] must be an argument of {forward} "
                        f"({', '.join(items[forward].args)}); got {arg!r}"
                    )
            fields.update(forward=forward, grads=dict(grads), returns_cache=True)
            if not items[forward].returns_cache:
                raise ValueError(
                    f"{here}: the forward {forward} must return (out, cache) for a backward check"
                )
        items[name] = Item(**fields)
    return Grading(
        title=str(raw.get("title", "")),
        items=items,
        dims=dims,
        public_dims=dict(public),
        trials=trials,
        limits=limits,
    )
