"""``fer-analyze``'s local runner: files analysed in this process or a pool of processes, written as they finish,
resumable after a kill (``run_log``).

Each file is a ``Task``; with several workers and no annotated copies, a video is split into one frame range per
worker, so that one long video keeps every worker busy, and its ranges are put back together in frame order
before the file is written (with tracking, split where a full detection is due, their track ids joined). Each pool
process builds its own recognizer when it starts.
"""

from __future__ import annotations

import sys
import time
from collections.abc import Callable, Iterable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import TYPE_CHECKING

from serving_demo.analysis.engine import (
    READ_ERRORS,
    analyze_source,
    path_under,
    plot_timeline,
    video_limits,
    video_summary,
)
from serving_demo.analysis.outputs import writing
from serving_demo.analysis.records import csv_header, format_records, output_format
from serving_demo.analysis.run_log import RunLog, RunSummary, SessionTotals
from serving_demo.analysis.settings import AnalysisOptions, RunSettings
from serving_demo.analysis.sources import Source, find_sources
from serving_demo.analysis.tracks import join_track_ids
from serving_demo.analysis.video import VideoError, frame_ranges, open_video, sampling_step

if TYPE_CHECKING:
    from serving_demo.recognizer import EmotionRecognizer

#: Takes each message of a run (a skipped file, a resumed run), without the command's name.
Report = Callable[[str], None]


@dataclass(frozen=True)
class Task:
    """One file, or the frames ``start`` to ``stop`` (exclusive; None: the end) of a video."""

    source: Source
    start: int = 0
    stop: int | None = None


@dataclass(frozen=True)
class TaskResult:
    """A task's records, or why its file could not be read (then no records)."""

    task: Task
    records: list[dict] = field(default_factory=list)
    error: str | None = None


@dataclass(frozen=True)
class FileResult:
    """A whole file's records in frame order, or the first error of its tasks (then no records)."""

    source: Source
    records: list[dict] = field(default_factory=list)
    error: str | None = None


class Worker:
    """Runs tasks with one recognizer and the same options: in this process, or one per pool process.

    Args:
        recognizer: The ``EmotionRecognizer`` of this process.
        options: How each file is analysed.
    """

    def __init__(self, recognizer: EmotionRecognizer, options: AnalysisOptions):
        self.recognizer, self.options = recognizer, options

    def __call__(self, task: Task) -> TaskResult:
        """Analyse one task.

        Args:
            task: The file or frame range.

        Returns:
            Its records, or the reason its file could not be read.
        """
        try:
            records = list(analyze_source(task.source, self.recognizer, self.options, (task.start, task.stop)))
        except READ_ERRORS as e:
            return TaskResult(task, [], str(e))
        return TaskResult(task, records)


_process_worker: Worker | None = None  # set in each pool process by its initializer, ``_start_process``


def _start_process(settings: RunSettings) -> None:
    global _process_worker
    _process_worker = Worker(settings.recognizer(settings.process_threads()), settings.analysis)


def _run_in_process(task: Task) -> TaskResult:
    assert _process_worker is not None, "a pool process runs tasks only after _start_process"
    return _process_worker(task)


def plan_tasks(sources: Iterable[Source], workers: int, options: AnalysisOptions) -> list[Task]:
    """One task per file; with several workers and no annotated copies, one per frame range of a video.

    Args:
        sources: The files.
        workers: Processes that will run the tasks.
        options: How each file is analysed (its sampling decides where a video may be split).

    Returns:
        The tasks, a file's in frame order. A video that cannot be opened gets one task, which reports it. With
        tracking, a video is split only on frames with a scheduled full detection (multiples of the sampling step
        times ``options.full_every``), so that each part tracks its frames as the whole video would.
    """
    tasks = []
    for source in sources:
        ranges: list[tuple[int, int | None]] = [(0, None)]
        if source.kind == "video" and workers > 1 and options.annotate_dir is None:
            try:
                capture, info = open_video(source.path, video_limits(options))
                capture.release()
                step = sampling_step(info.fps, options.every, options.fps)
                ranges = frame_ranges(info.frames, workers, step * (options.full_every if options.tracking else 1))
            except VideoError:
                pass  # reported when the task runs
        tasks += [Task(source, start, stop) for start, stop in ranges]
    return tasks


def whole_files(results: Iterable[TaskResult], tasks: list[Task]) -> Iterator[FileResult]:
    """Gather the results of each file's tasks, which may come in any order, into one result per file.

    Args:
        results: The results of ``tasks``, as they finish.
        tasks: Every task (to know how many each file has).

    Yields:
        Each file's result as soon as all its tasks are done; a split video's track ids joined
        (``tracks.join_track_ids``).
    """
    expected: dict[Source, int] = {}
    for task in tasks:
        expected[task.source] = expected.get(task.source, 0) + 1
    parts: dict[Source, list[TaskResult]] = {}
    for result in results:
        source = result.task.source
        got = parts.setdefault(source, [])
        got.append(result)
        if len(got) == expected[source]:
            del parts[source]
            errors = [r.error for r in got if r.error]
            if errors:
                yield FileResult(source, [], errors[0])
            else:
                ordered = sorted(got, key=lambda r: r.task.start)
                yield FileResult(source, join_track_ids([r.records for r in ordered]))


