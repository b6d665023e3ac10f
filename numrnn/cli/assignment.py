"""Classroom assignments: list, make the student version, grade, bundle for Gradescope.

``numrnn assignment list`` names the shipped assignments and their source files;
``make SOURCE OUTDIR`` writes the student version (``.py`` and ``.ipynb``);
``grade SOURCE SUBMISSION...`` grades ``.py``/``.ipynb`` submissions (or folders
of them) in sandboxed processes, writes Gradescope ``results.json`` files
(``--json DIR``) and a CSV gradebook (``--csv``), and prints a summary;
``gradescope SOURCE OUT.zip`` writes a Gradescope autograder bundle. SOURCE is a
teacher's source file or a shipped assignment's name. An existing output is
never replaced without ``--force``. See ``docs/assignments.md``.
"""

from __future__ import annotations

import argparse
import os
import sys
from pathlib import Path

from ..assignment import catalog
from .arguments import WholeNumber, positive_number


def _add_limit_flags(parser) -> None:
    parser.add_argument(
        "--time",
        type=positive_number,
        default=None,
        help="seconds per graded function of a submission, for every function "
        "(default: the declaration's, else 10)",
    )
    parser.add_argument(
        "--top-level-time",
        type=positive_number,
        default=None,
        help="seconds the submission's top-level code (outside functions) may take before "
        "each graded function (default: the declaration's, else --time)",
    )
    parser.add_argument(
        "--memory-mb",
        type=WholeNumber(1),
        default=None,
        help="address-space limit in MiB per run (default: the declaration's, else 1024)",
    )
    parser.add_argument(
        "--seed-file",
        type=Path,
        default=None,
        metavar="FILE",
        help="a file holding the hidden trials' seed, or - for stdin (default: $NUMRNN_SEED, "
        "else a fresh random one, printed); never on the command line, where every user "
        "of the machine can read it",
    )
    parser.add_argument("--seed", default=None, help=argparse.SUPPRESS)


def add_arguments(parser: argparse.ArgumentParser) -> None:
    """The actions of ``numrnn assignment`` and their flags."""
    actions = parser.add_subparsers(dest="action", metavar="ACTION")
    actions.required = True
    listing = actions.add_parser(
        "list",
        help="the shipped assignments: name, then the path of the source file",
        description="Name every shipped assignment, one a line, then its source file's path.",
    )
    listing.set_defaults(action_run=_list)

    make = actions.add_parser(
        "make",
        help="write the student version (.py and .ipynb) of an assignment",
        description="Write the student version: solutions replaced by NotImplementedError, "
        "public tests appended, as a jupytext .py and an .ipynb.",
    )
    make.add_argument("source", help="a teacher's source file or a shipped assignment's name")
    make.add_argument("outdir", type=Path, help="the folder to write into (created if missing)")
    make.add_argument("--force", action="store_true", help="replace existing student files")
    make.set_defaults(action_run=_make)

    grade = actions.add_parser(
        "grade",
        help="grade submissions in sandboxed processes; results.json, gradebook, summary",
        description="Grade .py/.ipynb submissions (or folders of them) against the reference.",
        formatter_class=argparse.ArgumentDefaultsHelpFormatter,
    )
    grade.add_argument("source", help="a teacher's source file or a shipped assignment's name")
    grade.add_argument(
        "submissions", nargs="+", type=Path, metavar="SUBMISSION", help=".py, .ipynb or a folder"
    )
    grade.add_argument(
        "--json", type=Path, default=None, metavar="DIR", help="write <name>.json per submission"
    )
    grade.add_argument(
        "--csv", type=Path, default=None, metavar="FILE", help="write the CSV gradebook"
    )
    grade.add_argument(
        "--workers",
        type=WholeNumber(1),
        default=None,
        help="submissions graded at once (default: the CPU cores)",
    )
    _add_limit_flags(grade)
    grade.add_argument(
        "--allow-unisolated",
        action="store_true",
        help="as root, grade even where bubblewrap cannot isolate student code",
    )
    grade.add_argument(
        "--feedback", action="store_true", help="print every submission's feedback too"
    )
    grade.add_argument("--no-progress", action="store_true", help="no progress bar")
    grade.add_argument("--force", action="store_true", help="replace existing --json/--csv files")
    grade.set_defaults(action_run=_grade)

    bundle = actions.add_parser(
        "gradescope",
        help="write a Gradescope autograder bundle (.zip)",
        description="Write a Gradescope autograder zip: setup.sh, run_autograder, numrnn, "
        "the hidden solution and seed.",
    )
    bundle.add_argument("source", help="a teacher's source file or a shipped assignment's name")
    bundle.add_argument("out", type=Path, help="the .zip to write")
    _add_limit_flags(bundle)
    bundle.add_argument("--force", action="store_true", help="replace an existing zip")
    bundle.set_defaults(action_run=_gradescope)


