"""Polyphonic music: next-frame prediction on Bach chorales, the data of Pascanu et al. (2014).

Pascanu et al. compared deep recurrent architectures on polyphonic music, with
sigmoid outputs and the per-frame negative log-likelihood as the score. This
task rebuilds that experiment from the Bach chorales in music21's corpus
(``pip install "numrnn[music]"``); numrnn itself never needs music21.

The data, step by step (the functions are in :mod:`numrnn.training.tasks.pianoroll`):

1. **Pieces.** The files under ``bach/`` in music21's corpus (MusicXML and
   Humdrum; the Roman-numeral analyses are left out), sorted by path. A piece
   is used if its score has exactly four parts (soprano, alto, tenor, bass):
   368 of 413 in music21 10.5; the others add instruments.
2. **Common key.** Each piece is shifted by
   :func:`~numrnn.training.tasks.pianoroll.key_signature_shift` of its first
   key signature, to C major / A minor.
3. **Piano roll.** One frame per quarter note (``quantum=1.0``), the pitches
   sounding at the frame's start, in the fixed range MIDI 31 (G1) to 84 (C6):
   P = 54 pitches, which holds every note of the transposed chorales.
4. **Split by piece.** The i-th file of the sorted list is validation if
   ``i % 10 == 8``, test if ``i % 10 == 9``, training otherwise (80/10/10).
5. **Cache.** The rolls are written once to ``chorales-<key>.npz`` in the cache
   folder (``cache_dir``, else ``$NUMRNN_CACHE``, else ``$XDG_CACHE_HOME/numrnn``,
   else ``~/.cache/numrnn``), keyed by the settings and music21's version. Parsing
   every chorale takes about 70 s of CPU time; ``max_pieces`` reads only the
   first N files of the sorted list.

The task, for the trainer:

* **Input and target.** Step t of a sequence gets frame t − 1 (a silent frame
  before the first) and must give the probabilities of the P pitches of frame
  t: multi-label outputs, one sigmoid per pitch, trained with the ``"bce"`` loss.
* **Training batches.** Windows of ``seq_len`` steps, each at a position drawn
  uniformly with the trainer's ``rng`` among every window of every training
  piece (pieces shorter than ``seq_len`` give one window, padded and masked).
* **Validation.** Every validation piece whole, from its first frame to its
  last, starting from a zero state (padding masked).
* **Metric: per-frame NLL in nats**, the sum over the P pitches of the
  Bernoulli negative log-likelihood, averaged over frames:
  ``NLL = P × (mean bce loss)``. Pascanu et al. report the same quantity.
* **Baseline:** each pitch an independent Bernoulli with its frequency in the
  training frames (add-one smoothed), scored on the validation frames.

Shape legend: T steps, B batch, P pitches (D = O = P), N frames of a piece.
"""

from __future__ import annotations

import hashlib
import json
import os
import time
import warnings

import numpy as np

from ..._checks import check_int, check_number
from .base import Baseline, Batch, Task
from .pianoroll import (
    SPLITS,
    CacheError,
    bernoulli_nll,
    key_signature_shift,
    load_rolls,
    piano_roll,
    pitch_frequencies,
    save_rolls,
    split_of,
)

__all__ = [
    "ChoralesTask",
    "PianoRollTask",
    "MissingExtraError",
    "cache_folder",
    "read_chorales",
    "notes_of",
]

INSTALL_HINT = 'pip install "numrnn[music]"'
VALIDATION_CHUNK = 64  # validation pieces per batch


class MissingExtraError(ImportError, ValueError):
    """An optional extra of numrnn is not installed.

    An ImportError (a package is missing) that is also a ValueError, so that
    the command line reports it in one line and exits 2, like any other input
    it cannot serve.
    """


def _import_music21():
    """music21, or a :class:`MissingExtraError` that says how to install it."""
    try:
        import music21
    except ImportError as error:
        raise MissingExtraError(
            f"the chorales task reads the Bach chorales from music21's corpus, and music21 is not "
            f"installed ({error}); install it with: {INSTALL_HINT}"
        ) from None
    return music21


