"""Piano rolls in pure NumPy: notes to frames, split by piece, Bernoulli baseline, cache.

A piece is a list of notes ``(pitch, onset, duration)``: a MIDI pitch number
(60 = middle C) and times in quarter notes (music21's ``quarterLength``). Its
*piano roll* samples it on a grid of frames, one every ``quantum`` quarter
notes: frame k holds the pitches that sound at the frame's start time ``k q``,

    roll[k, p − low] = 1  ⇔  a note of (shifted) pitch p has  onset ≤ k q < onset + duration,

so a held note stays on, a note shorter than the grid that sounds at no frame
start is not seen, and a repeated note looks like a held one: the classic
piano-roll of the JSB Chorales benchmark (Boulanger-Lewandowski et al. 2012),
which Pascanu et al. (2014) used to compare deep RNNs. Pitches outside
``[low, high]`` are dropped and counted.

Every piece is moved to a common key before sampling: :func:`key_signature_shift`
gives the semitones that take a key signature to C major / A minor (no sharps
or flats), the smaller of the two ways (−6..+5).

Nothing here needs music21; :mod:`numrnn.training.tasks.chorales` reads the
notes from its corpus and calls these functions.

Shape legend: N frames of a piece, P pitches (``high − low + 1``).
"""

from __future__ import annotations

import json
import math
import os
import secrets
import zipfile
from typing import NamedTuple

import numpy as np

from ..._checks import check_int, check_number

__all__ = [
    "PianoRoll",
    "key_signature_shift",
    "piano_roll",
    "split_of",
    "SPLITS",
    "pitch_frequencies",
    "bernoulli_nll",
    "save_rolls",
    "load_rolls",
    "CacheError",
]

SPLITS = ("train", "valid", "test")


class PianoRoll(NamedTuple):
    """A piece sampled on the frame grid.

    Attributes
    ----------
    frames : ndarray of shape (N, P), uint8
        1 where the pitch sounds at the frame's start.
    dropped : int
        Notes left out because their shifted pitch is outside ``[low, high]``.
    """

    frames: np.ndarray
    dropped: int


def key_signature_shift(sharps: int) -> int:
    """The semitones, in −6..+5, that move a key signature to C major / A minor.

    A signature of s sharps (s < 0: flats) is the major key whose tonic is
    ``7 s`` semitones above C (mod 12), or its relative minor, a minor third
    below; shifting by minus that, taken in −6..+5, lands on C major / A minor.
    E.g. 2 sharps (D major / B minor) → −2; 3 flats (E♭ major / C minor) → −3;
    5 sharps (B major) → +1.

    Parameters
    ----------
    sharps : int in −7..7

    Returns
    -------
    int
    """
    sharps = check_int(sharps, "sharps")
    if not -7 <= sharps <= 7:
        raise ValueError(f"sharps must be in -7..7 (negative = flats); got {sharps}")
    tonic = (7 * sharps) % 12  # pitch class of the major key's tonic
    return -tonic if tonic <= 6 else 12 - tonic