def _limits(args) -> dict | None:
    limits = {}
    if args.time is not None:
        limits["time"] = args.time
    if args.top_level_time is not None:
        limits["top_level_time"] = args.top_level_time
    if args.memory_mb is not None:
        limits["memory_mb"] = args.memory_mb
    return limits or None


SEED_ENV = "NUMRNN_SEED"


def _seed(args) -> int | None:
    """The hidden seed from ``--seed-file`` or ``$NUMRNN_SEED`` (None: draw one)."""
    if args.seed is not None:
        raise ValueError(
            "--seed would put the hidden seed on the command line, where every user of this "
            "machine can read it (/proc/PID/cmdline); write it in a file and pass --seed-file "
            f"FILE, or set {SEED_ENV}"
        )
    if args.seed_file is not None:
        where = f"--seed-file {str(args.seed_file)!r}"
        if str(args.seed_file) == "-":
            text = sys.stdin.readline()
        else:
            text = args.seed_file.read_text(encoding="utf-8")
    elif os.environ.get(SEED_ENV):
        where, text = f"${SEED_ENV}", os.environ[SEED_ENV]
    else:
        return None
    text = text.strip()
    if not text.isdigit():
        raise ValueError(f"{where} must hold a whole number >= 0; got {text[:40]!r}")
    return int(text)


def _list(args) -> int:
    listed = catalog.list_assignments()
    width = max((len(name) for name, _ in listed), default=0)
    for name, path in listed:
        print(f"{name:<{width}}  {path}")
    return 0


def _make(args) -> int:
    from ..assignment import load, write_student_version

    assignment = load(args.source)
    targets = [args.outdir / f"{assignment.name}{suffix}" for suffix in (".py", ".ipynb")]
    existing = [str(path) for path in targets if path.exists()]
    if existing and not args.force:
        raise FileExistsError(f"{existing[0]!r} exists; pass --force to replace it")
    py_path, nb_path = write_student_version(assignment, args.outdir)
    print(f"wrote {py_path}")
    print(f"wrote {nb_path}")
    return 0


def _grade(args) -> int:
    from ..assignment import grade, probe_isolation
    from ..assignment.submission import find_submissions
    from ..assignment.text import printable

    seed = _seed(args)
    found = find_submissions(args.submissions)
    isolation = probe_isolation()
    if not isolation.isolated and (os.geteuid() != 0 or args.allow_unisolated):
        print(f"numrnn assignment: warning: {isolation.describe()}", file=sys.stderr)
    if not args.force:
        if args.csv is not None and args.csv.exists():
            raise FileExistsError(f"--csv {str(args.csv)!r} exists; pass --force to replace it")
        if args.json is not None:
            clashes = [args.json / f"{name}.json" for name, _ in found]
            clashes = [str(path) for path in clashes if path.exists()]
            if clashes:
                raise FileExistsError(
                    f"--json: {clashes[0]!r} exists ({len(clashes)} would be replaced); "
                    "pass --force to replace them"
                )
    batch = grade(
        args.source,
        args.submissions,
        json_dir=args.json,
        csv_path=args.csv,
        workers=args.workers,
        seed=seed,
        limits=_limits(args),
        progress=not args.no_progress,
        allow_unisolated=args.allow_unisolated,
    )
    if args.feedback:
        for result in batch.results:  # printable: a student's text can never start a line
            print(f"== {printable(result.name)}: {result.score:.4g} / {result.max_score:.4g}")
            for note in result.notes:
                print(f"   {printable(note)}")
            for item in result.items:
                print(f"   {printable(item.output)}")
    print(batch.summary())
    print(
        f"hidden seed: {batch.seed} (to regrade identically, put it in a file and pass "
        f"--seed-file FILE, or set {SEED_ENV}={batch.seed})"
    )
    for label, path in (("results.json files", args.json), ("gradebook", args.csv)):
        if path is not None:
            print(f"{label}: {path}")
    return 0


def _gradescope(args) -> int:
    from ..assignment.gradescope import write_bundle

    out = write_bundle(
        args.source, args.out, seed=_seed(args), limits=_limits(args), force=args.force
    )
    print(f"wrote {out}: upload it as the assignment's autograder (Zip file upload)")
    return 0


def run(args: argparse.Namespace) -> int:
    """Run the chosen action; 0 on success, 2 for a usage or input error."""
    return args.action_run(args)