@contextmanager
def task_results(
    tasks: list[Task], settings: RunSettings, recognizer: EmotionRecognizer
) -> Iterator[Iterator[TaskResult]]:
    """The results of ``tasks``, from this process with ``recognizer`` (one worker) or a pool of processes.

    Args:
        tasks: What to run.
        settings: The run's settings: ``workers`` and, for each pool process's recognizer, the model's.
        recognizer: This process's recognizer (for one worker).

    Yields:
        The results, in order for one worker, as they finish for several. The pool ends with the block.
    """
    if settings.workers == 1:
        yield map(Worker(recognizer, settings.analysis), tasks)
        return
    import multiprocessing

    pool = multiprocessing.get_context("spawn").Pool(settings.workers, _start_process, (settings,))
    try:
        yield pool.imap_unordered(_run_in_process, tasks)
    finally:
        pool.terminate()


class _Progress:
    """A progress bar on stderr, one step per file, with the session's frames and faces a second (or nothing)."""

    def __init__(self, total: int, show: bool):
        self.bar = None
        if show:
            from tqdm import tqdm

            self.bar = tqdm(total=total, unit="file", file=sys.stderr, dynamic_ncols=True)

    def update(self, totals: SessionTotals) -> None:
        if self.bar is not None:
            rate = f"{totals.frames_per_sec:.1f} frames/s, {totals.faces / max(totals.seconds, 1e-9):.1f} faces/s"
            self.bar.set_postfix_str(rate, refresh=False)
            self.bar.update(1)

    def close(self) -> None:
        if self.bar is not None:
            self.bar.close()


def run_local(settings: RunSettings, report: Report | None = None) -> RunSummary:
    """Analyse ``settings.paths`` into ``settings.output``, going on with the run there if it was stopped.

    Writes the records, a log entry per finished file (``<output>.progress.jsonl``), a timeline per video
    (``<output>.timelines/``), annotated copies if asked, and ``<output>.summary.json``.

    Args:
        settings: What to analyse, where, and how.
        report: Takes each message for the user: files skipped, a run resumed (default: none).

    Returns:
        The summary of the whole run, this session's files and earlier ones'.

    Raises:
        ValueError: for a wrong output name, sampling or count of workers or batch frames, or an existing
            output that is no run with these settings (without ``settings.overwrite``).
        FileNotFoundError: if ``settings.artifacts`` is not a fer-export directory.
        OutputError: if the output, its log, a timeline or the summary cannot be written (full disk, read-only
            folder); what was written is kept, and the same command goes on from there.
    """
    report = report or (lambda message: None)
    settings.check()
    fmt = output_format(settings.output)
    if settings.workers < 1 or settings.analysis.batch_frames < 1:
        raise ValueError("--workers and --batch-frames must be at least 1")
    settings = replace(settings, threads=settings.process_threads())
    log = RunLog(Path(settings.output))
    log.check(settings.resume_key(), settings.overwrite)  # before the model is loaded
    recognizer = settings.recognizer(settings.threads)
    class_names = recognizer.class_names
    tracking = settings.analysis.tracking
    header = ",".join(csv_header(class_names, tracking)) + "\n" if fmt == "csv" else ""
    done = log.start(settings.resume_key(), header, settings.overwrite)
    sources, missing = find_sources(list(settings.paths), settings.follow_links)
    todo = [s for s in sources if s.name not in done]
    for argument, reason in missing:
        report(f"skipped {argument}: {reason}")
    if done:
        report(f"resuming {log.output}: {len(done)} of {len(sources)} files already done")
    timelines = log.output.with_name(log.output.name + ".timelines")
    tasks = plan_tasks(todo, settings.workers, settings.analysis)
    started = time.perf_counter()
    totals = SessionTotals()
    progress = _Progress(len(todo), settings.progress)
    try:
        with task_results(tasks, settings, recognizer) as results:
            for file in whole_files(results, tasks):
                entry = _file_entry(file, class_names, timelines, report)
                log.finish(format_records(file.records, fmt, class_names, tracking), entry)
                totals.files += not file.error
                totals.frames += len(file.records)
                totals.faces += entry["faces"]
                totals.seconds = time.perf_counter() - started
                progress.update(totals)
    finally:
        progress.close()
    totals.seconds = time.perf_counter() - started
    summary = log.summarize(missing, totals)
    log.write_summary(summary)
    return summary


def _file_entry(file: FileResult, class_names: list[str], timelines: Path, report: Report) -> dict:
    """A finished file's log entry; for a video with records, its summary, and its timeline written."""
    entry = {
        "source": file.source.name,
        "kind": file.source.kind,
        "records": len(file.records),
        "faces": sum(len(r["faces"]) for r in file.records),
        "error": file.error,
    }
    if file.error:
        report(f"skipped {file.source.name}: {file.error}")
    elif file.source.kind == "video" and file.records:
        entry["summary"] = video_summary(file.records, class_names)
        name = file.source.name
        timeline = path_under(timelines, f"{name}.png")
        with writing(str(timeline)):
            plot_timeline(file.records, class_names, timeline, name)
    return entry