def piano_roll(
    notes,
    *,
    quantum: float = 1.0,
    low: int = 36,
    high: int = 84,
    shift: int = 0,
    length: float | None = None,
) -> PianoRoll:
    """Sample notes on a grid of frames (see the module docstring for the rule).

    Parameters
    ----------
    notes : iterable of (pitch, onset, duration)
        MIDI pitch (int), onset and duration in quarter notes (onset >= 0,
        duration >= 0; a duration-0 grace note sounds at no frame).
    quantum : float > 0, default 1.0
        Quarter notes per frame: 1.0 = a quarter note, 0.5 = an eighth.
    low, high : int, default 36 (C2) and 84 (C6)
        The lowest and highest MIDI pitch kept, inclusive: P = high − low + 1.
    shift : int, default 0
        Semitones added to every pitch before the range is applied.
    length : float, optional
        The piece's length in quarter notes (frames = ⌈length / quantum⌉);
        default: the end of its last note.

    Returns
    -------
    PianoRoll
        ``frames`` of shape (N, P), uint8, and the number of dropped notes.
    """
    quantum = check_number(quantum, "quantum", positive=True)
    low, high, shift = (
        check_int(low, "low", minimum=0),
        check_int(high, "high", minimum=0),
        check_int(shift, "shift"),
    )
    if high < low:
        raise ValueError(f"high must be >= low; got low={low}, high={high}")
    notes = [(int(pitch), float(onset), float(duration)) for pitch, onset, duration in notes]
    for pitch, onset, duration in notes:
        if onset < 0 or duration < 0 or not (math.isfinite(onset) and math.isfinite(duration)):
            raise ValueError(
                f"notes need a finite onset >= 0 and duration >= 0; got {(pitch, onset, duration)}"
            )
    end = max((onset + duration for _, onset, duration in notes), default=0.0)
    if length is None:
        length = end
    tolerance = 1e-6  # offsets such as 1/3 come as floats
    frames_count = max(0, math.ceil(length / quantum - tolerance))
    frames = np.zeros((frames_count, high - low + 1), dtype=np.uint8)
    dropped = 0
    for pitch, onset, duration in notes:
        pitch += shift
        if not low <= pitch <= high:
            dropped += 1
            continue
        # the frames whose start k q lies in [onset, onset + duration)
        first = math.ceil(onset / quantum - tolerance)
        stop = math.ceil((onset + duration) / quantum - tolerance)
        frames[first:stop, pitch - low] = 1
    return PianoRoll(frames, dropped)


def split_of(index: int) -> str:
    """The split of the piece at 0-based ``index`` in the sorted list of files (80/10/10).

    ``index % 10 == 8`` is validation, ``index % 10 == 9`` test, the rest
    training: 80 / 10 / 10 by piece. A piece's split depends on its place in
    the full sorted list only, so capping the number of pieces read never
    moves a piece from one split to another.
    """
    index = check_int(index, "index", minimum=0)
    return {8: "valid", 9: "test"}.get(index % 10, "train")


def pitch_frequencies(rolls) -> np.ndarray:
    """Each pitch's share of frames in which it sounds, with add-one smoothing.

    Parameters
    ----------
    rolls : list of ndarray of shape (N_i, P)

    Returns
    -------
    ndarray of shape (P,), float64
        ``(count_p + 1) / (frames + 2)``: never 0 or 1, so the NLL is finite.
    """
    counts = sum(np.asarray(roll, dtype=np.float64).sum(axis=0) for roll in rolls)
    frames = sum(len(roll) for roll in rolls)
    return (counts + 1.0) / (frames + 2.0)


def bernoulli_nll(probabilities: np.ndarray, rolls) -> float:
    """Mean over frames of the NLL in nats of independent Bernoulli pitches.

    ``−Σ_p [v_p log π_p + (1 − v_p) log(1 − π_p)]`` for each frame v, then
    the mean over every frame of every roll.

    Parameters
    ----------
    probabilities : ndarray of shape (P,)
        π, each in (0, 1).
    rolls : list of ndarray of shape (N_i, P)

    Returns
    -------
    float
    """
    probabilities = np.asarray(probabilities, dtype=np.float64)
    on = np.concatenate([np.asarray(roll, dtype=np.float64) for roll in rolls])  # (Σ N_i, P)
    per_frame = -(on * np.log(probabilities) + (1 - on) * np.log1p(-probabilities)).sum(axis=1)
    return float(per_frame.mean())


# ------------------------------------------------------------------ the cache

CACHE_FORMAT = 1


class CacheError(ValueError):
    """A cache file that cannot be read, or that holds rolls built with other settings."""