def cache_folder(cache_dir=None) -> str:
    """The cache folder: ``cache_dir``, $NUMRNN_CACHE, $XDG_CACHE_HOME/numrnn or ~/.cache/numrnn.

    Parameters
    ----------
    cache_dir : str or os.PathLike, optional
        Used as it is when given.

    Returns
    -------
    str
        The first of the four that is set (the folder may not exist yet).
    """
    if cache_dir is not None:
        return os.fspath(cache_dir)
    if os.environ.get("NUMRNN_CACHE"):
        return os.environ["NUMRNN_CACHE"]
    base = os.environ.get("XDG_CACHE_HOME") or os.path.join(os.path.expanduser("~"), ".cache")
    return os.path.join(base, "numrnn")


# ------------------------------------------------------------ the generic task


def _windows(rolls, seq_len: int) -> tuple:
    """Every training window: all padded frames end to end, each window's start and steps.

    Each piece is preceded by one silent frame, so the window starting at
    ``start`` has inputs ``frames[start:start + T]`` and targets
    ``frames[start + 1:start + T + 1]``; ``steps`` < T for a piece shorter than T.
    """
    width = rolls[0].shape[1]
    pieces, starts, steps = [], [], []
    offset = 0
    for roll in rolls:
        count = len(roll)  # N targets: frames 0..N-1
        for start in range(max(1, count - seq_len + 1)):
            starts.append(offset + start)
            steps.append(min(seq_len, count - start))
        pieces.extend([np.zeros((1, width), np.uint8), roll])
        offset += count + 1
    pieces.append(np.zeros((seq_len, width), np.uint8))  # room for the last window's padding
    return np.concatenate(pieces), np.array(starts), np.array(steps)


def _whole_pieces(rolls, dtype) -> list:
    """Batches of whole pieces, longest first, padded to the longest of each batch and masked."""
    order = sorted(range(len(rolls)), key=lambda i: (-len(rolls[i]), i))
    batches = []
    for first in range(0, len(order), VALIDATION_CHUNK):
        chunk = [rolls[i] for i in order[first : first + VALIDATION_CHUNK]]
        T, B, P = len(chunk[0]), len(chunk), chunk[0].shape[1]
        x = np.zeros((T, B, P), dtype=dtype)
        targets = np.zeros((T, B, P), dtype=dtype)
        mask = np.zeros((T, B), dtype=dtype)
        for b, roll in enumerate(chunk):
            N = len(roll)
            x[1:N, b] = roll[:-1]  # step t sees frame t-1; step 0 a silent frame
            targets[:N, b] = roll
            mask[:N, b] = 1.0
        batches.append(Batch(x, targets, mask))
    return batches


