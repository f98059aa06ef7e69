"""``fer-analyze``: every face in photos, folders and videos, with its emotion, as JSON lines or CSV.

    fer-analyze photos/ --output results.jsonl
    fer-analyze clip.mp4 --fps 5 --annotate annotated/ --output clip.csv
    fer-analyze 'shoots/**/*.jpg' talk.mkv --workers 2 --output all.jsonl

Images: one record each; videos: one record per analysed frame (``--every N`` or ``--fps F``; default every
frame), each face with the id of its track (``--tracking off``: detect every frame, no ids), an emotion timeline
PNG (``<output>.timelines/``), a summary of the analysed time per emotion and per person
(``<output>.summary.json``, with the run's totals) and, with ``--annotate DIR``, an annotated mp4 copy.
Unreadable files, videos over the limits and links leading outside a folder are reported and skipped. Killed, or
stopped by a full disk, and started again with the same command, a run goes on where it stopped: files already
written are not redone, no record is lost or written twice (``<output>.progress.jsonl`` keeps track). An existing
output is only resumed (local runner) or replaced (Beam) by the command that wrote it, or with ``--overwrite``.
"""

from __future__ import annotations

import argparse
import sys

from fer_runtime.command_line import CommandError, one_line, run_command
from serving_demo.analysis.settings import MAX_FRAME_PIXELS, MAX_VIDEO_SECONDS, AnalysisOptions, RunSettings
from serving_demo.command_line import add_model_options
from serving_demo.tracking import FULL_EVERY

PROG = "fer-analyze"


def build_parser() -> argparse.ArgumentParser:
    """The ``fer-analyze`` argument parser.

    Returns:
        The parser; options it does not know are Beam's (``parse_known_args``).
    """
    parser = argparse.ArgumentParser(
        prog=PROG, description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("paths", nargs="+", metavar="PATH", help="image or video files, folders, glob patterns")
    parser.add_argument("--output", "-o", required=True, metavar="FILE", help="results: FILE.jsonl or FILE.csv")
    add_model_options(parser)
    sampling = parser.add_mutually_exclusive_group()
    sampling.add_argument("--every", type=int, metavar="N", help="analyse every Nth video frame")
    sampling.add_argument("--fps", type=float, metavar="F", help="analyse about F video frames a second")
    parser.add_argument("--annotate", metavar="DIR", help="write an annotated mp4 copy of each video here")
    parser.add_argument(
        "--tracking",
        choices=("on", "off"),
        default="on",
        help="on (default): follow each face of a video from frame to frame, with an id, detecting all faces every "
        f"{FULL_EVERY} analysed frames and whenever one is lost; off: detect faces in every frame",
    )
    parser.add_argument("--workers", type=int, default=1, help="processes analysing files side by side (default: 1)")
    parser.add_argument(
        "--threads",
        type=int,
        help="CPU threads of each process's detector and TFLite classifier (default: CPU cores / --workers)",
    )
    parser.add_argument("--batch-frames", type=int, default=16, help="video frames classified together (default: 16)")
    parser.add_argument(
        "--max-video-seconds",
        type=float,
        default=MAX_VIDEO_SECONDS,
        metavar="S",
        help=f"skip (and report) longer videos (default: {MAX_VIDEO_SECONDS:g}; 0: no limit)",
    )
    parser.add_argument(
        "--max-frame-pixels",
        type=int,
        default=MAX_FRAME_PIXELS,
        metavar="N",
        help=f"skip (and report) videos with larger frames (default: {MAX_FRAME_PIXELS}, 4096x4096; 0: no limit)",
    )
    parser.add_argument(
        "--follow-links",
        action="store_true",
        help="read files that links in a folder lead to outside it (default: report and skip them)",
    )
    parser.add_argument("--strict", action="store_true", help="exit 1 if any file could not be read")
    parser.add_argument(
        "--overwrite", action="store_true", help="start afresh even if --output exists and is another run's"
    )
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


def settings_from(args: argparse.Namespace) -> RunSettings:
    """The run's settings from the parsed arguments.

    Args:
        args: ``build_parser``'s arguments.

    Returns:
        The ``RunSettings`` both runners take.
    """
    analysis = AnalysisOptions(
        every=args.every, fps=args.fps, batch_frames=args.batch_frames, annotate_dir=args.annotate,
        max_video_seconds=args.max_video_seconds or None, max_frame_pixels=args.max_frame_pixels or None,
        tracking=args.tracking == "on",
    )  # fmt: skip
    return RunSettings(
        paths=tuple(args.paths), output=args.output, artifacts=args.artifacts, backend=args.backend,
        detector=args.detector, threads=args.threads, analysis=analysis, workers=args.workers,
        overwrite=args.overwrite, progress=not args.no_progress, follow_links=args.follow_links,
    )  # fmt: skip


def _report(message: str) -> None:
    print(f"{PROG}: {one_line(message)}", file=sys.stderr)


def _run_local(settings: RunSettings, strict: bool) -> int:
    """The local runner: 0 if any file was analysed, 1 if none (or, with ``strict``, if any was skipped)."""
    from serving_demo.analysis.local_runner import run_local

    summary = run_local(settings, _report)
    session, output = summary.session, summary.output
    _report(
        f"{summary.files_analysed} files analysed, {summary.files_skipped} skipped, {summary.frames} images and "
        f"frames, {summary.faces} faces; this session {session.frames} in {session.seconds:.1f} s "
        f"({session.frames_per_sec:.1f}/s); wrote {output} and {output.name}.summary.json"
    )
    return 1 if summary.files_analysed == 0 or (strict and summary.files_skipped) else 0


def _run_beam(settings: RunSettings, strict: bool, runner: str, beam_args: list[str]) -> int:
    """``--runner beam``: 0 if any file was analysed, 1 if none (or, with ``strict``, if any was skipped)."""
    settings.check_beam()
    try:
        from serving_demo.analysis.beam_pipeline import analyze_with_beam
    except ImportError as e:
        raise CommandError(f"Apache Beam is not installed ({e}): pip install 'fer-pipeline[beam]'") from e
    summary = analyze_with_beam(settings, runner, beam_args, _report)
    _report(
        f"Beam ({runner}) analysed {summary.analysed} files, skipped {summary.skipped} in {summary.seconds:.1f} s; "
        f"wrote {summary.output}"
    )
    return 1 if summary.analysed == 0 or (strict and summary.skipped) else 0


def main(argv: list[str] | None = None) -> int:
    """Console entry point of ``fer-analyze``.

    Args:
        argv: The arguments (default: the command line's).

    Returns:
        0 if any file was analysed, 1 if none (or any, with ``--strict``), 2 on bad arguments or input, or an output
        that cannot be written or read (full disk, read-only folder): one line on stderr, never a traceback.
    """
    parser = build_parser()
    args, beam_args = parser.parse_known_args(argv)
    if beam_args and args.runner != "beam":
        parser.error(f"unrecognized arguments: {' '.join(beam_args)}")
    settings = settings_from(args)
    if args.runner == "beam":
        return run_command(PROG, lambda: _run_beam(settings, args.strict, args.beam_runner, beam_args), (OSError,))
    return run_command(PROG, lambda: _run_local(settings, args.strict), (OSError,))


if __name__ == "__main__":
    sys.exit(main())
