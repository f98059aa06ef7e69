"""Ship a model that ``fer-pipeline`` pushed: it joins the table of shipped models (``fer-models``) under a name.

    python -m export.cli.ship runs/pushed/3 --name seed_cnn_ferplus \\
        --summary "The seed CNN trained on the FER+ vote distribution; 8 classes." \\
        --eval eval_fer2013.json --eval eval_ferplus_majority.json --eval eval_ferplus_soft.json

Checks every file of the version against its lineage record, lays it out as a ``fer-export`` directory in
``model_zoo/pretrained/NAME/`` with its model card, lineage and data report, and writes ``shipped.json``: the summary,
the label mode, the figures of the ``fer-eval --json`` results given (one per label mode) with the commands that
repeat them, and the pipeline run that made it. An existing shipped model is never replaced. Exit status 0, or 2
for bad input (the reason on one line).
"""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path

from fer_runtime.command_line import run_command

PROG = "python -m export.cli.ship"


def build_parser() -> argparse.ArgumentParser:
    """The argument parser of the shipping command."""
    parser = argparse.ArgumentParser(
        prog=PROG, description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("version", help="a version fer-pipeline pushed: PUSH_DIR/<version>")
    parser.add_argument("--name", required=True, help="the shipped model's name (letters, digits, _ and -)")
    parser.add_argument("--summary", required=True, help="its one-line description")
    parser.add_argument(
        "--eval",
        action="append",
        default=[],
        metavar="FILE",
        help="a fer-eval --json result of the pushed model (repeat: one per label mode)",
    )
    parser.add_argument("--root", help="the shipped models' folder (default: model_zoo/pretrained)")
    return parser


def main(argv: list[str] | None = None) -> int:
    """Console entry point; returns 0, or 2 for bad input."""
    args = build_parser().parse_args(argv)

    def ship() -> None:
        from export.shipping import ship_pushed_version

        evaluations = [json.loads(Path(path).read_text()) for path in args.eval]
        shipped = ship_pushed_version(args.version, args.name, args.summary, evaluations, args.root)
        print(f"shipped {args.version} as {args.name} at {shipped}; fer-models {args.name} shows it")

    return run_command(PROG, ship)


if __name__ == "__main__":
    sys.exit(main())
