"""``fer-bench``: compare Keras, SavedModel and the TFLite variants on the same faces.

    fer-bench --data ../shared/data/fer2013 --json bench.json --plot bench.png

For each backend and thread count, in a fresh process (thread pools and peak
memory are per process): load time; batch-1 latency p50/p90/p99 over
``--iterations`` calls after ``--warmup`` calls; batch-64 throughput; file size;
peak resident memory; accuracy on ``--split`` when ``--data`` is given; and end to
end on a 640x480 frame (detect + classify + draw) against the naive Haar pipeline.
Every backend gets the same inputs. Prints a table and writes JSON and a bar chart.
"""

from __future__ import annotations

import argparse
import json
import os
import sys
from pathlib import Path

from model_zoo.artifacts import BACKEND_ALIASES, BACKENDS, canonical_backend


def _backend(name: str) -> str:
    try:
        return canonical_backend(name)
    except ValueError as e:
        raise argparse.ArgumentTypeError(str(e)) from None


def build_parser() -> argparse.ArgumentParser:
    """The ``fer-bench`` argument parser."""
    parser = argparse.ArgumentParser(
        prog="fer-bench", description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument(
        "--artifacts", metavar="DIR", help="a fer-export output directory (default: the shipped pretrained model)"
    )
    parser.add_argument(
        "--data",
        metavar="PATH",
        help="FER2013 data: measure accuracy and use real faces as inputs (default: none, random faces)",
    )
    parser.add_argument("--data-dir", metavar="DIR", help="prepared-dataset cache (default: ~/tensorflow_datasets)")
    parser.add_argument("--split", default="validation", help="split of --data to measure on (default: validation)")
    parser.add_argument("--limit", type=int, default=100_000, help="at most this many faces (default: 100000)")
    parser.add_argument(
        "--backends",
        nargs="+",
        type=_backend,
        default=list(BACKENDS),
        metavar="NAME",
        help=f"backends to measure, any of {', '.join(BACKENDS)} (default: all; older names such as "
        f"{next(iter(BACKEND_ALIASES))} are accepted)",
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
    parser.add_argument("--json", metavar="FILE", help="write the results here (default: print only)")
    parser.add_argument("--plot", metavar="FILE", help="write a bar chart PNG here (default: none)")
    parser.add_argument("--worker", help=argparse.SUPPRESS)  # internal: measure one backend in this process
    parser.add_argument("--inputs", help=argparse.SUPPRESS)
    return parser


def _run_worker(args: argparse.Namespace) -> int:
    import numpy as np

    from export.bench import measure_backend, measure_end_to_end

    inputs = np.load(args.inputs)
    labels = inputs["labels"] if "labels" in inputs else None
    artifacts, threads = Path(args.artifacts), args.threads[0]
    result = measure_backend(
        artifacts, args.worker, threads, inputs["faces"], labels, args.iterations, args.warmup, args.batch_runs
    )
    if args.e2e_iterations:
        result |= measure_end_to_end(artifacts, args.worker, threads, inputs["frame"], args.e2e_iterations)
    print(json.dumps(result))
    return 0


def main(argv: list[str] | None = None) -> int:
    """Console entry point of ``fer-bench``; returns 0 or 2 (bad input or a failed measurement)."""
    args = build_parser().parse_args(argv)
    if args.worker:
        return _run_worker(args)
    from export.bench import format_table, load_bench_inputs, plot_results, run_bench
    from model_zoo.pretrained import pretrained_artifacts_dir

    try:
        args.artifacts = args.artifacts or str(pretrained_artifacts_dir())
        faces, labels = load_bench_inputs(args.data, args.split, args.limit, args.data_dir)
        results = run_bench(
            args.artifacts,
            faces,
            labels,
            tuple(args.backends),
            tuple(args.threads),
            args.iterations,
            args.warmup,
            args.batch_runs,
            args.e2e_iterations,
        )
    except (FileNotFoundError, KeyError, ValueError, RuntimeError) as e:
        print(f"fer-bench: error: {e}", file=sys.stderr)
        return 2
    print(format_table(results))
    record = {
        "artifacts": str(args.artifacts),
        "data": args.data,
        "split": args.split if args.data else None,
        "faces": int(len(faces)),
        "cpu_count": os.cpu_count(),
        "results": results,
    }
    if args.json:
        Path(args.json).write_text(json.dumps(record, indent=2))
        print(f"wrote {args.json}")
    if args.plot:
        plot_results(results, args.plot)
        print(f"wrote {args.plot}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