def save_rolls(path, rolls, names, splits, settings: dict, *, info: dict | None = None) -> None:
    """Write piano rolls to ``path`` as an .npz file, atomically (a temp file, then os.replace).

    Parameters
    ----------
    path : str or os.PathLike
    rolls : list of ndarray of shape (N_i, P)
    names : list of str
        One per roll, e.g. the corpus path.
    splits : list of str
        One of :data:`SPLITS` per roll.
    settings : dict
        JSON-ready; :func:`load_rolls` refuses the file unless it is given the same.
    info : dict, optional
        JSON-ready facts about the build (times, dropped notes ...), returned by :func:`load_rolls`.
    """
    if not (len(rolls) == len(names) == len(splits)):
        raise ValueError(
            f"rolls, names and splits must have one entry per piece; got {len(rolls)}, "
            f"{len(names)}, {len(splits)}"
        )
    pitches = {roll.shape[1] for roll in rolls}
    if len(pitches) > 1:
        raise ValueError(f"every roll must have the same number of pitches; got {sorted(pitches)}")
    bad = sorted(set(splits) - set(SPLITS))
    if bad:
        raise ValueError(f"splits must be among {SPLITS}; got {bad}")
    width = pitches.pop() if pitches else 0
    arrays = {
        "format": np.array(CACHE_FORMAT),
        "settings": np.array(json.dumps(settings, sort_keys=True)),
        "info": np.array(json.dumps(info or {}, sort_keys=True)),
        "frames": np.concatenate(rolls).astype(np.uint8)
        if rolls
        else np.zeros((0, width), np.uint8),
        "lengths": np.array([len(roll) for roll in rolls], dtype=np.int64),
        "names": np.array(list(names), dtype=str),
        "splits": np.array(list(splits), dtype=str),
    }
    folder = os.path.dirname(os.path.abspath(path))
    os.makedirs(folder, exist_ok=True)
    temporary = os.path.join(
        folder, f".{os.path.basename(path)}.{os.getpid()}.{secrets.token_hex(4)}.tmp"
    )
    try:
        with open(temporary, "xb") as stream:  # a new file, with the user's usual permissions
            np.savez_compressed(stream, **arrays)
        os.replace(temporary, path)  # atomic: readers see the old file or the new one
    except BaseException:
        if os.path.exists(temporary):
            os.unlink(temporary)
        raise


def load_rolls(path, settings: dict) -> tuple:
    """Read piano rolls written by :func:`save_rolls` with the same ``settings``.

    Parameters
    ----------
    path : str or os.PathLike
    settings : dict
        Must equal the settings the file was written with.

    Returns
    -------
    rolls : list of ndarray of shape (N_i, P), uint8
    names, splits : list of str
    info : dict

    Raises
    ------
    FileNotFoundError
        No file at ``path``.
    CacheError
        The file is not a readable roll cache, or was built with other settings.
    """
    path = os.fspath(path)
    expected = json.dumps(settings, sort_keys=True)
    try:
        with np.load(path, allow_pickle=False) as data:
            if int(data["format"]) != CACHE_FORMAT:
                raise CacheError(
                    f"cache file {path!r} has format {int(data['format'])}, not {CACHE_FORMAT}"
                )
            if str(data["settings"]) != expected:
                raise CacheError(
                    f"cache file {path!r} was built with settings {str(data['settings'])}, "
                    f"not {expected}"
                )
            frames, lengths = data["frames"], data["lengths"]
            names, splits = (
                [str(name) for name in data["names"]],
                [str(split) for split in data["splits"]],
            )
            info = json.loads(str(data["info"]))
    except FileNotFoundError:
        raise
    except CacheError:
        raise
    except (OSError, ValueError, KeyError, EOFError, zipfile.BadZipFile) as error:
        raise CacheError(
            f"cache file {path!r} is not a readable piano-roll cache: "
            f"{type(error).__name__}: {error}"
        ) from None
    if (
        frames.ndim != 2
        or lengths.sum() != len(frames)
        or not (len(lengths) == len(names) == len(splits))
    ):
        raise CacheError(
            f"cache file {path!r} is inconsistent: {len(frames)} frames, lengths summing to "
            f"{int(lengths.sum())}, {len(names)} names, {len(splits)} splits"
        )
    rolls = np.split(frames, np.cumsum(lengths)[:-1]) if len(lengths) else []
    return rolls, names, splits, info
