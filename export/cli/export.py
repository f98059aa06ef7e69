"""``fer-export``: SavedModel, ``.keras`` and four TFLite variants from one trained model, behind a parity gate.

    fer-export runs/ship --out artifacts/ship
    fer-export model.keras --out artifacts/x --data ../shared/data/fer2013
    fer-export runs/ship2 --out artifacts/ship2 --recalibrate-batchnorm all   # BatchNorm stats on clean faces

The output directory holds ``model.keras``, ``saved_model/``, ``model_float32.tflite``,
``model_float16.tflite``, ``model_dynamic.tflite``, ``model_int8.tflite``, ``labels.txt``,
``metadata.json``, ``parity_report.json`` and ``manifest.json`` (size and sha256 of every
file). The export is written beside the target and moved into place at the end, so an
interrupted export never leaves a half-written directory. If any artifact fails the parity
gate, the command exits 1; the report is saved either way.

The export's ``labels.txt`` and ``metadata.json`` name the trained run's classes (7 FER2013 emotions, or 8 with
FER+'s contempt), and the gate measures accuracy on the labels the run was trained on (its ``config.json``'s
``labels`` and ``ferplus``; ``--labels`` and ``--ferplus`` for a bare ``.keras`` file).
"""

from __future__ import annotations

import argparse
import sys

from export.parity import DEFAULT_PARITY_EXAMPLES, DEFAULT_REPRESENTATIVE_EXAMPLES
from fer_runtime.command_line import CommandError, run_command
from pipeline.cli import add_label_options, setup_logging


def _count_or_all(text: str) -> int | None:
    """``--recalibrate-batchnorm``'s value: a number of faces >= 0, or None for "all"."""
    if text.strip().lower() == "all":
        return None
    try:
        value = int(text)
    except ValueError:
        value = -1
    if value < 0:
        raise argparse.ArgumentTypeError(f"expected a number of faces >= 0 or 'all', got {text!r}")
    return value


def build_parser() -> argparse.ArgumentParser:
    """The ``fer-export`` argument parser."""
    parser = argparse.ArgumentParser(
        prog="fer-export", description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("model", help="a .keras file or a run directory of fer-train (required; no default)")
    parser.add_argument("--out", required=True, metavar="DIR", help="output directory (required; no default)")
    parser.add_argument(
        "--data",
        metavar="PATH",
        help="FER2013 data for the parity gate and int8 calibration (default: the run directory's training data)",
    )
    parser.add_argument(
        "--data-dir", metavar="DIR", help="prepared-dataset cache (default: the run's, else ~/tensorflow_datasets)"
    )
    add_label_options(
        parser,
        "the labels of the gate's faces, those the model was trained on (default: the run's config.json; fer2013 "
        "for a 7-class model without one)",
    )
    parser.add_argument(
        "--parity-examples",
        type=int,
        default=DEFAULT_PARITY_EXAMPLES,
        help=f"validation faces the gate runs on (default: {DEFAULT_PARITY_EXAMPLES})",
    )
    parser.add_argument(
        "--representative-examples",
        type=int,
        default=DEFAULT_REPRESENTATIVE_EXAMPLES,
        help=f"training faces that calibrate the int8 model (default: {DEFAULT_REPRESENTATIVE_EXAMPLES})",
    )
    parser.add_argument(
        "--overwrite", action="store_true", help="replace an existing output directory (default: off, refuse)"
    )
    parser.add_argument(
        "--flip-average",
        action="store_true",
        help="average each face's probabilities with its mirror image's: test-time augmentation at 2x the compute "
        "(default: off)",
    )
    parser.add_argument(
        "--crop-average",
        action="store_true",
        help="average each face's probabilities over five crops of it (the centre and the corners, 7/8 of its "
        "side): test-time augmentation at 5x the compute, 10x with --flip-average (default: off)",
    )
    parser.add_argument(
        "--recalibrate-batchnorm",
        type=_count_or_all,
        default=0,
        metavar="N|all",
        help="recompute the BatchNorm statistics on N unaugmented training faces (or all) before exporting: "
        "they were measured on augmented faces (default: 0, keep them)",
    )
    return parser


def main(argv: list[str] | None = None) -> int:
    """Console entry point of ``fer-export``; returns 0, 1 (parity gate failed) or 2 (bad input)."""
    args = build_parser().parse_args(argv)
    setup_logging()
    return run_command("fer-export", lambda: _export(args))


def _export(args: argparse.Namespace) -> int:
    from export.exporter import resolve_model_path  # TensorFlow loads here
    from export.from_data import export_from_data
    from export.parity import format_parity_report

    model_path, run_config = resolve_model_path(args.model)
    data = args.data or (run_config or {}).get("data")
    if not data:
        raise CommandError("No data for the parity gate: pass --data PATH (FER2013 CSV or image folders)")
    result = export_from_data(
        model_path,
        args.out,
        data,
        args.data_dir or (run_config or {}).get("data_dir"),
        args.parity_examples,
        args.representative_examples,
        args.recalibrate_batchnorm,
        training_config=run_config,
        overwrite=args.overwrite,
        flip_average=args.flip_average,
        crop_average=args.crop_average,
        labels=args.labels,
        ferplus=args.ferplus,
    )
    print(format_parity_report(result.report))
    print(f"Artifacts in {result.out_dir} (parity report: {result.out_dir / 'parity_report.json'})")
    return 0 if result.passed else 1


if __name__ == "__main__":
    sys.exit(main())