class PianoRollTask(Task):
    """Next-frame prediction on piano rolls that are already built (see the module docstring).

    :class:`ChoralesTask` builds its rolls from music21's corpus; this class
    takes any, so it serves other music and the tests.

    Parameters
    ----------
    rolls : dict of str to list of ndarray of shape (N_i, P)
        The pieces of each split, keys "train", "valid" and optionally "test";
        0/1 values; every piece at least one frame.
    seq_len : int, default 32
        T, the steps of a training window.
    seed : int, default 0
        Kept for the common task interface; the data do not depend on it
        (the trainer's ``rng`` draws the windows).
    dtype : np.float32 or np.float64
    """

    name = "pianoroll"
    loss = "bce"
    metric_name = "nll"

    def __init__(self, rolls: dict, seq_len: int = 32, *, seed: int = 0, dtype=np.float64):
        super().__init__(seq_len, dtype=dtype)
        self.seed = check_int(seed, "seed", minimum=0)
        if not isinstance(rolls, dict) or set(rolls) - set(SPLITS):
            raise ValueError(f"rolls must be a dict with keys among {SPLITS}; got {rolls!r:.80}")
        self.rolls = {
            split: [np.asarray(roll, dtype=np.uint8) for roll in rolls.get(split, [])]
            for split in SPLITS
        }
        for split in ("train", "valid"):
            if not self.rolls[split]:
                raise ValueError(f"rolls[{split!r}] must hold at least one piece; got none")
        widths = {
            roll.shape[1] if roll.ndim == 2 else None
            for pieces in self.rolls.values()
            for roll in pieces
        }
        if len(widths) != 1 or None in widths:
            raise ValueError(
                f"every roll must have shape (N, P) with one P for all; got widths {widths}"
            )
        if any(len(roll) == 0 for pieces in self.rolls.values() for roll in pieces):
            raise ValueError("every roll must have at least one frame")
        if any((roll > 1).any() for pieces in self.rolls.values() for roll in pieces):
            raise ValueError("rolls must hold 0/1 values (1 = the pitch sounds in the frame)")
        self.input_size = self.output_size = widths.pop()
        self._frames, self._starts, self._steps = _windows(self.rolls["train"], self.seq_len)
        self._evaluation = {}

    def train_batch(self, step, batch_size, rng):
        """``batch_size`` windows at uniform positions drawn with ``rng`` (``step`` is unused)."""
        B, T = check_int(batch_size, "batch_size", minimum=1), self.seq_len
        picked = rng.integers(0, len(self._starts), size=B)
        starts, steps = self._starts[picked], self._steps[picked]  # (B,) each
        rows = starts[None, :] + np.arange(T)[:, None]  # (T, B) indices into the frames
        mask = (np.arange(T)[:, None] < steps[None, :]).astype(self.dtype)  # (T, B)
        # (T, B, P) each, zero past a piece's end
        x = self._frames[rows].astype(self.dtype) * mask[..., None]
        targets = self._frames[rows + 1].astype(self.dtype) * mask[..., None]
        return Batch(x, targets, mask)

    def batches(self, split: str) -> list:
        """Every piece of ``split`` ("valid" or "test") whole, as a list of :class:`Batch`."""
        if split not in ("valid", "test"):
            raise ValueError(f"split must be 'valid' or 'test'; got {split!r}")
        if not self.rolls[split]:
            raise ValueError(f"this task has no {split} pieces")
        if split not in self._evaluation:
            self._evaluation[split] = _whole_pieces(self.rolls[split], self.dtype)
        return self._evaluation[split]

    def validation_batches(self, batch_size=None):
        """Every validation piece whole (``batch_size`` is not used: up to 64 pieces per batch)."""
        return self.batches("valid")

    def metric(self, loss):
        """Per-frame NLL in nats: ``P × loss`` (the bce loss is a mean over frames and pitches)."""
        return float(loss) * self.output_size

    def held_out(self) -> PianoRollTask:
        """This task with the test pieces as its validation set, to score a finished study.

        ``Trainer(model, task.held_out()).evaluate().metric`` is the test NLL per
        frame, and ``task.held_out().baseline`` the baseline on the test pieces
        (still with the training frequencies).
        """
        if not self.rolls["test"]:
            raise ValueError("this task has no test pieces")
        task = PianoRollTask(
            {"train": self.rolls["train"], "valid": self.rolls["test"]},
            self.seq_len,
            seed=self.seed,
            dtype=self.dtype,
        )
        task.name = f"{self.name} (test pieces)"
        return task

    def baseline_on(self, split: str = "valid") -> float:
        """Per-frame NLL of independent Bernoulli pitches at training frequencies, on ``split``."""
        if split not in SPLITS or not self.rolls[split]:
            raise ValueError(f"split must be one of {SPLITS} with pieces; got {split!r}")
        return bernoulli_nll(pitch_frequencies(self.rolls["train"]), self.rolls[split])

    @property
    def baseline(self):
        return Baseline(
            self.baseline_on("valid"),
            "independent Bernoulli pitches at their training-set frequencies",
        )

    def describe(self):
        counts = {split: len(pieces) for split, pieces in self.rolls.items()}
        frames = sum(len(roll) for roll in self.rolls["train"])
        return (
            f"{self.name}: {counts['train']}/{counts['valid']}/{counts['test']} "
            f"train/valid/test pieces, "
            f"{frames} training frames, P={self.input_size} pitches, T={self.seq_len}, loss=bce, "
            f"metric=per-frame NLL (nats)"
        )

    def to_dict(self):
        """The settings and piece counts; a task built from arrays cannot be rebuilt by name."""
        counts = {split: len(pieces) for split, pieces in self.rolls.items()}
        return {"name": self.name, "seq_len": self.seq_len, "seed": self.seed, "pieces": counts}


