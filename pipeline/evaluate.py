"""``fer-eval``: accuracy, per-class precision/recall/F1 and the confusion matrix of any artifact.

    fer-eval --model runs/seed/best.keras --data ../shared/data/fer2013 --split validation --json eval.json

The model may be a ``.keras`` file, a SavedModel directory or a ``.tflite``
file; the data a FER2013 CSV (plain or gzipped), a directory holding one, or an
image-folder tree.
"""

from __future__ import annotations

import argparse
import json
import logging
import sys
import time
from pathlib import Path

from export.predictors import load_predictor, predict_in_batches
from model_zoo import CLASS_NAMES
from model_zoo.pretrained import pretrained_artifacts_dir
from pipeline.fer2013_dataset import load_fer2013
from pipeline.fer2013_sources import BadRowError, MissingDataError
from pipeline.input_pipeline import dataset_to_arrays
from pipeline.metrics import classification_metrics, format_metrics


def evaluate(
    model: str | Path,
    data: str | Path,
    split: str = "test",
    data_dir: str | Path | None = None,
    batch_size: int = 256,
    skip_bad_rows: bool = False,
) -> dict:
    """Evaluate the artifact at ``model`` on one split of the FER2013 data at ``data``.

    Returns:
        ``classification_metrics`` (``accuracy``, ``n``, ``loss``, ``macro_f1``,
        ``per_class``, ``confusion_matrix``) plus ``model``, ``backend``,
        ``data``, ``split`` and ``seconds``.

    Raises:
        FileNotFoundError: if no model is at ``model``.
        ValueError: if ``model`` is not a supported artifact.
        KeyError: if the data lack ``split``; the message lists the splits present.
        MissingDataError, BadRowError: from the dataset.
    """
    predictor = load_predictor(model)
    images, labels = dataset_to_arrays(load_fer2013(data, data_dir, skip_bad_rows).split(split))
    started = time.perf_counter()
    probs = predict_in_batches(predictor, images, batch_size)
    seconds = time.perf_counter() - started
    return {
        "model": str(model),
        "backend": predictor.name,
        "data": str(data),
        "split": split,
        **classification_metrics(labels, probs, CLASS_NAMES),
        "seconds": round(seconds, 3),
    }


def main(argv: list[str] | None = None) -> int:
    """Console entry point of ``fer-eval``; returns the exit status."""
    parser = argparse.ArgumentParser(
        prog="fer-eval", description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument(
        "--model", help=".keras file, SavedModel directory or .tflite file (default: the shipped pretrained model)"
    )
    parser.add_argument(
        "--data", required=True, help="FER2013 CSV / .csv.gz, a directory holding one, or image folders"
    )
    parser.add_argument("--split", default="test", choices=["train", "validation", "test"])
    parser.add_argument("--json", help="also write the metrics to this JSON file")
    parser.add_argument("--data-dir", help="prepared-dataset cache (default $FER_DATA_DIR or ~/tensorflow_datasets)")
    parser.add_argument("--batch-size", type=int, default=256)
    parser.add_argument("--skip-bad-rows", action="store_true", help="skip malformed rows instead of stopping")
    args = parser.parse_args(argv)
    logging.basicConfig(level=logging.WARNING, format="%(name)s: %(message)s")
    logging.getLogger("absl").setLevel(logging.ERROR)
    try:
        args.model = args.model or str(pretrained_artifacts_dir() / "model.keras")
        result = evaluate(args.model, args.data, args.split, args.data_dir, args.batch_size, args.skip_bad_rows)
    except KeyError as e:
        print(f"fer-eval: error: {e.args[0]}", file=sys.stderr)
        return 2
    except (FileNotFoundError, ValueError, MissingDataError, BadRowError) as e:
        print(f"fer-eval: error: {e}", file=sys.stderr)
        return 2
    print(format_metrics(result, title=f"{result['model']} ({result['backend']}) on {args.split} of {args.data}"))
    if args.json:
        Path(args.json).write_text(json.dumps(result, indent=2))
        print(f"wrote {args.json}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
