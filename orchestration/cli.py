"""``fer-pipeline``: the whole training pipeline in one command, on Kubeflow Pipelines' local runner by default.

    fer-pipeline --preset smoke --data ../shared/data/fer2013 --root runs/pipeline --push-dir pushed
    fer-pipeline --preset seed --data ../shared/data/fer2013 --root runs/pipeline --push-dir pushed --epochs 10
    fer-pipeline status --root runs/pipeline                       # the stages of the latest run
    fer-pipeline compile --output pipeline.yaml --image REGISTRY/fer-pipeline:0.1 --cpu 8 --memory 32G

Stages: data (statistics, schema and drift checks: anomalies stop the run) -> train (a fer-train preset with
overrides, optionally after a Keras Tuner search) -> export (parity gate) -> evaluate and bless (against the latest
pushed version, else the shipped model, on the same faces) -> bench -> model card -> push (blessed only, to
PUSH_DIR/<version>/ in TensorFlow Serving's layout) -> lineage.

Running the same command again reuses every stage whose inputs did not change and resumes a killed training.
Exit status: 0 pushed (or already pushed), 3 not blessed (the reasons are printed), 1 a stage stopped the run,
2 bad input, 130 interrupted.
"""

from __future__ import annotations

import argparse
import dataclasses
import sys
import time

from fer_runtime.command_line import run_command
from orchestration.runs import (
    check_local_inputs,
    new_run_id,
    not_blessed_reasons,
    progress_lines,
    status_lines,
    stopped_message,
)
from orchestration.settings import DEFAULT_IMAGE, PipelineSettings
from orchestration.stage_cache import RootBusyError, root_lock
from pipeline.config import TrainConfig, add_config_arguments, add_dataclass_arguments

PROG = "fer-pipeline"
NOT_BLESSED = 3
COMMANDS = ("run", "compile", "status")


def _add_settings_arguments(parser: argparse.ArgumentParser) -> None:
    """The options of every ``PipelineSettings`` field and of the training settings."""
    add_dataclass_arguments(parser, PipelineSettings, "pipeline", skip={"overrides"})
    add_config_arguments(parser)


def build_parser(command: str = "run") -> argparse.ArgumentParser:
    """The parser of ``fer-pipeline [run]``, ``fer-pipeline compile`` or ``fer-pipeline status``.

    Args:
        command: One of ``COMMANDS``.

    Returns:
        The parser.
    """
    prog = PROG if command == "run" else f"{PROG} {command}"
    parser = argparse.ArgumentParser(
        prog=prog,
        description=__doc__,
        formatter_class=argparse.RawDescriptionHelpFormatter,
        epilog="fer-pipeline trains with --verbose 2 (a line per epoch) unless told otherwise.",
    )
    if command == "status":
        parser.add_argument("--root", default=PipelineSettings.root, metavar="DIR", help="the pipeline root")
        parser.add_argument("--run-id", help="the run to show (default: the latest)")
        return parser
    if command == "compile":
        parser.add_argument("--output", required=True, metavar="FILE", help="the KFP YAML to write (required)")
        parser.add_argument(
            "--image", default=DEFAULT_IMAGE, help=f"container image of every step (default: {DEFAULT_IMAGE})"
        )
        parser.add_argument("--cpu", help="CPU limit of every step, e.g. 8 (default: the cluster's)")
        parser.add_argument("--memory", help="memory limit of every step, e.g. 32G (default: the cluster's)")
        parser.add_argument(
            "--accelerator",
            default="nvidia.com/gpu",
            help="accelerator type of the training step with --gpus (default: nvidia.com/gpu, Kubeflow's; Vertex AI "
            "names a type, e.g. NVIDIA_TESLA_T4)",
        )
        parser.add_argument("--gpus", type=int, default=0, help="accelerators of the training step (default: 0)")
    else:
        parser.add_argument("--run-id", help="name of this run (default: the time and a random suffix)")
    _add_settings_arguments(parser)
    return parser