# --------------------------------------------------------------- the chorales


def notes_of(score) -> list:
    """The notes of a music21 score as (MIDI pitch, onset, duration) tuples, in quarter notes.

    Parameters
    ----------
    score : music21.stream.Score

    Returns
    -------
    list of (int, float, float)
        One tuple per pitch of every note and chord, onsets from the start of the score.
    """
    notes = []
    for element in score.flatten().notes:  # notes and chords, offsets from the start
        onset, duration = float(element.offset), float(element.duration.quarterLength)
        notes.extend((pitch.midi, onset, duration) for pitch in element.pitches)
    return notes


def _sharps_of(score) -> int:
    """The sharps (< 0: flats) of the first key signature, else of music21's key analysis."""
    first = score.flatten().getElementsByClass("KeySignature").first()
    return int(first.sharps) if first is not None else int(score.analyze("key").sharps)


def read_chorales(
    *,
    quantum: float = 1.0,
    low: int = 31,
    high: int = 84,
    max_pieces: int | None = None,
    progress: bool | None = None,
) -> tuple:
    """Parse the Bach chorales of music21's corpus into piano rolls (needs music21; no cache).

    Parameters
    ----------
    quantum, low, high
        See :func:`numrnn.training.tasks.pianoroll.piano_roll`.
    max_pieces : int, optional
        Read only the first ``max_pieces`` files of the sorted list.
    progress : bool or None, default None
        A progress bar on stderr; None shows it only on a terminal.

    Returns
    -------
    rolls : list of ndarray of shape (N_i, P), uint8
    names, splits : list of str
        The corpus path (e.g. ``"bach/bwv1.6.mxl"``) and split of each roll.
    info : dict
        ``files`` read, ``skipped`` (not four parts), ``dropped_notes``, ``parse_seconds``.
    """
    music21 = _import_music21()
    from tqdm import tqdm

    root = os.fspath(music21.common.getCorpusFilePath())
    paths = sorted(
        os.path.relpath(os.fspath(path), root)
        for path in music21.corpus.getComposer("bach")
        if not os.fspath(path).endswith(".rntxt")
    )
    if max_pieces is not None:
        paths = paths[:max_pieces]
    rolls, names, splits = [], [], []
    skipped = dropped = 0
    started = time.perf_counter()
    bar = tqdm(
        paths,
        desc="parsing chorales",
        unit="piece",
        disable=None if progress is None else not progress,
    )
    for index, path in enumerate(bar):
        score = music21.corpus.parse(path)
        if len(score.parts) != 4:  # soprano, alto, tenor, bass only
            skipped += 1
            continue
        roll = piano_roll(
            notes_of(score),
            quantum=quantum,
            low=low,
            high=high,
            shift=key_signature_shift(_sharps_of(score)),
            length=float(score.highestTime),
        )
        rolls.append(roll.frames)
        names.append(path.replace(os.sep, "/"))
        splits.append(split_of(index))
        dropped += roll.dropped
    info = {
        "files": len(paths),
        "skipped": skipped,
        "dropped_notes": dropped,
        "parse_seconds": round(time.perf_counter() - started, 2),
    }
    return rolls, names, splits, info


