"""Checkpoints: everything a run needs to continue bit for bit, in one ``.npz`` file.

A checkpoint holds the model's parameters and config, the optimizer (name,
hyperparameters and state), the random generator's state, the step, the
state carried across batches, the training history and free-form metadata
(the task, the trainer's settings, a character vocabulary). Every entry is a
plain array; text entries (config, RNG state, metadata) are JSON strings, so
the file loads with ``allow_pickle=False`` and never runs code.

=======================  =====================================================
entry                    content
=======================  =====================================================
``format``               ``"numrnn-checkpoint"``: the marker of a numrnn file
``format_version``       int, the layout version (:data:`FORMAT_VERSION`)
``numrnn_version``       the numrnn that wrote it
``step``                 int, updates done
``config``               JSON of ``ModelConfig.to_dict()``
``optimizer``            JSON of ``Optimizer.to_dict()``, or ``null``
``rng_state``            JSON of ``rng.bit_generator.state``, or ``null``
``meta``                 JSON dict of anything else
``params/<name>``        each parameter, e.g. ``params/layer1.W_hh``
``optimizer_state/<k>``  each optimizer state array, e.g. ``optimizer_state/m/layer1.W_hh``
``carry/<l>``            the state carried into the next batch, layer l + 1
``history/<field>``      the training history's arrays
=======================  =====================================================

Files are written atomically: to a temporary file in the same directory,
flushed to disk, then moved over the old one with ``os.replace``. A save that
fails half-way leaves the previous checkpoint as it was. Loading checks the
marker, the versions and every shape, and a truncated, corrupt, foreign or
version-mismatched file raises a ValueError that names the file and the
problem.

Shape legend: B batch, H_l hidden size of layer l; every parameter and
optimizer-state array has its parameter's shape.
"""

from __future__ import annotations

import contextlib
import json
import os
import stat
import tempfile
import zipfile
import zlib
from dataclasses import dataclass, field

import numpy as np

from .._version import __version__
from ..config import ModelConfig
from ..model import DeepRNN
from ..params import check_params, model_parameter_shapes
from .optim import Optimizer, optimizer_from_dict

__all__ = [
    "FORMAT",
    "FORMAT_VERSION",
    "Checkpoint",
    "save_checkpoint",
    "load_checkpoint",
    "atomic_write",
]

FORMAT = "numrnn-checkpoint"
FORMAT_VERSION = 1


def _file_mode(path: str) -> int:
    """The permissions ``path`` has, or those a new file would get (0666 minus the umask)."""
    try:
        return stat.S_IMODE(os.stat(path).st_mode)
    except FileNotFoundError:
        umask = os.umask(0)  # read the umask (it can only be read by setting it)
        os.umask(umask)
        return 0o666 & ~umask


def atomic_write(path, write, *, binary: bool = False) -> None:
    """Write a file atomically: ``write(handle)`` into a temp file beside ``path``, then
    ``os.replace``.

    Parameters
    ----------
    path : str or os.PathLike
        The file to create or replace.
    write : callable
        Called with the open temporary file; writes the whole content.
    binary : bool, default False
        Open the temporary file in binary mode (else UTF-8 text).

    If ``write`` (or the move) raises, the temporary file is removed and the
    old ``path`` is untouched.
    """
    path = os.fspath(path)
    directory = os.path.dirname(os.path.abspath(path))
    fd, temp = tempfile.mkstemp(prefix=f".{os.path.basename(path)}.", suffix=".tmp", dir=directory)
    try:
        with (
            os.fdopen(fd, "wb") if binary else os.fdopen(fd, "w", encoding="utf-8", newline="")
        ) as handle:
            write(handle)
            handle.flush()
            os.fsync(handle.fileno())
        os.chmod(temp, _file_mode(path))  # mkstemp makes it private (0600)
        os.replace(temp, path)
    except BaseException:
        with contextlib.suppress(FileNotFoundError):
            os.remove(temp)
        raise


@dataclass
class Checkpoint:
    """The content of a checkpoint file (see the module docstring).

    Attributes
    ----------
    path : str
    config : ModelConfig
    params : dict of str to ndarray
    step : int
    optimizer : Optimizer or None
    optimizer_state : dict of str to ndarray or None
    rng_state : dict or None
        ``np.random.Generator.bit_generator.state``; :meth:`rng` rebuilds the generator.
    carry : list of ndarray of shape (B, H_l), or None
    history : dict of str to ndarray
    meta : dict
    numrnn_version : str
    """

    path: str
    config: ModelConfig
    params: dict
    step: int = 0
    optimizer: Optimizer | None = None
    optimizer_state: dict | None = None
    rng_state: dict | None = None
    carry: list | None = None
    history: dict = field(default_factory=dict)
    meta: dict = field(default_factory=dict)
    numrnn_version: str = __version__

    def model(self) -> DeepRNN:
        """The model, holding this checkpoint's parameter arrays."""
        return DeepRNN.from_config(self.config, self.params)

    def rng(self) -> np.random.Generator:
        """A generator in exactly the saved state (None if no state was saved)."""
        if self.rng_state is None:
            return None
        bit_generator = getattr(np.random, self.rng_state["bit_generator"])()
        bit_generator.state = self.rng_state
        return np.random.Generator(bit_generator)


