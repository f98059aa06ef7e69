"""``fer-bench``: compare Keras, SavedModel and the TFLite variants on the same faces.

    fer-bench --data ../shared/data/fer2013 --json bench.json --plot bench.png

For each backend and thread count, in a fresh process (thread pools and peak
memory are per process): load time; batch-1 latency p50/p90/p99 over
``--iterations`` calls after ``--warmup`` calls; batch-64 throughput; file size;
peak resident memory; accuracy on ``--split`` when ``--data`` is given; and end to
end on a 640x480 frame (detect + classify + draw) against the naive Haar pipeline.
Every backend gets the same inputs. Prints a table and writes JSON and a bar chart.

Accuracy is measured against the labels the export's model was trained on: the label mode its metadata.json
records (``--labels`` otherwise), so an 8-class FER+ export is scored on FER+ labels (which need the FER+ vote file
beside the FER2013 CSV, or ``--ferplus``). To score a model on other labels than its own, use ``fer-eval``: it
scores over the classes the model and the labels share.

    fer-bench --artifacts seed_cnn_ferplus --against seed_cnn_fer2013 --backends tflite-int8 --json swap.json

measures both exports, one after the other in the same run, and prints each one's table and the ratios of the first
over the second: what replacing one model by the other costs (JSON: ``against``).

    fer-bench --data ../shared/data/fer2013 --faces-in-frames 600 --no-backends --json fif.json

pastes 600 faces of --split into 640x480 scenes and measures every face detector on them: recall, false boxes
per frame, accuracy on the faces found and end to end, detection and whole-frame time against naive Haar.

    fer-bench --data ../shared/data/fer2013 --calibrate-framing --split train --limit 900

measures where each detector's box lies in FER2013's face frame (the numbers behind serving_demo.face_crops).

    fer-bench --no-backends --e2e-iterations 20 --fer-python /tmp/fer-venv/bin/python

measures the ``fer`` package's ``detect_emotions`` (PyPI ``fer``, never a dependency of this project: install it in
a separate virtualenv) and the recognizer at its defaults on the same 640x480 one-face frame, one after the other,
at the same thread count, and prints both side by side with the ratio (JSON: ``fer_package``). Every run does it
when the interpreter of ``--fer-python``, or by default this one, has ``fer``; otherwise one line says how to get it.

    fer-bench --no-backends --e2e-iterations 0 --tracked-video 300 --json tracked.json

runs ``fer-analyze`` on a synthetic 640x480 30 fps one-face clip with ``--tracking off`` and ``on`` (median of 3 runs
each, one process): frames a second and the share of frames with the same emotion (JSON: ``tracked_video``).
"""

from __future__ import annotations

import argparse
import json
import os
import sys
from pathlib import Path

from fer_runtime.atomic_files import write_text_atomic
from fer_runtime.command_line import CommandError, run_command
from model_zoo.artifacts import BACKENDS, DEFAULT_BACKEND, check_backend
from model_zoo.constants import DEFAULT_LABEL_MODE
from pipeline.cli import add_label_options
from serving_demo.command_line import add_model_options
from serving_demo.detectors import DETECTORS


def _backend(name: str) -> str:
    try:
        return check_backend(name)
    except ValueError as e:
        raise argparse.ArgumentTypeError(str(e)) from None


