"""``fer-train``: train a zoo model on FER2013. Repeating the same command resumes an interrupted run."""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

from fer_runtime.command_line import EXIT_INTERRUPTED, run_command
from pipeline.cli import setup_logging
from pipeline.config import PRESETS, add_config_arguments, resolve_config


def build_parser() -> argparse.ArgumentParser:
    """The ``fer-train`` argument parser: a preset, a run directory and one option per configuration field."""
    parser = argparse.ArgumentParser(
        prog="fer-train",
        description="Train a model on FER2013. Repeating the same command resumes an interrupted run.",
        epilog="Example: fer-train --preset seed --data ../shared/data/fer2013 --run-dir runs/seed",
    )
    parser.add_argument(
        "--preset", default="seed", choices=sorted(PRESETS), help="named starting configuration (default: seed)"
    )
    parser.add_argument("--run-dir", metavar="DIR", help="where the run is written (default: runs/<preset>)")
    add_config_arguments(parser)
    return parser


def main(argv: list[str] | None = None) -> int:
    """Console entry point of ``fer-train``; returns 0, 2 (bad input) or 130 (interrupted)."""
    args = vars(build_parser().parse_args(argv))
    preset, run_dir = args.pop("preset"), args.pop("run_dir")
    setup_logging()
    from pipeline.train import RunDirError, train  # TensorFlow loads here, after the arguments are checked

    def work() -> None:
        metrics = train(resolve_config(preset, args), Path(run_dir or f"runs/{preset}"))
        for split, m in metrics["splits"].items():
            print(f"{split}: accuracy {m['accuracy']:.4f}, loss {m['loss']:.4f} (n={m['n']})")

    try:
        return run_command("fer-train", work, errors=(RunDirError,))
    except KeyboardInterrupt:
        print("\nInterrupted. Run the same command again to resume.", file=sys.stderr)
        return EXIT_INTERRUPTED


if __name__ == "__main__":
    sys.exit(main())