def _json(value) -> np.ndarray:
    return np.array(json.dumps(value))


def save_checkpoint(
    path,
    model: DeepRNN,
    *,
    step: int = 0,
    optimizer: Optimizer | None = None,
    optimizer_state: dict | None = None,
    rng: np.random.Generator | None = None,
    carry: list | None = None,
    history: dict | None = None,
    meta: dict | None = None,
) -> str:
    """Write a checkpoint atomically; the previous file at ``path`` survives any failure.

    Parameters
    ----------
    path : str or os.PathLike
        Usually ending in ``.npz`` (nothing is appended).
    model : DeepRNN
    step : int, default 0
    optimizer : Optimizer, optional
    optimizer_state : dict of str to ndarray, optional
        The dict from ``optimizer.init``; needs ``optimizer``.
    rng : numpy.random.Generator, optional
        Its exact state is saved.
    carry : list of ndarray of shape (B, H_l), optional
        The state carried into the next batch.
    history : dict of str to ndarray, optional
    meta : dict, optional
        JSON-serialisable metadata.

    Returns
    -------
    str
        The path written.
    """
    if not isinstance(model, DeepRNN):
        raise TypeError(f"model must be a DeepRNN; got {type(model).__name__}")
    if optimizer_state is not None and optimizer is None:
        raise ValueError("optimizer_state needs the optimizer it belongs to (optimizer=...)")
    if rng is not None and not isinstance(rng, np.random.Generator):
        raise TypeError(f"rng must be a numpy.random.Generator; got {type(rng).__name__}")
    arrays = {
        "format": np.array(FORMAT),
        "format_version": np.array(FORMAT_VERSION, dtype=np.int64),
        "numrnn_version": np.array(__version__),
        "step": np.array(int(step), dtype=np.int64),
        "config": _json(model.config.to_dict()),
        "optimizer": _json(None if optimizer is None else optimizer.to_dict()),
        "rng_state": _json(None if rng is None else rng.bit_generator.state),
        "meta": _json(meta or {}),
    }
    arrays.update({f"params/{name}": value for name, value in model.params.items()})
    arrays.update(
        {f"optimizer_state/{key}": value for key, value in (optimizer_state or {}).items()}
    )
    arrays.update({f"carry/{l}": state for l, state in enumerate(carry or [])})
    arrays.update({f"history/{name}": np.asarray(value) for name, value in (history or {}).items()})
    atomic_write(path, lambda handle: _write_npz(handle, arrays), binary=True)
    return os.fspath(path)


def _write_npz(handle, arrays: dict) -> None:
    """The one place the archive is written (tests make it fail half-way)."""
    np.savez(handle, **arrays)


class _Unreadable(Exception):
    """Internal: an entry is missing or malformed."""


_ZIP_MAGIC = (b"PK\x03\x04", b"PK\x05\x06")  # a zip file (an .npz archive), or an empty one
_NPY_MAGIC = b"\x93NUMPY"  # a single .npy array


def _reason(error: BaseException) -> str:
    """NumPy's message for ``error``, without its hint to load the file with pickle (never give
    that advice)."""
    text = str(error)
    return "its bytes are not an archive" if "pickle" in text.lower() else text


def _read_entries(path: str) -> dict:
    """Every entry of the archive at ``path``, read into memory; ValueError if that is impossible.

    The first bytes are checked before NumPy sees the file: ``np.load`` takes any
    file it does not recognise for a pickle and answers with a hint to load it
    unsafely, which a checkpoint loader must never pass on.
    """
    with open(
        path, "rb"
    ) as handle:  # FileNotFoundError, IsADirectoryError, PermissionError go to the caller
        magic = handle.read(len(_NPY_MAGIC))
    if magic.startswith(_NPY_MAGIC):
        raise ValueError(
            f"{path!r} is not a numrnn checkpoint: it holds a single .npy array, "
            f"not an .npz archive"
        )
    if not magic.startswith(_ZIP_MAGIC):
        raise ValueError(
            f"{path!r} is not a numrnn checkpoint: it is not an .npz archive "
            f"(truncated, corrupt or another kind of file; it starts with {magic!r})"
        )
    try:
        archive = np.load(path, allow_pickle=False)
    except (ValueError, OSError, EOFError, zipfile.BadZipFile) as error:
        if isinstance(error, (FileNotFoundError, IsADirectoryError, PermissionError)):
            raise
        raise ValueError(
            f"{path!r} is not a numrnn checkpoint: it is not a readable .npz archive "
            f"(truncated, corrupt or another kind of file: {_reason(error)})"
        ) from None
    entries = {}
    with archive:
        for name in archive.files:
            try:
                entries[name] = archive[name]
            except ValueError as error:
                if "allow_pickle" not in str(error):  # NumPy's refusal of an object array
                    raise ValueError(
                        f"{path!r} is a corrupt or truncated checkpoint: entry {name!r} cannot be "
                        f"read ({_reason(error)})"
                    ) from None
                raise ValueError(
                    f"{path!r} holds a pickled object, refused: entry {name!r} is an object array, "
                    "and loading it could run code (numrnn checkpoints hold only numbers and "
                    "text)"
                ) from None
            except (OSError, EOFError, KeyError, zipfile.BadZipFile, zlib.error) as error:
                raise ValueError(
                    f"{path!r} is a corrupt or truncated checkpoint: entry {name!r} cannot be "
                    f"read ({_reason(error)})"
                ) from None
    return entries