def settings_from_args(args: dict) -> PipelineSettings:
    """Split parsed options into the pipeline's settings and the training overrides.

    Args:
        args: ``vars()`` of the parsed options, less ``run_id`` and the compile command's resources.

    Returns:
        The settings, the options that are training settings as its ``overrides``.
    """
    own = {f.name for f in dataclasses.fields(PipelineSettings)}
    train_fields = {f.name for f in dataclasses.fields(TrainConfig)}
    overrides = {k: v for k, v in args.items() if k in train_fields}
    return PipelineSettings(**{k: v for k, v in args.items() if k in own}, overrides=overrides)


def main(argv: list[str] | None = None) -> int:
    """Console entry point of ``fer-pipeline``.

    Args:
        argv: The arguments (default: the command line's), the command (``run``, ``compile``, ``status``) first
            or left out.

    Returns:
        The exit status (see the module docstring).
    """
    argv = list(sys.argv[1:] if argv is None else argv)
    command = argv.pop(0) if argv and argv[0] in COMMANDS else "run"
    args = vars(build_parser(command).parse_args(argv))
    if command == "status":
        return run_command(f"{PROG} status", lambda: _status(args["root"], args["run_id"]))
    resources = {k: args.pop(k) for k in ("output", "image", "cpu", "memory", "accelerator", "gpus") if k in args}
    run_id = args.pop("run_id", None)
    settings = settings_from_args(args)
    refused = run_command(PROG, lambda: _check(settings))
    if refused:
        return refused
    if command == "compile":
        return run_command(f"{PROG} compile", lambda: _compile(settings, resources))
    return run_command(PROG, lambda: _run(settings.with_absolute_paths(), run_id or new_run_id()), (RootBusyError,))


def _check(settings: PipelineSettings) -> None:
    """Check every setting before anything runs (a ValueError says which is wrong)."""
    settings.check()


def _compile(settings: PipelineSettings, resources: dict[str, str | int | None]) -> int:
    """``fer-pipeline compile``: write the pipeline's YAML for a cluster."""
    from orchestration.kfp_pipeline import compile_pipeline

    settings = settings.for_cluster()
    output = str(resources.pop("output"))
    compile_pipeline(output, settings, **resources)
    print(f"wrote {output}: submit it to Kubeflow Pipelines or Vertex AI Pipelines (docs/pipeline.md: On a cluster)")
    return 0


def _run(settings: PipelineSettings, run_id: str) -> int:
    """``fer-pipeline [run]``: the pipeline on KFP's local runner, under the root's lock."""
    check_local_inputs(settings, run_id)
    from pipeline.cli import setup_logging

    setup_logging()
    from orchestration.kfp_pipeline import run_local

    started = time.perf_counter()
    try:
        with root_lock(settings.root):
            result = run_local(settings, run_id)
    except KeyboardInterrupt:
        print(
            "\nInterrupted. Run the same command again: finished stages are reused, training resumes.", file=sys.stderr
        )
        return 130
    except RootBusyError:
        raise
    except RuntimeError as e:
        print("\n".join(progress_lines(settings.root, run_id)))
        print(f"{PROG}: {stopped_message(settings.root, run_id, e)}", file=sys.stderr)
        return 1
    print("\n".join(progress_lines(settings.root, run_id)))
    print(f"run {run_id} took {time.perf_counter() - started:.1f} s; lineage: {result.lineage}")
    if result.pushed:
        print(f"pushed version {result.version} to {settings.push_dir}")
    elif result.version is not None:
        print(f"nothing pushed: {result.reason}")
    else:
        reasons = not_blessed_reasons(settings.root, run_id)
        print("NOT PUSHED, not blessed:\n" + "\n".join(f"  - {reason}" for reason in reasons))
        return NOT_BLESSED
    return 0


def _status(root: str, run_id: str | None) -> int:
    """``fer-pipeline status``: the stages of a run (default: the latest)."""
    print("\n".join(status_lines(root, run_id)))
    return 0


if __name__ == "__main__":
    sys.exit(main())
