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
        "--seed",
        type=WholeNumber(0),
        default=None,
        help="the hidden trials' seed (default: a fresh random one, printed)",
    )


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
    from ..assignment import grade
    from ..assignment.submission import find_submissions
    from ..assignment.text import printable

    found = find_submissions(args.submissions)
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
        seed=args.seed,
        limits=_limits(args),
        progress=not args.no_progress,
    )
    if args.feedback:
        for result in batch.results:  # printable: a student's text can never start a line
            print(f"== {printable(result.name)}: {result.score:.4g} / {result.max_score:.4g}")
            for note in result.notes:
                print(f"   {printable(note)}")
            for item in result.items:
                print(f"   {printable(item.output)}")
    print(batch.summary())
    print(f"hidden seed: {batch.seed} (pass --seed {batch.seed} to regrade identically)")
    for label, path in (("results.json files", args.json), ("gradebook", args.csv)):
        if path is not None:
            print(f"{label}: {path}")
    return 0


def _gradescope(args) -> int:
    from ..assignment.gradescope import write_bundle

    out = write_bundle(
        args.source, args.out, seed=args.seed, limits=_limits(args), force=args.force
    )
    print(f"wrote {out}: upload it as the assignment's autograder (Zip file upload)")
    return 0


def run(args: argparse.Namespace) -> int:
    """Run the chosen action; 0 on success, 2 for a usage or input error."""
    return args.action_run(args)
