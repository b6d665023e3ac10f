"""A Gradescope autograder bundle for an assignment, and the code that runs inside it.

``numrnn assignment gradescope SOURCE OUT.zip`` (:func:`write_bundle`) writes a
zip for Gradescope's "Zip file upload" autograder. Gradescope unpacks it into
``/autograder/source``, runs ``setup.sh`` once to build the image, then, for
every submission, copies the student's files to ``/autograder/submission`` and
runs ``run_autograder``, which must leave ``/autograder/results/results.json``.

The bundle holds::

    setup.sh          installs Python 3, pip, bubblewrap and numrnn's dependencies, then sets
                      the bundle's owner (root) and modes itself, whatever the zip held
    run_autograder    python3 -m numrnn.assignment.gradescope --root /autograder
    requirements.txt  numrnn's runtime dependencies (numpy, matplotlib, tqdm), as numrnn states them
    README.md         what protects the hidden files in Gradescope's container, and what does not
    numrnn/           this numrnn, copied, without the shipped assignments' sources
    hidden/source.py  the teacher's source: the solution and the declaration (the sandbox hides it)
    hidden/config.json  the assignment's name, the hidden seed and any limit overrides

The hidden seed is drawn once, when the bundle is made, so a regrade on
Gradescope reproduces the same hidden trials. Only the assignment graded is in the bundle:
numrnn's shipped assignments (``numrnn/assignment/library``, with their solutions) are left
out. Gradescope runs each submission in a fresh container, as root, so the grader isolates
the student's code with bubblewrap where the container allows it, and otherwise grades
without (the container being the only wall) and says so in the results' visible output.
``run_autograder`` reads the root from ``NUMRNN_GRADESCOPE_ROOT`` (default ``/autograder``)
and the interpreter from ``NUMRNN_PYTHON`` (default ``python3``), so a test can run it
against a folder laid out like Gradescope's.
"""

from __future__ import annotations

import argparse
import io
import json
import os
import shutil
import stat
import sys
import time
import traceback
import zipfile
from importlib import metadata
from pathlib import Path

from .._version import __version__
from .catalog import load
from .files import write_bytes_atomic, write_text_atomic
from .grader import Grader, SubmissionResult
from .results import gradescope_results, validate_gradescope
from .submission import SUFFIXES, read_submission

PACKAGE_DIR = Path(__file__).resolve().parents[1]
CONFIG_NAME = "config.json"

SETUP_SH = """#!/usr/bin/env bash
# Gradescope runs this once, as root, to build the autograder image.
set -euo pipefail
cd "$(dirname "$0")"
if ! command -v python3 >/dev/null || ! python3 -m pip --version >/dev/null 2>&1 \\
        || ! command -v bwrap >/dev/null; then
    apt-get update
    DEBIAN_FRONTEND=noninteractive apt-get install -y python3 python3-pip bubblewrap util-linux
fi
python3 -m pip install --no-cache-dir -r requirements.txt \\
    || python3 -m pip install --no-cache-dir --break-system-packages -r requirements.txt
# The bundle's owner and modes, whatever the zip or its unpacking left: root's alone, and the
# solution and the seed readable by root only.
chown -R root:root .
chmod -R u=rwX,go= .
chmod 0700 hidden
chmod 0600 hidden/*
chmod 0700 setup.sh run_autograder
PYTHONPATH="$PWD" python3 -c "import numrnn.assignment, numrnn as n; print('numrnn', n.__version__)"
"""

README_MD = """# numrnn autograder bundle: what protects the hidden files

Gradescope runs `run_autograder` as root, in a fresh container for every submission.

**From Gradescope itself:** the container (one submission per container, so nothing one
student leaves survives to the next), its time limit and its resources.

**From numrnn, always:** the student's code runs as an unprivileged uid (never root), with
per-process limits (time, address space, output, processes); `setup.sh` makes this bundle
root's alone (`hidden/` 0700, its files 0600) whatever the zip held; nothing comes back from
the student's process but arrays and a status file that the grader validates; results.json
carries only a non-reversible id of the hidden seed.

**From numrnn, where the container allows it:** bubblewrap (installed by `setup.sh`) runs the
student's code in a new root holding only Python and NumPy (this bundle, the solution and
the seed are not there at all), with no network, its own IPC/PID/UTS namespaces, no
capabilities and no new privileges (setuid programs gain nothing). It needs unprivileged user
namespaces, which Docker's default seccomp profile may refuse; and a cgroup bounds the whole
run's memory and processes only where the container's cgroup tree is writable.

Whichever of these held is written in every result's visible output (the line starting
"sandbox:"), not only in a log: "sandbox: NOT isolated (...)" means the file modes and the
unprivileged uid above were the protection.
"""

