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
import json
import sys
import time
import uuid
from pathlib import Path

from orchestration.settings import DEFAULT_IMAGE, PipelineSettings
from orchestration.stage_cache import RootBusyError, read_progress, root_lock
from orchestration.stages import BLESSING_FILE
from pipeline.config import TrainConfig, add_config_arguments, add_dataclass_arguments
from pipeline.lineage import LINEAGE_FILE

NOT_BLESSED = 3
COMMANDS = ("run", "compile", "status")


def _add_settings_arguments(parser: argparse.ArgumentParser) -> None:
    add_dataclass_arguments(parser, PipelineSettings, "pipeline", skip={"overrides"})
    add_config_arguments(parser)


def build_parser(command: str = "run") -> argparse.ArgumentParser:
    """The parser of ``fer-pipeline [run]``, ``fer-pipeline compile`` or ``fer-pipeline status``."""
    prog = "fer-pipeline" if command == "run" else f"fer-pipeline {command}"
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
    """Split parsed options into the pipeline's settings and the training overrides."""
    own = {f.name for f in dataclasses.fields(PipelineSettings)}
    train_fields = {f.name for f in dataclasses.fields(TrainConfig)}
    overrides = {k: v for k, v in args.items() if k in train_fields}
    return PipelineSettings(**{k: v for k, v in args.items() if k in own}, overrides=overrides)


def main(argv: list[str] | None = None) -> int:
    """Console entry point of ``fer-pipeline``; see the module docstring for the exit status."""
    argv = list(sys.argv[1:] if argv is None else argv)
    command = argv.pop(0) if argv and argv[0] in COMMANDS else "run"
    args = vars(build_parser(command).parse_args(argv))
    if command == "status":
        return _status(args["root"], args["run_id"])
    resources = {k: args.pop(k) for k in ("output", "image", "cpu", "memory", "accelerator", "gpus") if k in args}
    run_id = args.pop("run_id", None)
    settings = settings_from_args(args)
    try:
        settings.check()
    except ValueError as e:
        print(f"fer-pipeline: error: {e}", file=sys.stderr)
        return 2
    if command == "compile":
        from orchestration.kfp_pipeline import compile_pipeline

        relative = settings.relative_paths()
        if relative:
            print(
                f"fer-pipeline compile: error: {', '.join('--' + n.replace('_', '-') for n in relative)} must be "
                "absolute paths on storage every step mounts (e.g. /gcs/BUCKET/... on Vertex AI)",
                file=sys.stderr,
            )
            return 2
        if not settings.overrides.get("data_dir"):  # prepared once, under the root, for every step
            settings.overrides["data_dir"] = str(Path(settings.root) / "tfds")
        output = resources.pop("output")
        compile_pipeline(output, settings.to_dict(), **resources)
        print(f"wrote {output}: submit it to Kubeflow Pipelines or Vertex AI Pipelines (README: On a cluster)")
        return 0
    settings = settings.with_absolute_paths()
    run_id = run_id or time.strftime("%Y%m%d-%H%M%S-") + uuid.uuid4().hex[:6]
    try:
        _check_local_inputs(settings, run_id)
    except (ValueError, FileNotFoundError) as e:
        print(f"fer-pipeline: error: {e}", file=sys.stderr)
        return 2
    return _run(settings, run_id)


def _check_local_inputs(settings: PipelineSettings, run_id: str) -> None:
    """What a local run can check before any step starts: the data, the baseline, a new run id.

    Raises:
        FileNotFoundError: if the data or the baseline are missing.
        ValueError: if the run id was used before under this root.
    """
    from model_zoo.artifacts import artifact_path
    from pipeline.fer2013_sources import find_source

    find_source(settings.overrides["data"])  # MissingDataError (a FileNotFoundError) says what to put where
    if settings.baseline and not artifact_path(settings.baseline, "keras").is_file():
        raise FileNotFoundError(f"--baseline {settings.baseline} holds no model.keras: give a fer-export directory "
                                "or a pushed version")  # fmt: skip
    if (Path(settings.root) / "runs" / run_id).exists():
        raise ValueError(f"run {run_id} exists under {settings.root}: give another --run-id, or leave it out")


def _run(settings: PipelineSettings, run_id: str) -> int:
    from pipeline.cli import setup_logging

    setup_logging()
    from orchestration.kfp_pipeline import run_local

    started = time.perf_counter()
    try:
        with root_lock(settings.root):
            result = run_local(settings.to_dict(), run_id)
    except RootBusyError as e:
        print(f"fer-pipeline: error: {e}", file=sys.stderr)
        return 2
    except KeyboardInterrupt:
        print(
            "\nInterrupted. Run the same command again: finished stages are reused, training resumes.", file=sys.stderr
        )
        return 130
    except RuntimeError as e:
        _print_progress(settings.root, run_id)
        failed = [e for e in read_progress(settings.root, run_id) if e["state"] == "failed"]
        reason = failed[-1]["error"] if failed else str(e)
        print(f"fer-pipeline: run {run_id} stopped at stage {failed[-1]['stage'] if failed else '?'}: {reason}",
              file=sys.stderr)  # fmt: skip
        return 1
    _print_progress(settings.root, run_id)
    print(f"run {run_id} took {time.perf_counter() - started:.1f} s; lineage: {result['lineage']}")
    if result["pushed"]:
        print(f"pushed version {result['version']} to {settings.push_dir}")
    elif result["version"] is not None:
        print(f"nothing pushed: {result['reason']}")
    else:
        reasons = json.loads((Path(settings.root) / "runs" / run_id / BLESSING_FILE).read_text())["reasons"]
        print("NOT PUSHED, not blessed:\n" + "\n".join(f"  - {reason}" for reason in reasons))
        return NOT_BLESSED
    return 0


def _print_progress(root: str, run_id: str) -> None:
    """One line per finished step of the run: reused or done (with seconds), or failed."""
    print(f"{'stage':<26}{'state':<9}{'seconds':>8}  detail")
    for e in read_progress(root, run_id):
        if e["state"] == "started":
            continue
        seconds = f"{e['seconds']:.1f}" if "seconds" in e else ""
        print(f"{e['stage']:<26}{e['state']:<9}{seconds:>8}  {e.get('summary') or e.get('error') or ''}")


def _status(root: str, run_id: str | None) -> int:
    runs = Path(root) / "runs"
    if run_id is None:
        found = sorted(runs.iterdir(), key=lambda p: p.stat().st_mtime) if runs.is_dir() else []
        if not found:
            print(f"fer-pipeline status: error: no run under {runs}", file=sys.stderr)
            return 2
        run_id = found[-1].name
    events = read_progress(root, run_id)
    if not events:
        print(f"fer-pipeline status: error: run {run_id} has no progress log under {runs}", file=sys.stderr)
        return 2
    print(f"run {run_id}")
    _print_progress(root, run_id)
    if events[-1]["state"] == "started":
        print(f"running (or killed): {events[-1]['stage']} started at {events[-1]['time']}")
    lineage = runs / run_id / LINEAGE_FILE
    if lineage.exists():
        push = json.loads(lineage.read_text()).get("push") or {}
        print(f"lineage: {lineage}; push: {json.dumps(push)}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
