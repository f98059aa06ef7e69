"""``fer-eval``: accuracy, per-class precision/recall/F1 and the confusion matrix of any artifact.

    fer-eval --model runs/seed/best.keras --data ../shared/data/fer2013 --split validation --json eval.json

The model may be a ``.keras`` file, a SavedModel directory or a ``.tflite`` file (default: the
shipped model); the data a FER2013 CSV (plain or gzipped), a directory holding one, or an
image-folder tree.
"""

from __future__ import annotations

import argparse
import json
import logging
import sys
from pathlib import Path

from fer_runtime.command_line import run_command
from pipeline.cli import setup_logging


def build_parser() -> argparse.ArgumentParser:
    """The ``fer-eval`` argument parser."""
    parser = argparse.ArgumentParser(
        prog="fer-eval", description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument(
        "--model", help=".keras file, SavedModel directory or .tflite file (default: the shipped pretrained model)"
    )
    parser.add_argument(
        "--data",
        required=True,
        help="FER2013 CSV / .csv.gz, a directory holding one, or image folders (required; no default)",
    )
    parser.add_argument("--split", default="test", choices=["train", "validation", "test"], help="(default: test)")
    parser.add_argument("--json", metavar="FILE", help="also write the metrics to this JSON file (default: print only)")
    parser.add_argument(
        "--data-dir", metavar="DIR", help="prepared-dataset cache (default: $FER_DATA_DIR, else ~/tensorflow_datasets)"
    )
    parser.add_argument("--batch-size", type=int, default=256, help="faces per model call (default: 256)")
    parser.add_argument(
        "--skip-bad-rows", action="store_true", help="skip malformed rows instead of stopping (default: off)"
    )
    return parser


def main(argv: list[str] | None = None) -> int:
    """Console entry point of ``fer-eval``; returns 0 or 2 (bad input)."""
    args = build_parser().parse_args(argv)
    setup_logging(logging.WARNING)
    return run_command("fer-eval", lambda: _evaluate(args))


def _evaluate(args: argparse.Namespace) -> None:
    from model_zoo.artifacts import artifact_path
    from model_zoo.pretrained import pretrained_artifacts_dir
    from pipeline.evaluate import evaluate  # TensorFlow loads here
    from pipeline.metrics import format_metrics

    model = args.model or str(artifact_path(pretrained_artifacts_dir(), "keras"))
    result = evaluate(model, args.data, args.split, args.data_dir, args.batch_size, args.skip_bad_rows)
    print(format_metrics(result, title=f"{result['model']} ({result['backend']}) on {args.split} of {args.data}"))
    if args.json:
        Path(args.json).write_text(json.dumps(result, indent=2))
        print(f"wrote {args.json}")


if __name__ == "__main__":
    sys.exit(main())