RUN_AUTOGRADER = """#!/usr/bin/env bash
# Gradescope runs this, as root, once per submission: it must write results/results.json.
ROOT="${NUMRNN_GRADESCOPE_ROOT:-/autograder}"
HERE="$(cd "$(dirname "$0")" && pwd)"
# Gradescope copies this script to /autograder/run_autograder; the bundle is in source/.
if [ -d "$HERE/numrnn" ]; then SOURCE="$HERE"; else SOURCE="$ROOT/source"; fi
cd "$SOURCE"
PYTHONPATH="$SOURCE" exec "${NUMRNN_PYTHON:-python3}" -m numrnn.assignment.gradescope \\
    --root "$ROOT" --bundle "$SOURCE"
"""


RUNTIME_REQUIREMENTS = ("numpy>=1.23", "matplotlib>=3.5", "tqdm>=4.60")  # as in setup.cfg


def _requirements() -> str:
    """numrnn's runtime dependencies, as its installed metadata states them (else setup.cfg's)."""
    try:
        required = [
            line.split(";")[0].strip()
            for line in metadata.requires("numrnn") or []
            if "extra ==" not in line
        ]
    except metadata.PackageNotFoundError:
        required = []
    return "\n".join(required or RUNTIME_REQUIREMENTS) + "\n"


def _package_files():
    """``(path inside the zip, file)`` of every file of the numrnn package (no caches)."""
    library = PACKAGE_DIR / "assignment" / "library"  # every shipped solution: never shipped
    for path in sorted(PACKAGE_DIR.rglob("*")):
        if not path.is_file() or "__pycache__" in path.parts or path.suffix in (".pyc", ".pyo"):
            continue
        if library in path.parents:
            continue
        yield "numrnn/" + path.relative_to(PACKAGE_DIR).as_posix(), path


def write_bundle(
    source, out, *, seed: int | None = None, limits: dict | None = None, force: bool = False
) -> Path:
    """Write the Gradescope autograder zip of an assignment.

    Parameters
    ----------
    source : str or Path
        A teacher's source file, or a shipped assignment's name.
    out : str or Path
        The ``.zip`` to write.
    seed : int, optional
        The hidden trials' seed (default: a fresh random one, stored in the bundle).
    limits : dict, optional
        Overrides of every item's limits, as for :func:`numrnn.assignment.grade`.
    force : bool
        Replace ``out`` if it exists (default: refuse).

    Returns
    -------
    Path
        ``out``.

    Raises
    ------
    FileExistsError
        If ``out`` exists and ``force`` is not set.
    ValueError
        If ``out`` does not end in ``.zip``, or the source is malformed.
    """
    out = Path(out)
    if out.suffix != ".zip":
        raise ValueError(f"the bundle must be a .zip file; got {str(out)!r}")
    if out.exists() and not force:
        raise FileExistsError(f"{str(out)!r} exists; pass --force to replace it")
    if not out.parent.is_dir():
        raise FileNotFoundError(f"the folder of {str(out)!r} does not exist")
    assignment = load(source)
    # Fail now, not on Gradescope: the reference must run and the limits must parse.
    grader = Grader(assignment, seed=seed, limits=limits, isolate=False)
    grader.close()
    config = {
        "assignment": assignment.name,
        "seed": grader.seed,
        "limits": limits or {},
        "numrnn_version": __version__,
    }
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w", zipfile.ZIP_DEFLATED) as bundle:
        for name, text in (("setup.sh", SETUP_SH), ("run_autograder", RUN_AUTOGRADER)):
            info = zipfile.ZipInfo(name, date_time=time.localtime()[:6])
            info.external_attr = (stat.S_IFREG | 0o755) << 16
            info.compress_type = zipfile.ZIP_DEFLATED
            bundle.writestr(info, text)
        bundle.writestr("requirements.txt", _requirements())
        bundle.writestr("README.md", README_MD)
        bundle.writestr("hidden/source.py", assignment.text)
        bundle.writestr(f"hidden/{CONFIG_NAME}", json.dumps(config, indent=2) + "\n")
        for name, path in _package_files():
            bundle.write(path, name)
    write_bytes_atomic(out, buffer.getvalue())
    return out


def find_submission_file(folder, assignment_name: str) -> Path:
    """The one file of a Gradescope submission folder to grade.

    The file named after the assignment (``<name>.ipynb`` or ``<name>.py``)
    wins; otherwise the only ``.ipynb``, otherwise the only ``.py``.

    Raises
    ------
    ValueError
        If there is none, or several and none is named after the assignment.
    """
    folder = Path(folder)
    files = sorted(
        path
        for path in folder.rglob("*")
        if path.is_file()
        and path.suffix in SUFFIXES
        and ".ipynb_checkpoints" not in path.parts
        and not path.name.startswith(".")
    )
    for suffix in (".ipynb", ".py"):
        named = [path for path in files if path.name == f"{assignment_name}{suffix}"]
        if named:
            return named[0]
    for suffix in (".ipynb", ".py"):
        kind = [path for path in files if path.suffix == suffix]
        if len(kind) == 1:
            return kind[0]
    if not files:
        raise ValueError(
            f"no .ipynb or .py file was submitted; upload {assignment_name}.ipynb "
            f"(or {assignment_name}.py)"
        )
    raise ValueError(
        f"{len(files)} files were submitted ({', '.join(p.name for p in files[:5])}); "
        f"name the one to grade {assignment_name}.ipynb"
    )


