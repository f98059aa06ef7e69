"""``fer-ablation``: an ablation table of fer-train runs, scored alike on one split.

    fer-ablation runs/ablation/soft runs/ablation/hard runs/ablation/mixup --data ../shared/data/fer2013 \\
        --json ablation.json --markdown ablation.md

The first run is the baseline: each row lists the settings in which its config.json differs from
the first's. Every run's best.keras is scored on the same faces (default: the validation split,
FER2013's PublicTest: choose settings there, never on the test split) against FER+'s majority labels
(8 classes, and the 7 FER2013 emotions), FER2013's labels and the FER+ vote distribution; the cost is
the CPU hours of its training (epoch seconds times cores). The data need FER+'s fer2013new.csv beside
the FER2013 CSV.
"""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path

from pipeline.cli import add_data_dir_option, run_quiet_command


def build_parser() -> argparse.ArgumentParser:
    """The ``fer-ablation`` argument parser."""
    parser = argparse.ArgumentParser(
        prog="fer-ablation", description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("runs", nargs="+", metavar="RUN_DIR", help="fer-train run directories, the baseline first")
    parser.add_argument("--data", required=True, help="FER2013 CSV (with fer2013new.csv beside it) or its directory")
    parser.add_argument(
        "--split", default="validation", choices=["train", "validation", "test"], help="(default: validation)"
    )
    add_data_dir_option(parser)
    parser.add_argument("--json", metavar="FILE", help="also write the table as JSON")
    parser.add_argument("--markdown", metavar="FILE", help="also write the table as Markdown")
    return parser


def main(argv: list[str] | None = None) -> int:
    """Console entry point of ``fer-ablation``; returns 0, or 2 on bad input."""
    return run_quiet_command(build_parser(), _tabulate, argv)


def _tabulate(args: argparse.Namespace) -> None:
    from pipeline.ablation import ablation_table, format_ablation_table  # TensorFlow loads here

    table = ablation_table(args.runs, args.data, args.split, args.data_dir)
    text = format_ablation_table(table)
    print(text)
    for path, content in ((args.json, json.dumps(table, indent=2)), (args.markdown, text + "\n")):
        if path:
            Path(path).write_text(content)
            print(f"wrote {path}")


if __name__ == "__main__":
    sys.exit(main())