class ChoralesTask(PianoRollTask):
    """Next-frame prediction on Bach chorale piano rolls (see the module docstring for every rule).

    Needs the optional extra: ``pip install "numrnn[music]"``. The first
    construction with given settings parses the corpus (about 70 s of CPU
    time for all of it) and caches the rolls; later ones read the cache (well
    under a second).

    Parameters
    ----------
    seq_len : int, default 32
        T, the steps (quarter notes) of a training window.
    seed : int, default 0
        Kept for the common task interface; the data and the split do not
        depend on it.
    max_pieces : int, optional
        Read only the first ``max_pieces`` files of the sorted corpus list
        (at least 10, so that there is a validation piece): a bounded first
        build. None reads all 413.
    quantum : float, default 1.0
        Quarter notes per frame (0.5 = eighth-note frames).
    low : int, default 31
        The lowest MIDI pitch kept (G1).
    high : int, default 84
        The highest MIDI pitch kept (C6): P = high − low + 1 = 54.
    cache_dir : str or os.PathLike, optional
        The cache folder (default: see :func:`cache_folder`).
    progress : bool or None, default None
        A progress bar while parsing; None shows it only on a terminal.
    dtype : np.float32 or np.float64

    Raises
    ------
    MissingExtraError
        music21 is not installed; the message says ``pip install "numrnn[music]"``.

    Examples
    --------
    >>> task = ChoralesTask(seq_len=32, seed=0)                   # doctest: +SKIP
    >>> task.input_size, task.output_size, task.loss                # doctest: +SKIP
    (54, 54, 'bce')
    """

    name = "chorales"

    def __init__(
        self,
        seq_len: int = 32,
        *,
        seed: int = 0,
        max_pieces: int | None = None,
        quantum: float = 1.0,
        low: int = 31,
        high: int = 84,
        cache_dir=None,
        progress: bool | None = None,
        dtype=np.float64,
    ):
        if max_pieces is not None:
            max_pieces = check_int(max_pieces, "max_pieces", minimum=10)
        quantum = check_number(quantum, "quantum", positive=True)
        low, high = check_int(low, "low", minimum=0), check_int(high, "high", minimum=0)
        if high < low:
            raise ValueError(f"high must be >= low; got low={low}, high={high}")
        music21 = _import_music21()
        self.max_pieces, self.quantum, self.low, self.high = max_pieces, quantum, low, high
        self.cache_dir = None if cache_dir is None else os.fspath(cache_dir)
        self.cache_settings = settings = {
            "task": "chorales",
            "quantum": quantum,
            "low": low,
            "high": high,
            "max_pieces": max_pieces,
            "music21": str(music21.__version__),
        }
        key = hashlib.sha256(json.dumps(settings, sort_keys=True).encode()).hexdigest()[:16]
        self.cache_path = os.path.join(cache_folder(cache_dir), f"chorales-{key}.npz")
        try:
            rolls, names, splits, info = load_rolls(self.cache_path, settings)
            self.from_cache = True
        except (FileNotFoundError, CacheError) as error:
            if isinstance(error, CacheError):
                warnings.warn(f"{error}; rebuilding it", RuntimeWarning, stacklevel=2)
            rolls, names, splits, info = read_chorales(
                quantum=quantum, low=low, high=high, max_pieces=max_pieces, progress=progress
            )
            try:
                save_rolls(self.cache_path, rolls, names, splits, settings, info=info)
            except OSError as error:  # a read-only or full disk costs the cache, not the run
                warnings.warn(
                    f"could not write the piano-roll cache {self.cache_path!r} ({error}); the "
                    f"chorales will be parsed again next time (set cache_dir or $NUMRNN_CACHE)",
                    RuntimeWarning,
                    stacklevel=2,
                )
            self.from_cache = False
        self.names, self.splits, self.info = names, splits, info
        for split in ("train", "valid"):
            if split not in splits:
                raise ValueError(
                    f"max_pieces={max_pieces} leaves no {split} piece among the four-part chorales "
                    f"read; raise max_pieces (20 or more)"
                )
        by_split = {
            split: [roll for roll, where in zip(rolls, splits, strict=True) if where == split]
            for split in SPLITS
        }
        super().__init__(by_split, seq_len, seed=seed, dtype=dtype)

    def to_dict(self):
        return {
            "name": self.name,
            "seq_len": self.seq_len,
            "seed": self.seed,
            "max_pieces": self.max_pieces,
            "quantum": self.quantum,
            "low": self.low,
            "high": self.high,
            "cache_dir": self.cache_dir,
        }
