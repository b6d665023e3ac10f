r"""Sample text from a character-model checkpoint written by ``numrnn train --task charlm``.

Example::

    numrnn sample --checkpoint runs/text/checkpoint.npz --length 300 --temperature 0.8 \
        --seed 1 --prime "The "

The checkpoint's metadata holds the vocabulary, so no text file is needed.
The same ``--seed`` prints the same text. Lower temperatures give safer,
more repetitive text; higher ones, more surprising text.
"""

from __future__ import annotations

import argparse
import sys

from ..training.checkpoint import load_checkpoint
from ..training.sampling import sample
from .train import HelpFormatter


def add_arguments(parser: argparse.ArgumentParser) -> None:
    """The flags of ``numrnn sample``."""
    parser.formatter_class = HelpFormatter
    parser.add_argument(
        "--checkpoint",
        required=True,
        metavar="FILE",
        help="a checkpoint of a character model (required)",
    )
    parser.add_argument(
        "--length", type=int, default=200, help="characters to generate after the prime"
    )
    parser.add_argument(
        "--temperature",
        type=float,
        default=1.0,
        help="softmax temperature (> 0): below 1 sharper, above 1 flatter",
    )
    parser.add_argument(
        "--seed", type=int, default=None, help="seed of the sampler (default: a fresh one each run)"
    )
    parser.add_argument(
        "--prime",
        default="",
        help="text that starts the sample and warms the state up (default: none; the sample "
        "then starts with a random character)",
    )


def run(args: argparse.Namespace) -> int:
    """Print the sample; 0 on success, 2 if the checkpoint or an argument is unusable."""
    try:
        saved = load_checkpoint(args.checkpoint)
        if "vocab" not in saved.meta:
            raise ValueError(
                f"{args.checkpoint!r} is not a character model: its metadata has no vocabulary "
                "(train one with --task charlm)"
            )
        text = sample(
            saved.model(),
            saved.meta["vocab"],
            args.length,
            temperature=args.temperature,
            seed=args.seed,
            prime=args.prime,
        )
    except (ValueError, TypeError, OSError) as error:
        print(f"numrnn sample: error: {error}", file=sys.stderr)
        return 2
    print(text)
    return 0