def _error_results(message: str, seconds: float) -> dict:
    return {
        "score": 0.0,
        "execution_time": round(seconds, 3),
        "output": message,
        "visibility": "visible",
        "stdout_visibility": "hidden",
        "tests": [],
    }


def submission_name(root, path) -> str:
    """The name a Gradescope submission is graded under: it draws that student's hidden trials.

    Every student uploads the same file name, so the name comes from Gradescope's
    ``submission_metadata.json``: the sorted ids of the submission's users (a group shares
    them; a resubmission, or a regrade, draws the same trials), else the submission's id, else
    the file's stem (a folder laid out by hand, as in the tests).

    Parameters
    ----------
    root : Path
        Gradescope's ``/autograder``.
    path : Path
        The submitted file.

    Returns
    -------
    str
    """
    try:
        metadata = json.loads((Path(root) / "submission_metadata.json").read_text("utf-8"))
    except (OSError, ValueError):
        return Path(path).stem
    if not isinstance(metadata, dict):
        return Path(path).stem
    users = metadata.get("users")
    ids = (
        sorted(str(user["id"]) for user in users or () if isinstance(user, dict) and "id" in user)
        if isinstance(users, list)
        else []
    )
    if ids:
        return "user-" + "-".join(ids)
    if metadata.get("id") is not None:
        return f"submission-{metadata['id']}"
    return Path(path).stem


def run(root, bundle) -> dict:
    """Grade the submission under ``root`` and write ``root/results/results.json``.

    Parameters
    ----------
    root : str or Path
        Gradescope's ``/autograder`` (or a folder laid out like it, with
        ``submission/``; ``results/`` is created).
    bundle : str or Path
        The unpacked bundle (holds ``hidden/``).

    Returns
    -------
    dict
        What was written, in Gradescope's ``results.json`` layout.
    """
    start = time.perf_counter()
    root, bundle = Path(root), Path(bundle)
    results_dir = root / "results"
    results_dir.mkdir(parents=True, exist_ok=True)
    config = json.loads((bundle / "hidden" / CONFIG_NAME).read_text(encoding="utf-8"))
    try:
        from .source import read_source

        assignment = read_source(bundle / "hidden" / "source.py", name=config["assignment"])
        path = find_submission_file(root / "submission", assignment.name)
        read_submission(path)  # an unreadable notebook is reported below, as a zero
        hide = [root, bundle]  # the solution, the config, the results (never the interpreter)
        with Grader(
            assignment,
            seed=int(config["seed"]),
            limits=config.get("limits") or None,
            hide=hide,
            allow_unisolated=True,  # the container is the wall then; the output says so
        ) as grader:
            result: SubmissionResult = grader.grade_file(submission_name(root, path), path)
            isolation = grader.sandbox.isolation.describe()
        results = gradescope_results(result)
        results["output"] += "\n" + f"Graded {path.name} with numrnn {config['numrnn_version']}."
        results["output"] += "\n" + isolation
        results["extra_data"]["isolation"] = isolation
    except ValueError as error:
        results = _error_results(f"Your submission could not be graded: {error}", 0.0)
    except Exception:  # noqa: BLE001 - the staff must see it in results.json, not a blank page
        results = _error_results(
            "The autograder failed (this is not your fault; tell the course staff):\n"
            + traceback.format_exc(limit=5),
            0.0,
        )
    results["execution_time"] = round(time.perf_counter() - start, 3)
    validate_gradescope(results)
    write_text_atomic(results_dir / "results.json", json.dumps(results, indent=2) + "\n")
    return results


def main(argv=None) -> int:
    """``python -m numrnn.assignment.gradescope --root /autograder --bundle DIR``."""
    parser = argparse.ArgumentParser(prog="numrnn.assignment.gradescope")
    parser.add_argument("--root", default="/autograder")
    parser.add_argument("--bundle", default=None, help="the unpacked bundle (default ROOT/source)")
    args = parser.parse_args(argv)
    bundle = args.bundle or os.path.join(args.root, "source")
    results = run(args.root, bundle)
    print(f"numrnn autograder: {results['score']:.4g} points; results.json written")
    return 0


def unpack_bundle(bundle_zip, root) -> Path:
    """Unpack a bundle into ``root/source`` the way Gradescope does (modes kept).

    Also copies ``run_autograder`` to ``root``, as Gradescope does. For trying a
    bundle locally (``docs/assignments.md``) and for the tests.

    Returns
    -------
    Path
        ``root/source``.
    """
    target = Path(root) / "source"
    target.mkdir(parents=True, exist_ok=True)
    with zipfile.ZipFile(bundle_zip) as bundle:
        for info in bundle.infolist():
            path = bundle.extract(info, target)
            mode = info.external_attr >> 16
            if mode & 0o777:
                os.chmod(path, mode & 0o777)
    shutil.copy2(target / "run_autograder", Path(root) / "run_autograder")
    return target


if __name__ == "__main__":
    sys.exit(main())