def _text(entries: dict, name: str) -> str:
    value = entries.get(name)
    if value is None or value.shape != () or value.dtype.kind != "U":
        raise _Unreadable(f"entry {name!r} is missing or not a string")
    return str(value)


def _decode(entries: dict, name: str):
    try:
        return json.loads(_text(entries, name))
    except json.JSONDecodeError as error:
        raise _Unreadable(f"entry {name!r} is not valid JSON ({error})") from None


def _group(entries: dict, prefix: str) -> dict:
    return {
        name[len(prefix) :]: value for name, value in entries.items() if name.startswith(prefix)
    }


def load_checkpoint(path, *, check_version: bool = True) -> Checkpoint:
    """Read and check a checkpoint written by :func:`save_checkpoint`.

    Parameters
    ----------
    path : str or os.PathLike
    check_version : bool, default True
        Refuse a file written by another numrnn version (the format version
        must match in any case).

    Returns
    -------
    Checkpoint

    Raises
    ------
    FileNotFoundError
        If there is no file at ``path``.
    ValueError
        If the file is truncated, corrupt, not a numrnn checkpoint, from
        another version, or inconsistent (e.g. parameter shapes that do not
        fit the config); the message names the file and the problem.
    """
    path = os.fspath(path)
    entries = _read_entries(path)
    if "format" not in entries:
        raise ValueError(
            f"{path!r} is an .npz archive but not a numrnn checkpoint: it has no 'format' marker "
            f"(entries: {sorted(entries)[:6]})"
        )
    try:
        if _text(entries, "format") != FORMAT:
            raise ValueError(
                f"{path!r} is not a numrnn checkpoint: its format marker is "
                f"{str(entries['format'])!r}, expected {FORMAT!r}"
            )
        written_by = _text(entries, "numrnn_version")
        version = entries.get("format_version")
        if version is None or version.shape != () or version.dtype.kind not in "iu":
            raise _Unreadable("entry 'format_version' is missing or not an integer")
        if int(version) != FORMAT_VERSION:
            raise ValueError(
                f"{path!r} has checkpoint format version {int(version)} (written by numrnn "
                f"{written_by}); this numrnn {__version__} reads version {FORMAT_VERSION}"
            )
        if check_version and written_by != __version__:
            raise ValueError(
                f"{path!r} was written by numrnn {written_by}, but this is numrnn {__version__}; "
                "pass check_version=False to load it anyway"
            )
        step = entries.get("step")
        if step is None or step.shape != () or step.dtype.kind not in "iu" or int(step) < 0:
            raise _Unreadable("entry 'step' is missing or not an integer >= 0")
        config = ModelConfig.from_dict(_decode(entries, "config"))
        params = _group(entries, "params/")
        check_params(
            params,
            model_parameter_shapes(config),
            next(iter(params.values())).dtype if params else np.dtype(np.float64),
            "params",
        )
        params = {
            name: params[name] for name in model_parameter_shapes(config)
        }  # the canonical order
        optimizer_spec = _decode(entries, "optimizer")
        optimizer = None if optimizer_spec is None else optimizer_from_dict(optimizer_spec)
        optimizer_state = _group(entries, "optimizer_state/") or None
        if optimizer_state is not None:
            if optimizer is None:
                raise _Unreadable("it has optimizer state but no optimizer")
            optimizer.check_state(params, optimizer_state)
        rng_state = _decode(entries, "rng_state")
        if rng_state is not None and (
            not isinstance(rng_state, dict)
            or not hasattr(np.random, str(rng_state.get("bit_generator")))
        ):
            raise _Unreadable(
                f"entry 'rng_state' is not a numpy bit-generator state: {rng_state!r}"
            )
        carry_entries = _group(entries, "carry/")
        carry = (
            [carry_entries[str(l)] for l in range(len(carry_entries))] if carry_entries else None
        )
        if carry is not None and len(carry) != config.num_layers:
            raise _Unreadable(
                f"it carries {len(carry)} states for a model of {config.num_layers} layers"
            )
        meta = _decode(entries, "meta")
        if not isinstance(meta, dict):
            raise _Unreadable("entry 'meta' is not a JSON object")
    except (_Unreadable, TypeError, KeyError) as error:
        raise ValueError(f"{path!r} is a damaged numrnn checkpoint: {error}") from None
    except ValueError as error:
        if str(error).startswith(repr(path)):
            raise
        raise ValueError(f"{path!r} is a damaged numrnn checkpoint: {error}") from None
    return Checkpoint(
        path,
        config,
        params,
        int(step),
        optimizer,
        optimizer_state,
        rng_state,
        carry,
        _group(entries, "history/"),
        meta,
        written_by,
    )
