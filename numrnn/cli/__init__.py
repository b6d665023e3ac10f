"""The ``numrnn`` command line.

``numrnn gradcheck`` proves every gradient of every architecture right;
``numrnn <command> --help`` documents each command's flags. Each command is a
module with ``add_arguments(parser)`` and ``run(args) -> exit code``, listed
in :data:`COMMANDS`.

Exit codes, the same for every command (``docs/install.md``): 0 ok, 1 training
diverged or a check failed, 2 a usage or input error, 130 interrupted (Ctrl-C).
:func:`main` maps them in one place: an input error the library raises
(ValueError, TypeError, OSError) becomes one line ``numrnn <command>: error:
...`` and exit 2; Ctrl-C becomes one line and exit 130, with no traceback.
"""

from __future__ import annotations

import argparse
import importlib
import sys

from .._version import __version__

# name -> (module, one-line help). A module provides add_arguments(parser) and run(args).
COMMANDS = {
    "gradcheck": ("numrnn.cli.gradcheck", "check every gradient against finite differences"),
    "train": (
        "numrnn.cli.train",
        "train an architecture on a task; write a checkpoint and the history",
    ),
    "sample": ("numrnn.cli.sample", "sample text from a character-model checkpoint"),
    "plot": ("numrnn.cli.plot", "draw a run's training curves and gradient-norm heat-map (PNG)"),
    "diagnose": (
        "numrnn.cli.diagnose",
        "gradient flow of one architecture at initialisation, with figures",
    ),
    "compare": ("numrnn.cli.compare", "the chapter's comparison table, measured, with figures"),
    "assignment": (
        "numrnn.cli.assignment",
        "classroom assignments: list, make the student version, grade, Gradescope bundle",
    ),
}


def build_parser() -> argparse.ArgumentParser:
    """The argument parser with every command's subparser."""
    parser = argparse.ArgumentParser(
        prog="numrnn",
        description="Deep recurrent networks in pure NumPy, every gradient checked.",
    )
    parser.add_argument("--version", action="version", version=f"numrnn {__version__}")
    subparsers = parser.add_subparsers(dest="command", metavar="COMMAND")
    for name, (module_name, help_text) in COMMANDS.items():
        module = importlib.import_module(module_name)
        sub = subparsers.add_parser(
            name,
            help=help_text,
            description=module.__doc__.strip().splitlines()[0],
            formatter_class=argparse.ArgumentDefaultsHelpFormatter,
        )
        module.add_arguments(sub)
        sub.set_defaults(run=module.run)
    return parser


def main(argv=None) -> int:
    """Entry point of the ``numrnn`` console script; returns the exit code."""
    parser = build_parser()
    args = parser.parse_args(argv)
    if args.command is None:
        parser.print_help()
        return 2
    try:
        return int(args.run(args) or 0)
    except KeyboardInterrupt:
        print(f"numrnn {args.command}: interrupted", file=sys.stderr)
        return 130
    except (ValueError, TypeError, OSError) as error:
        print(f"numrnn {args.command}: error: {error}", file=sys.stderr)
        return 2


if __name__ == "__main__":
    sys.exit(main())
