"""``fer-eval``: accuracy, per-class precision/recall/F1 and the confusion matrix of any artifact.

    fer-eval --model runs/seed/best.keras --data ../shared/data/fer2013 --split validation --json eval.json
    fer-eval --model runs/ferplus/best.keras --data ../shared/data/fer2013 --split validation \\
        --labels ferplus-soft --ferplus ../shared/data/ferplus/fer2013new.csv

The model may be a ``.keras`` file, a SavedModel directory or a ``.tflite`` file (default: the
shipped model), with 7 classes (FER2013) or 8 (FER+, with contempt): the number comes from its output,
the names from the labels.txt beside it. The data: a FER2013 CSV (plain or gzipped), a directory
holding one, or an image-folder tree.

Labels are FER2013's unless --labels asks for FER+'s (never chosen automatically, so a command's
figures do not change when a fer2013new.csv appears beside the data). A model is scored over the
classes it shares with the labels: an 8-class model on FER2013 labels by its argmax over the 7 FER2013
emotions; a 7-class model on FER+ labels over the faces whose FER+ label is one of those 7.
  --labels ferplus-majority  accuracy against the FER+ majority label (all 8 classes), over the faces
                             of the 7 FER2013 emotions, and the same faces against FER2013's labels;
  --labels ferplus-soft      the same figures on the faces the soft-label rule keeps (label: each
                             face's top emotion), and calibration: the mean cross-entropy of the
                             model's probabilities against the FER+ vote distribution.
"""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path

from model_zoo.constants import DEFAULT_LABEL_MODE
from pipeline.cli import add_data_dir_option, add_label_options, run_quiet_command


def build_parser() -> argparse.ArgumentParser:
    """The ``fer-eval`` argument parser."""
    parser = argparse.ArgumentParser(
        prog="fer-eval", description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument(
        "--model",
        help=".keras file, SavedModel directory, .tflite file or a shipped model's name (fer-models lists them; "
        "default: the default shipped model)",
    )
    parser.add_argument(
        "--data",
        required=True,
        help="FER2013 CSV / .csv.gz, a directory holding one, or image folders (required; no default)",
    )
    parser.add_argument("--split", default="test", choices=["train", "validation", "test"], help="(default: test)")
    add_label_options(
        parser,
        "labels to score against: fer2013, or FER+'s (ferplus-majority, ferplus-soft; a FER2013 CSV and its "
        "fer2013new.csv) (default: fer2013)",
        default=DEFAULT_LABEL_MODE,
    )
    parser.add_argument("--json", metavar="FILE", help="also write the metrics to this JSON file (default: print only)")
    add_data_dir_option(parser)
    parser.add_argument("--batch-size", type=int, default=256, help="faces per model call (default: 256)")
    parser.add_argument(
        "--skip-bad-rows", action="store_true", help="skip malformed rows instead of stopping (default: off)"
    )
    return parser


def main(argv: list[str] | None = None) -> int:
    """Console entry point of ``fer-eval``; returns 0 or 2 (bad input)."""
    return run_quiet_command(build_parser(), _evaluate, argv)


def _evaluate(args: argparse.Namespace) -> None:
    from model_zoo.artifacts import artifact_path
    from model_zoo.pretrained import resolve_artifacts, shipped_models
    from pipeline.evaluate import evaluate  # TensorFlow loads here
    from pipeline.metrics import format_label_figures, format_metrics

    model = args.model
    if model is None or (model in shipped_models() and not Path(model).exists()):  # the default, or one by name
        model = str(artifact_path(resolve_artifacts(model), "keras"))
    result = evaluate(
        model, args.data, args.split, args.data_dir, args.batch_size, args.skip_bad_rows, args.labels, args.ferplus
    )
    title = (
        f"{result['model']} ({result['backend']}, {len(result['model_classes'])} classes) on {args.split} of "
        f"{args.data}, {args.labels} labels"
    )
    print(format_metrics(result, title=title))
    extra = format_label_figures(result)
    if extra:
        print(extra)
    if args.json:
        Path(args.json).write_text(json.dumps(result, indent=2))
        print(f"wrote {args.json}")


if __name__ == "__main__":
    sys.exit(main())
