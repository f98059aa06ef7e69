"""``fer-analyze``: every face in photos, folders and videos, with its emotion, as JSON lines or CSV.

    fer-analyze photos/ --output results.jsonl
    fer-analyze clip.mp4 --fps 5 --annotate annotated/ --output clip.csv
    fer-analyze 'shoots/**/*.jpg' talk.mkv --workers 2 --output all.jsonl

Images: one record each; videos: one record per analysed frame (``--every N`` or ``--fps F``; default every
frame), an emotion timeline PNG (``<output>.timelines/``), a summary of the analysed time per emotion
(``<output>.summary.json``, with the run's totals) and, with ``--annotate DIR``, an annotated mp4 copy.
Unreadable files are reported and skipped. Killed and started again with the same command, a run goes on
where it stopped: files already written are not redone, no record is lost or written twice
(``<output>.progress.jsonl`` keeps track).
"""

from __future__ import annotations

import argparse
import json
import os
import sys
import time
from pathlib import Path

from model_zoo.artifacts import BACKENDS, DEFAULT_BACKEND
from serving_demo.detectors import DEFAULT_DETECTOR, DETECTORS


def build_parser() -> argparse.ArgumentParser:
    """The ``fer-analyze`` argument parser."""
    parser = argparse.ArgumentParser(
        prog="fer-analyze", description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("paths", nargs="+", metavar="PATH", help="image or video files, folders, glob patterns")
    parser.add_argument("--output", "-o", required=True, metavar="FILE", help="results: FILE.jsonl or FILE.csv")
    parser.add_argument(
        "--detector", choices=list(DETECTORS), default=DEFAULT_DETECTOR, help=f"(default: {DEFAULT_DETECTOR})"
    )
    parser.add_argument(
        "--backend", choices=list(BACKENDS), default=DEFAULT_BACKEND, help=f"(default: {DEFAULT_BACKEND})"
    )
    parser.add_argument("--artifacts", metavar="DIR", help="a fer-export directory (default: the shipped model)")
    sampling = parser.add_mutually_exclusive_group()
    sampling.add_argument("--every", type=int, metavar="N", help="analyse every Nth video frame")
    sampling.add_argument("--fps", type=float, metavar="F", help="analyse about F video frames a second")
    parser.add_argument("--annotate", metavar="DIR", help="write an annotated mp4 copy of each video here")
    parser.add_argument("--workers", type=int, default=1, help="processes analysing files side by side (default: 1)")
    parser.add_argument(
        "--threads",
        type=int,
        help="CPU threads of each process's detector and TFLite classifier (default: CPU cores / --workers)",
    )
    parser.add_argument("--batch-frames", type=int, default=16, help="video frames classified together (default: 16)")
    parser.add_argument("--strict", action="store_true", help="exit 1 if any file could not be read")
    parser.add_argument("--overwrite", action="store_true", help="start afresh even if --output exists")
    parser.add_argument("--no-progress", action="store_true", help="no progress bar")
    parser.add_argument(
        "--runner",
        choices=("local", "beam"),
        default="local",
        help="local processes (default), or an Apache Beam pipeline (pip install 'fer-pipeline[beam]'); with beam, "
        "options this command does not know go to Beam (e.g. --beam-runner FlinkRunner --flink_master HOST:8081)",
    )
    parser.add_argument(
        "--beam-runner", default="DirectRunner", help="Beam runner for --runner beam (default: DirectRunner)"
    )
    return parser


def _settings(args: argparse.Namespace) -> dict:
    # What must match for a run to be resumed (worker count and progress display may change).
    return {
        "paths": args.paths, "detector": args.detector, "backend": args.backend, "artifacts": args.artifacts,
        "every": args.every, "fps": args.fps, "annotate": args.annotate, "output": str(args.output),
    }  # fmt: skip


class RunLog:
    """``<output>.progress.jsonl``: the settings, then one line per finished file with the output's size after it."""

    def __init__(self, output: Path):
        self.output = output
        self.path = output.with_name(output.name + ".progress.jsonl")

    def start(self, settings: dict, header: str, overwrite: bool) -> dict[str, dict]:
        """Prepare the output; returns the finished files (name -> entry) of the run being resumed.

        Raises:
            ValueError: if the output exists but belongs to no resumable run, or to one with other settings.
        """
        if overwrite:
            self.output.unlink(missing_ok=True)
            self.path.unlink(missing_ok=True)
        if self.output.exists() and not self.path.exists():
            raise ValueError(
                f"{self.output} exists and is not a run fer-analyze can resume: use --overwrite or another --output"
            )
        if not self.path.exists():
            self.output.parent.mkdir(parents=True, exist_ok=True)
            self.output.write_text(header)
            self._append({"settings": settings, "bytes": len(header.encode())})
            return {}
        lines = [json.loads(line) for line in self.path.read_text().splitlines() if line.strip()]
        if lines[0]["settings"] != settings:
            raise ValueError(
                f"{self.output} was written by another command ({lines[0]['settings']}); "
                "repeat that command to resume it, or use --overwrite or another --output"
            )
        done = {entry["source"]: entry for entry in lines[1:]}
        size = lines[-1]["bytes"]
        with open(self.output, "r+b") as f:  # records past the last finished file are written again
            f.truncate(size)
        return done

    def finish(self, text: str, entry: dict) -> None:
        """Append one file's records, make them durable, then record the file as finished."""
        with open(self.output, "a", encoding="utf-8") as f:
            f.write(text)
            f.flush()
            os.fsync(f.fileno())
        self._append(entry | {"bytes": self.output.stat().st_size})

    def _append(self, entry: dict) -> None:
        with open(self.path, "a", encoding="utf-8") as f:
            f.write(json.dumps(entry) + "\n")
            f.flush()
            os.fsync(f.fileno())


_worker_recognizer = None


def _init_worker(artifacts, backend, detector, threads) -> None:
    global _worker_recognizer
    from serving_demo.recognizer import EmotionRecognizer

    _worker_recognizer = EmotionRecognizer(artifacts, backend=backend, detector=detector, num_threads=threads)


def _analyze_one(task) -> tuple:
    """One file, or one frame range of a video, in a worker: (task, records, error)."""
    from serving_demo.analysis.engine import READ_ERRORS, analyze_source

    source, every, fps, batch_frames, annotate, frame_range = task
    try:
        records = list(
            analyze_source(source, _worker_recognizer, every, fps, batch_frames, annotate, frame_range=frame_range)
        )
        return task, records, None
    except READ_ERRORS as e:
        return task, [], str(e)


def _tasks(sources, args) -> list[tuple]:
    """One task per file; with several workers and no annotated copies, a video is split into one frame range per
    worker, so that one long video keeps every worker busy."""
    from serving_demo.analysis.video import VideoError, frame_ranges, open_video, sampling_step

    tasks = []
    for source in sources:
        ranges = [(0, None)]
        if source.kind == "video" and args.workers > 1 and not args.annotate:
            try:
                capture, info = open_video(source.path)
                capture.release()
                ranges = frame_ranges(info.frames, args.workers, sampling_step(info.fps, args.every, args.fps))
            except VideoError:
                pass  # reported when the task runs
        tasks += [(source, args.every, args.fps, args.batch_frames, args.annotate, r) for r in ranges]
    return tasks


def _whole_files(results, tasks):
    """Gather the results of a file's frame ranges: (source, records in frame order, first error) per file."""
    expected: dict = {}
    for task in tasks:
        expected[task[0]] = expected.get(task[0], 0) + 1
    parts: dict = {}
    for task, records, error in results:
        source = task[0]
        got = parts.setdefault(source, [])
        got.append((task[-1][0], records, error))
        if len(got) == expected[source]:
            del parts[source]
            errors = [e for _, _, e in got if e]
            ordered = [r for _, part, _ in sorted(got, key=lambda g: g[0]) for r in part]
            yield source, ([] if errors else ordered), (errors[0] if errors else None)


def main(argv: list[str] | None = None) -> int:
    """Console entry point of ``fer-analyze``: 0 if any file was analysed, 1 if none (or any, with --strict), 2 on
    bad arguments."""
    parser = build_parser()
    args, beam_args = parser.parse_known_args(argv)
    if beam_args and args.runner != "beam":
        parser.error(f"unrecognized arguments: {' '.join(beam_args)}")
    if args.runner == "beam":
        return _run_beam(args, beam_args)
    from serving_demo.analysis.engine import plot_timeline, video_summary
    from serving_demo.analysis.records import csv_header, format_records, output_format
    from serving_demo.analysis.sources import find_sources
    from serving_demo.analysis.video import sampling_step
    from serving_demo.recognizer import EmotionRecognizer

    try:
        fmt = output_format(args.output)
        sampling_step(30.0, args.every, args.fps)  # checks the values
        if args.workers < 1 or args.batch_frames < 1:
            raise ValueError("--workers and --batch-frames must be at least 1")
        threads = args.threads or max(1, (os.cpu_count() or 1) // args.workers)
        recognizer = EmotionRecognizer(
            args.artifacts, backend=args.backend, detector=args.detector, num_threads=threads
        )
        output = Path(args.output)
        header = ",".join(csv_header(recognizer.class_names)) + "\n" if fmt == "csv" else ""
        log = RunLog(output)
        done = log.start(_settings(args), header, args.overwrite)
    except (ValueError, FileNotFoundError) as e:
        print(f"fer-analyze: error: {e}", file=sys.stderr)
        return 2
    sources, missing = find_sources(args.paths)
    todo = [s for s in sources if s.name not in done]
    for argument, reason in missing:
        print(f"fer-analyze: skipped {argument}: {reason}", file=sys.stderr)
    if done:
        print(f"fer-analyze: resuming {output}: {len(done)} of {len(sources)} files already done", file=sys.stderr)
    timelines = output.with_name(output.name + ".timelines")
    tasks = _tasks(todo, args)
    started = time.perf_counter()
    totals = {"files": 0, "frames": 0, "faces": 0}
    progress = None
    if not args.no_progress:
        from tqdm import tqdm

        progress = tqdm(total=len(todo), unit="file", file=sys.stderr, dynamic_ncols=True)
    if args.workers == 1:
        global _worker_recognizer
        _worker_recognizer = recognizer
        results = map(_analyze_one, tasks)
    else:
        import multiprocessing

        pool = multiprocessing.get_context("spawn").Pool(
            args.workers, _init_worker, (args.artifacts, args.backend, args.detector, threads)
        )
        results = pool.imap_unordered(_analyze_one, tasks)
    try:
        for source, records, error in _whole_files(results, tasks):
            faces = sum(len(r["faces"]) for r in records)
            entry = {
                "source": source.name,
                "kind": source.kind,
                "records": len(records),
                "faces": faces,
                "error": error,
            }
            if error:
                print(f"fer-analyze: skipped {source.name}: {error}", file=sys.stderr)
            elif source.kind == "video" and records:
                entry["summary"] = video_summary(records, recognizer.class_names)
                plot_timeline(
                    records, recognizer.class_names, timelines / f"{source.name.lstrip('/')}.png", source.name
                )
            log.finish(format_records(records, fmt, recognizer.class_names), entry)
            totals["files"] += not error
            totals["frames"] += len(records)
            totals["faces"] += faces
            if progress is not None:
                seconds = max(time.perf_counter() - started, 1e-9)
                progress.set_postfix_str(
                    f"{totals['frames'] / seconds:.1f} frames/s, {totals['faces'] / seconds:.1f} faces/s", refresh=False
                )
                progress.update(1)
    finally:
        if progress is not None:
            progress.close()
        if args.workers > 1:
            pool.terminate()
    seconds = time.perf_counter() - started
    summary = _write_summary(log, output, missing, seconds, totals)
    print(
        f"fer-analyze: {summary['files_analysed']} files analysed, {summary['files_skipped']} skipped, "
        f"{summary['frames']} images and frames, {summary['faces']} faces; this session {totals['frames']} in "
        f"{seconds:.1f} s ({totals['frames'] / max(seconds, 1e-9):.1f}/s); wrote {output} and "
        f"{output.name}.summary.json",
        file=sys.stderr,
    )
    if summary["files_analysed"] == 0 or (args.strict and summary["files_skipped"]):
        return 1
    return 0


def _run_beam(args: argparse.Namespace, beam_args: list[str]) -> int:
    """``--runner beam``: the pipeline of ``serving_demo.analysis.beam_pipeline``; 0, 1 (nothing read) or 2."""
    if args.annotate or args.workers != 1:
        print("fer-analyze: error: --annotate and --workers belong to the local runner", file=sys.stderr)
        return 2
    try:
        from serving_demo.analysis.beam_pipeline import run_beam
    except ImportError as e:
        print(
            f"fer-analyze: error: Apache Beam is not installed ({e}): pip install 'fer-pipeline[beam]'", file=sys.stderr
        )
        return 2
    from serving_demo.analysis.records import output_format
    from serving_demo.analysis.sources import find_sources
    from serving_demo.analysis.video import sampling_step
    from serving_demo.recognizer import EmotionRecognizer

    try:
        output_format(args.output)
        sampling_step(30.0, args.every, args.fps)
        class_names = EmotionRecognizer(args.artifacts, backend=args.backend, detector=args.detector).class_names
    except (ValueError, FileNotFoundError) as e:
        print(f"fer-analyze: error: {e}", file=sys.stderr)
        return 2
    sources, missing = find_sources(args.paths)
    for argument, reason in missing:
        print(f"fer-analyze: skipped {argument}: {reason}", file=sys.stderr)
    settings = {"artifacts": args.artifacts, "backend": args.backend, "detector": args.detector,
                "every": args.every, "fps": args.fps, "threads": args.threads}  # fmt: skip
    started = time.perf_counter()
    run_beam(sources, settings, class_names, args.output, ["--runner", args.beam_runner, *beam_args])
    skipped_file = Path(args.output + ".skipped.jsonl")
    skipped = len(skipped_file.read_text().splitlines()) if skipped_file.exists() else 0
    print(
        f"fer-analyze: Beam ({args.beam_runner}) analysed {len(sources) - skipped} files, skipped "
        f"{skipped + len(missing)} in {time.perf_counter() - started:.1f} s; wrote {args.output}",
        file=sys.stderr,
    )
    return 1 if len(sources) == skipped or (args.strict and skipped + len(missing)) else 0


def _write_summary(log: RunLog, output: Path, missing: list, seconds: float, totals: dict) -> dict:
    """``<output>.summary.json`` from every finished file of the run, this session's and earlier ones'."""
    entries = [json.loads(line) for line in log.path.read_text().splitlines()[1:] if line.strip()]
    summary = {
        "output": str(output),
        "files_analysed": sum(1 for e in entries if not e["error"]),
        "files_skipped": sum(1 for e in entries if e["error"]) + len(missing),
        "frames": sum(e["records"] for e in entries),
        "faces": sum(e["faces"] for e in entries),
        "session": {
            "seconds": round(seconds, 3),
            **totals,
            "frames_per_sec": round(totals["frames"] / max(seconds, 1e-9), 2),
        },
        "skipped": [{"source": e["source"], "reason": e["error"]} for e in entries if e["error"]]
        + [{"source": a, "reason": r} for a, r in missing],
        "videos": {e["source"]: e["summary"] for e in entries if e.get("summary")},
    }
    path = output.with_name(output.name + ".summary.json")
    path.write_text(json.dumps(summary, indent=2))
    return summary


if __name__ == "__main__":
    sys.exit(main())
