"""Training throughput (images/s) of a zoo model under several TensorFlow thread settings.

    python -m export.cli.training_throughput --data ../shared/data/fer2013 --steps 60 --json throughput.json

Each setting runs in its own process on real batches with augmentation, and reports the median images/s over
the timed steps, after warm-up, and the CPU time used per wall second (``export.benchmarks.training_throughput``).
"""

from __future__ import annotations

import argparse
import json
import sys

from export.benchmarks.training_throughput import SETTINGS  # light: TensorFlow loads inside measure()
from export.cli import add_json_option, report
from fer_runtime.command_line import run_command
from model_zoo.precision import PRECISIONS

PROG = "python -m export.cli.training_throughput"


def build_parser() -> argparse.ArgumentParser:
    """The throughput benchmark's argument parser."""
    parser = argparse.ArgumentParser(
        prog=PROG, description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--data", required=True, help="FER2013 CSV, .csv.gz or image-folder directory")
    parser.add_argument("--data-dir", help="prepared-dataset cache (default: ~/tensorflow_datasets)")
    parser.add_argument("--model", default="seed_cnn", help="zoo model (default: seed_cnn)")
    parser.add_argument("--batch-size", type=int, default=64, help="(default: 64)")
    parser.add_argument("--steps", type=int, default=60, help="timed steps (default: 60)")
    parser.add_argument("--warmup", type=int, default=10, help="untimed steps first (default: 10)")
    parser.add_argument("--settings", nargs="*", default=list(SETTINGS), choices=list(SETTINGS))
    parser.add_argument(
        "--precisions", nargs="+", default=["float32"], choices=PRECISIONS, help="each setting in each precision"
    )
    add_json_option(parser)
    parser.add_argument("--one", help=argparse.SUPPRESS)  # internal: measure one setting in this process
    return parser


def main(argv: list[str] | None = None) -> int:
    """Measure, print the table, write the JSON; 0, or 2 on bad input."""
    args = build_parser().parse_args(argv)

    def work() -> None:
        from export.benchmarks.training_throughput import format_table, measure, measure_settings

        if args.one:  # a worker: one setting, printed as JSON for the parent
            intra, inter = SETTINGS[args.one]
            print(json.dumps(measure(args.data, args.data_dir, args.model, args.batch_size, args.steps, args.warmup,
                                     intra, inter, args.precisions[0])))  # fmt: skip
            return
        measured = measure_settings(
            args.data, args.data_dir, args.model, args.batch_size, args.steps, args.warmup, args.settings,
            args.precisions,
        )  # fmt: skip
        report(format_table(measured), measured, args.json)

    return run_command(PROG, work)


if __name__ == "__main__":
    sys.exit(main())
