"""``fer-tune``: search the seed CNN's hyperparameters. Repeating the same command resumes the search.

Parsing (and ``--help``) imports no TensorFlow, Keras or Keras Tuner: they load in ``main``
once the arguments are checked.
"""

from __future__ import annotations

import argparse
import json
import os
import sys
from pathlib import Path
from typing import TYPE_CHECKING

from fer_runtime.command_line import EXIT_INTERRUPTED, error_line, run_command
from model_zoo.constants import DEFAULT_LABEL_MODE
from pipeline.cli import add_label_options, setup_logging
from pipeline.config import PRESETS, TrainConfig, add_dataclass_arguments
from pipeline.tuning.roles import ENV_ORACLE_IP, ENV_ORACLE_PORT, ENV_TUNER_ID
from pipeline.tuning.search_config import BEST_HYPERPARAMETERS, OBJECTIVE, TRIALS_MD, SearchConfig, parse_fixed

if TYPE_CHECKING:
    from pipeline.tuning.search import SearchResult

DEFAULT_PROJECT_DIR = "runs/tune"


def build_parser() -> argparse.ArgumentParser:
    """The ``fer-tune`` argument parser: one option per ``SearchConfig`` field, ``--fixed`` and retraining."""
    parser = argparse.ArgumentParser(
        prog="fer-tune",
        description=(
            "Search the seed CNN's hyperparameters with Keras Tuner (objective: validation accuracy). "
            "Repeating the command resumes the search in --project-dir. For a distributed search set "
            f"{ENV_TUNER_ID}=chief|tuner0|tuner1..., {ENV_ORACLE_IP} and {ENV_ORACLE_PORT}."
        ),
        epilog="Examples: fer-tune --data ../shared/data/fer2013 --tuner bayesian --max-trials 12 --epochs 4; "
        "fer-tune --data ../shared/data/fer2013 --labels ferplus-soft --project-dir runs/tune-ferplus",
    )
    parser.add_argument(
        "--project-dir",
        default=DEFAULT_PROJECT_DIR,
        metavar="DIR",
        help=f"where the search lives; resumed if it exists (default: {DEFAULT_PROJECT_DIR})",
    )
    add_dataclass_arguments(parser, SearchConfig, "search settings", skip=("fixed", "labels", "ferplus"))
    add_label_options(
        parser,
        "labels every trial trains on and is scored against, as fer-train --labels: fer2013 (FER2013's own, 7 "
        "classes); ferplus-majority (the FER+ emotion most taggers chose) or ferplus-soft (the FER+ vote "
        "distribution as the target; validation accuracy against its top emotion), 8 classes with contempt "
        f"(default: {DEFAULT_LABEL_MODE})",
        default=DEFAULT_LABEL_MODE,
    )
    space = parser.add_argument_group("search space")
    space.add_argument(
        "--fixed",
        action="append",
        default=[],
        metavar="NAME=VALUE",
        help="hold a hyperparameter at one value (repeatable), e.g. --fixed width_multiplier=1.0 (default: none)",
    )
    retrain = parser.add_argument_group("retraining the best trial")
    defaults = TrainConfig()
    preset_epochs = ", ".join(f"{name} {values.get('epochs', defaults.epochs)}" for name, values in PRESETS.items())
    retrain.add_argument(
        "--retrain-best", metavar="RUN_DIR", help="then train the best configuration into RUN_DIR (default: none)"
    )
    retrain.add_argument(
        "--retrain-epochs",
        type=int,
        metavar="N",
        help=f"epochs of --retrain-best (default: the preset's: {preset_epochs})",
    )
    return parser


def main(argv: list[str] | None = None) -> int:
    """Console entry point of ``fer-tune``; returns 0, 1 (no trial completed), 2 (bad input) or 130 (interrupted)."""
    args = vars(build_parser().parse_args(argv))
    project_dir = Path(args.pop("project_dir"))
    retrain_dir, retrain_epochs = args.pop("retrain_best"), args.pop("retrain_epochs")
    setup_logging()
    # TensorFlow loads here, after the arguments are parsed.
    from pipeline.runtime import configure_tensorflow
    from pipeline.train import RunDirError
    from pipeline.tuning.search import SearchFailedError, retrain_best, run_search
    from pipeline.tuning.search_config import ProjectDirError

    def work() -> None:
        args["fixed"] = parse_fixed(args["fixed"])
        configure_tensorflow()
        result = run_search(SearchConfig(**args), project_dir)
        if result.role == "worker":
            ran = ", ".join(f"{t} {s}" for t, s in result.trials_run_here) or "none"
            print(f"{os.environ[ENV_TUNER_ID]} ran trials: {ran}")
            if retrain_dir:
                print("fer-tune: --retrain-best is done by the chief; ignored on a worker", file=sys.stderr)
            return
        _print_result(result)
        if retrain_dir:
            metrics = retrain_best(project_dir, retrain_dir, retrain_epochs, args["verbose"])
            for split, m in metrics["splits"].items():
                print(f"retrained {split}: accuracy {m['accuracy']:.4f} (n={m['n']})")
            print(f"Export it with: fer-export {retrain_dir} --out {Path(retrain_dir) / 'export'}")

    try:
        return run_command("fer-tune", work, errors=(ProjectDirError, RunDirError))
    except KeyboardInterrupt:
        print("\nInterrupted. Run the same command again to resume the search.", file=sys.stderr)
        return EXIT_INTERRUPTED
    except SearchFailedError as e:
        print(error_line("fer-tune", e), file=sys.stderr)
        return 1


def _print_result(result: SearchResult) -> None:
    for row in result.trials:
        score = f"{row[OBJECTIVE]:.4f}" if row[OBJECTIVE] is not None else "-"
        error = f"  {row['error']}" if row["error"] else ""
        print(f"trial {row['trial']}: {row['status']:<9} {OBJECTIVE} {score}  ({row['tuner']}){error}")
    best = result.best
    print(f"Stopped: {result.stop_reason or 'interrupted'}")
    print(f"Best: trial {best['trial']}, {OBJECTIVE} {best['score']:.4f}: {json.dumps(best['hyperparameters'])}")
    print(f"Summary: {result.project_dir / TRIALS_MD}; best: {result.project_dir / BEST_HYPERPARAMETERS}")
    print(f"Retrain: {best['fer_train_command']}")


if __name__ == "__main__":
    sys.exit(main())