def build_parser() -> argparse.ArgumentParser:
    """The ``fer-bench`` argument parser."""
    parser = argparse.ArgumentParser(
        prog="fer-bench", description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    add_model_options(parser, backend=False, note="for the end-to-end frame measurement")
    parser.add_argument(
        "--data",
        metavar="PATH",
        help="FER2013 data: measure accuracy and use real faces as inputs (default: none, random faces)",
    )
    parser.add_argument("--data-dir", metavar="DIR", help="prepared-dataset cache (default: ~/tensorflow_datasets)")
    add_label_options(
        parser,
        "labels of --data to score against; their classes must be the export's (default: the label mode the "
        "export's metadata.json records, else fer2013 for a 7-class export)",
    )
    against = "also measure this export or shipped model the same way on the same faces, and print the ratios "
    against += "(latency, throughput, end-to-end frame) of --artifacts over it (default: none)"
    parser.add_argument("--against", metavar="DIR|NAME", help=against)
    parser.add_argument("--split", default="validation", help="split of --data to measure on (default: validation)")
    parser.add_argument("--limit", type=int, default=100_000, help="at most this many faces (default: 100000)")
    parser.add_argument(
        "--backends",
        nargs="+",
        type=_backend,
        default=list(BACKENDS),
        metavar="NAME",
        help=f"backends to measure, any of {', '.join(BACKENDS)} (default: all)",
    )
    parser.add_argument("--threads", nargs="+", type=int, default=[1, 2], help="thread counts (default: 1 2)")
    parser.add_argument("--iterations", type=int, default=300, help="timed batch-1 calls after warm-up (default: 300)")
    parser.add_argument("--warmup", type=int, default=30, help="untimed batch-1 calls first (default: 30)")
    parser.add_argument("--batch-runs", type=int, default=20, help="timed batch-64 calls (default: 20)")
    parser.add_argument(
        "--e2e-iterations",
        type=int,
        default=50,
        help="timed end-to-end 640x480 frames (detect + classify + draw), per backend; 0 skips them (default: 50)",
    )
    parser.add_argument(
        "--faces-in-frames",
        type=int,
        default=0,
        metavar="N",
        help="also paste N faces of --split (needs --data) into 640x480 scenes and measure the face detectors "
        "(default: 0, off)",
    )
    parser.add_argument(
        "--detectors",
        nargs="+",
        choices=list(DETECTORS),
        default=list(DETECTORS),
        metavar="NAME",
        help=f"detectors for --faces-in-frames and --calibrate-framing, any of {', '.join(DETECTORS)}; the first "
        "is compared with Haar (default: all)",
    )
    parser.add_argument(
        "--classifier",
        type=_backend,
        default=DEFAULT_BACKEND,
        metavar="NAME",
        help=f"backend that classifies the faces of --faces-in-frames (default: {DEFAULT_BACKEND})",
    )
    parser.add_argument("--seed", type=int, default=0, help="seed of the faces-in-frames scenes (default: 0)")
    parser.add_argument(
        "--no-backends",
        action="store_true",
        help="skip the per-backend measurements (with --faces-in-frames or the fer package row)",
    )
    parser.add_argument(
        "--fer-python",
        metavar="PATH",
        help="a Python interpreter with the fer package (PyPI fer; never install it into this project's "
        "environment): its detect_emotions is timed beside the recognizer at its defaults on the same 640x480 "
        "frame, --e2e-iterations calls each, both at the most of --threads threads (default: this interpreter if "
        "it can import fer, else the row is left out with a note)",
    )
    parser.add_argument(
        "--tracked-video",
        type=int,
        default=0,
        metavar="FRAMES",
        help="also run fer-analyze on a synthetic 640x480 30 fps clip of FRAMES frames with --tracking off and on, "
        "median of 3 runs each, one process: frames/s and the share of frames with the same emotion "
        "(default: 0, skip)",
    )
    parser.add_argument(
        "--calibrate-framing",
        action="store_true",
        help="measure each detector's box against FER2013's face frame on faces of --split (needs --data), "
        "print it and stop",
    )
    parser.add_argument("--json", metavar="FILE", help="write the results here (default: print only)")
    parser.add_argument("--plot", metavar="FILE", help="write a bar chart PNG here (default: none)")
    parser.add_argument("--worker", help=argparse.SUPPRESS)  # internal: measure one backend in this process
    parser.add_argument("--inputs", help=argparse.SUPPRESS)
    return parser


def _run_worker(args: argparse.Namespace) -> int:
    import numpy as np

    from export.benchmarks.backends import measure_backend, measure_end_to_end

    inputs = np.load(args.inputs)
    labels = inputs["labels"] if "labels" in inputs else None
    artifacts, threads = Path(args.artifacts), args.threads[0]
    result = measure_backend(
        artifacts, args.worker, threads, inputs["faces"], labels, args.iterations, args.warmup, args.batch_runs
    )
    if args.e2e_iterations:
        result |= measure_end_to_end(
            artifacts, args.worker, threads, inputs["frame"], args.e2e_iterations, args.detector
        )
    print(json.dumps(result))
    return 0


def main(argv: list[str] | None = None) -> int:
    """Console entry point of ``fer-bench``; returns 0 or 2 (bad input or a failed measurement)."""
    args = build_parser().parse_args(argv)
    if args.worker:
        return _run_worker(args)
    return run_command("fer-bench", lambda: _bench(args), errors=(RuntimeError,))


def _bench(args: argparse.Namespace) -> None:
    from export.benchmarks.backends import format_table, load_bench_inputs, plot_results, run_bench
    from model_zoo.pretrained import resolve_artifacts

    if args.tracked_video < 0:
        raise CommandError(f"--tracked-video is a number of frames (0 to skip), not {args.tracked_video}")
    if args.against and args.no_backends:
        raise CommandError("--against compares the backends' measurements of two exports: leave out --no-backends")
    if (args.faces_in_frames or args.calibrate_framing) and not args.data:
        raise CommandError("--faces-in-frames and --calibrate-framing need FER2013 faces: give --data")
    args.artifacts = str(resolve_artifacts(args.artifacts))
    label_mode = _label_mode(args) if args.data else None  # random faces have no labels
    faces, labels = load_bench_inputs(
        args.data, args.split, args.faces_in_frames or args.limit, args.data_dir,
        labels=label_mode or DEFAULT_LABEL_MODE, ferplus=args.ferplus,
    )  # fmt: skip
    if args.calibrate_framing:
        from export.benchmarks.faces_in_frames import calibrate_framing, format_framing

        rows = calibrate_framing(faces, labels, tuple(args.detectors), args.seed)
        print(format_framing(rows))
        _write_json(args.json, {"split": args.split, "faces": int(len(faces)), "framings": rows})
        return
    results = []
    if not args.no_backends:
        results = run_bench(
            args.artifacts, faces, labels, tuple(args.backends), tuple(args.threads), args.iterations, args.warmup,
            args.batch_runs, args.e2e_iterations, args.detector,
        )  # fmt: skip
        print(format_table(results))
    against = _against(args, faces, results) if args.against and results else None
    faces_in_frames = None
    if args.faces_in_frames:
        from export.benchmarks.faces_in_frames import format_faces_in_frames, run_faces_in_frames

        faces_in_frames = run_faces_in_frames(
            args.artifacts, faces, labels, tuple(args.detectors), args.classifier, args.seed, max(args.threads)
        )
        print(format_faces_in_frames(faces_in_frames))
    fer_package = _fer_package(args) if args.e2e_iterations else None
    tracked_video = None
    if args.tracked_video:
        from export.benchmarks.tracked_video import format_tracked_video, run_tracked_video

        tracked_video = run_tracked_video(args.tracked_video, 3, args.artifacts, threads=max(args.threads))
        print(format_tracked_video(tracked_video))
    _write_json(args.json, {
        "artifacts": str(args.artifacts), "data": args.data, "split": args.split if args.data else None,
        "labels": label_mode,
        "faces": int(len(faces)), "cpu_count": os.cpu_count(), "detector": args.detector, "results": results,
        "against": against, "faces_in_frames": faces_in_frames, "fer_package": fer_package,
        "tracked_video": tracked_video,
    })  # fmt: skip
    if args.plot and results:
        plot_results(results, args.plot)
        print(f"wrote {args.plot}")


def _against(args: argparse.Namespace, faces, results: list[dict]) -> dict:
    """The ``--against`` export measured like this one on the same faces (no accuracy: its classes may differ), and
    the ratios between the two; printed and returned for the JSON."""
    from export.benchmarks.backends import compare_results, format_comparison, format_table, run_bench
    from model_zoo.pretrained import resolve_artifacts

    other = str(resolve_artifacts(args.against))
    measured = run_bench(
        other, faces, None, tuple(args.backends), tuple(args.threads), args.iterations, args.warmup,
        args.batch_runs, args.e2e_iterations, args.detector,
    )  # fmt: skip
    print(format_table(measured))
    ratios = compare_results(results, measured)
    print(format_comparison(ratios, args.artifacts, other))
    return {"artifacts": other, "results": measured, "ratios": ratios}


def _fer_package(args: argparse.Namespace) -> dict | None:
    """The ``fer`` package's row: measured and printed, or left out with one line that says why (status unchanged)."""
    from export.benchmarks.fer_package import FerPackageUnavailable, format_fer_package, run_fer_package

    try:
        record = run_fer_package(args.artifacts, args.fer_python, args.e2e_iterations, threads=max(args.threads))
    except FerPackageUnavailable as e:
        print(f"fer package row left out: {e}")
        return None
    print(format_fer_package(record))
    return record


def _label_mode(args: argparse.Namespace) -> str:
    """The label mode ``--data`` is loaded with: ``--labels``, else the export's (``export_labels``).

    Raises:
        CommandError: if the export's classes and the label mode disagree, or the export records no label mode.
    """
    from export.export_labels import export_label_mode

    if not Path(args.artifacts).is_dir():
        raise CommandError(f"No export at {args.artifacts}; run fer-export first")
    try:
        return export_label_mode(args.artifacts, args.labels)
    except ValueError as e:
        raise CommandError(f"{e} (fer-bench --labels)") from None


def _write_json(path: str | None, record: dict) -> None:
    if path:
        write_text_atomic(Path(path), json.dumps(record, indent=2) + "\n")
        print(f"wrote {path}")


if __name__ == "__main__":
    sys.exit(main())
