"""``fer-analyze --runner beam``: the same analysis as an Apache Beam pipeline, classifying faces with RunInference.

Files -> find and cut out faces (a DoFn holding a recognizer per worker) -> RunInference over the faces with
``EmotionModelHandler`` (any backend of a fer-export directory, batched by Beam) -> faces regrouped with their
frame -> records, written as JSON lines or CSV (one file), and unreadable files with the reason beside them (a
video that breaks midway or goes over a limit is skipped whole, as the local runner skips it).
DirectRunner by default; any runner through Beam's own options (``--beam-runner FlinkRunner --flink_master ...``).
The output is claimed, written under temporary names and moved into place at the end (``beam_output``). Annotated
copies, timelines and resuming belong to the local runner.
"""

from __future__ import annotations

import json
import time
from collections.abc import Callable, Iterator, Sequence
from dataclasses import dataclass, field

import apache_beam as beam
import numpy as np
from apache_beam.ml.inference.base import KeyedModelHandler, ModelHandler, PredictionResult, RunInference
from apache_beam.options.pipeline_options import PipelineOptions

from serving_demo.analysis.beam_errors import beam_errors_not_logged, pipeline_error
from serving_demo.analysis.beam_output import BeamOutput
from serving_demo.analysis.settings import AnalysisOptions, RunSettings
from serving_demo.analysis.sources import Source, find_sources
from serving_demo.tracking import CLASSIFY_EVERY, FULL_EVERY

FACES, SKIPPED, REUSED = "faces", "skipped", "reused"


class EmotionModelHandler(ModelHandler[np.ndarray, np.ndarray, object]):
    """RunInference's handler for the project's classifiers: 48x48 uint8 gray faces in, class probabilities out.

    Args:
        artifacts_dir: A fer-export directory (default: the shipped model).
        backend: A backend of the artifact table (``tflite-int8``, ``saved_model``, ...).
        num_threads: CPU threads of a TFLite backend.
        max_batch_size: Most faces Beam hands over at once.
    """

    def __init__(
        self, artifacts_dir: str | None, backend: str, num_threads: int | None = None, max_batch_size: int = 64
    ):
        super().__init__(min_batch_size=1, max_batch_size=max_batch_size)
        self.artifacts_dir, self.backend, self.num_threads = artifacts_dir, backend, num_threads

    def load_model(self) -> object:
        """The backend's predictor, loaded once per worker.

        Returns:
            A ``fer_runtime.predictors`` predictor.

        Raises:
            FileNotFoundError, ValueError: if the artifacts or the backend cannot be loaded.
        """
        from fer_runtime.predictors import load_backend
        from model_zoo.pretrained import pretrained_artifacts_dir

        return load_backend(
            self.artifacts_dir or pretrained_artifacts_dir(), self.backend, num_threads=self.num_threads
        )

    def run_inference(
        self, batch: Sequence[np.ndarray], model: object, inference_args: dict | None = None
    ) -> Iterator[PredictionResult]:
        """Classify a batch of faces.

        Args:
            batch: 48x48 uint8 gray faces.
            model: The predictor (``load_model``).
            inference_args: Unused.

        Returns:
            Each face with its class probabilities.
        """
        probabilities = model.predict(np.stack(batch))
        return [PredictionResult(face, p) for face, p in zip(batch, probabilities)]

    def get_metrics_namespace(self) -> str:
        """The namespace of Beam's inference metrics: ``fer_emotion``."""
        return "fer_emotion"


class FindFaces(beam.DoFn):
    """For each file: per image or analysed frame, its frame record without faces yet (keyed by frame) on the main
    output, its faces to classify (keyed by frame and face) on ``faces``, or the file and reason on ``skipped``; in a
    tracked video, a face that keeps its track's latest probabilities (``tracking.ClassifySchedule``) goes on
    ``reused`` as ``(the key of the face it takes them from, its own key)``.

    Args:
        settings: ``{"artifacts", "backend", "detector", "every", "fps", "max_video_seconds", "max_frame_pixels",
            "tracking", "full_every", "classify_every"}`` (see ``run_beam``). With tracking, each video is tracked
            whole, in order, by the worker that reads it, and its frames' metadata carry the faces' track ids.
    """

    def __init__(self, settings: dict):
        self.settings = settings

    def setup(self) -> None:
        """Build this worker's recognizer (one thread: Beam runs workers side by side)."""
        from serving_demo.recognizer import EmotionRecognizer

        s = self.settings
        self.recognizer = EmotionRecognizer(s["artifacts"], backend=s["backend"], detector=s["detector"], num_threads=1)
        self.options = AnalysisOptions(
            every=s["every"], fps=s["fps"], max_video_seconds=s.get("max_video_seconds"),
            max_frame_pixels=s.get("max_frame_pixels"), tracking=s.get("tracking", False),
            full_every=s.get("full_every", FULL_EVERY), classify_every=s.get("classify_every", CLASSIFY_EVERY),
        )  # fmt: skip

    def process(self, source):  # no type hints: Beam would check its input and output against them
        """Find the faces of one file.

        Args:
            source: The file.

        Yields:
            ``(frame key, metadata)``, then ``TaggedOutput(FACES, ((frame key, face index), crop))`` per face to
            classify and ``TaggedOutput(REUSED, (earlier face's key, (frame key, face index)))`` per face that reuses
            an earlier classification; or ``TaggedOutput(SKIPPED, {"source", "error"})`` for a file that cannot be read.
        """
        from serving_demo.analysis.engine import READ_ERRORS, frames_of

        options = self.options
        stream = self.recognizer.stream(  # one per file, frames in order
            options.tracking, full_every=options.full_every, classify_every=options.classify_every
        )
        classified_at: dict[int, tuple[str, int]] = {}  # track id: the key of its latest classified face
        try:
            for frame, time_s, image in frames_of(source, options):
                if frame is None:  # an image
                    found = self.recognizer.find_faces(image)
                else:
                    found = stream.find_faces(image, "bgr")
                key = f"{source.name}|{frame}"
                boxes = [list(d.box.as_tuple()) for d in found.detections]
                track_ids = [getattr(d, "track_id", None) for d in found.detections]
                height, width = found.image.shape[:2]
                yield key, {"source": source.name, "frame": frame, "time_s": time_s, "width": width, "height": height,
                            "boxes": boxes, "track_ids": track_ids}  # fmt: skip
                crops = iter(found.crops)
                for i, track_id in enumerate(track_ids):
                    if found.reused and found.reused[i]:
                        yield beam.pvalue.TaggedOutput(REUSED, (classified_at[track_id], (key, i)))
                        continue
                    if track_id is not None:
                        classified_at[track_id] = (key, i)
                    yield beam.pvalue.TaggedOutput(FACES, ((key, i), next(crops)))
                if stream.schedule is not None:  # only the latest frame's tracks may be reused next
                    classified_at = {t: classified_at[t] for t in stream.schedule.track_ids if t in classified_at}
        except READ_ERRORS as e:
            yield beam.pvalue.TaggedOutput(SKIPPED, {"source": source.name, "error": str(e)})


def assemble(grouped, class_names: list[str]) -> dict:  # grouped without a hint: Beam would check it
    """The record of one frame from its metadata and its faces' probabilities (as the local runner writes it).

    Args:
        grouped: ``(frame key, {"meta": [metadata], "probs": [(face index, probabilities), ...]})``.
        class_names: The classifier's classes.

    Returns:
        The record (``records.make_record``).
    """
    from serving_demo.analysis.records import make_record
    from serving_demo.results import face_results

    _, parts = grouped
    meta = parts["meta"][0]
    probabilities = dict(parts["probs"])
    probs = [probabilities[i] for i in range(len(meta["boxes"]))]
    faces = face_results(meta["boxes"], probs, class_names, meta.get("track_ids"))
    return make_record(meta["source"], (meta["width"], meta["height"]), faces, meta["frame"], meta["time_s"])


def build_pipeline(
    pipeline: beam.Pipeline,
    sources: list[Source],
    settings: dict,
    class_names: list[str],
    output: str,
    write_to: tuple[str, str] | None = None,
) -> None:
    """Add the analysis of ``sources`` to ``pipeline``, writing records to ``output`` (``.jsonl`` or ``.csv``) and
    unreadable files to ``<output>.skipped.jsonl`` (or both where ``write_to`` says).

    Args:
        pipeline: The pipeline to add to.
        sources: The files (``find_sources``).
        settings: The workers' settings (see ``run_beam``).
        class_names: The classifier's classes.
        output: The records' file, whose extension gives the format.
        write_to: Where to write the records and the skipped files instead (``BeamOutput`` staging names).

    Raises:
        ValueError: if ``output`` does not end in ``.jsonl`` or ``.csv``.
    """
    from serving_demo.analysis.records import csv_header, format_records, output_format

    fmt = output_format(output)
    tracking = settings.get("tracking", False)
    records_path, skipped_path = write_to or (output, BeamOutput(output).skipped)
    found = (
        pipeline
        | "Files" >> beam.Create(sources)
        | "Find faces" >> beam.ParDo(FindFaces(settings)).with_outputs(FACES, SKIPPED, REUSED, main="meta")
    )
    handler = KeyedModelHandler(
        EmotionModelHandler(settings["artifacts"], settings["backend"], settings.get("threads"))
    )
    classified = (
        found[FACES]
        | "Classify" >> RunInference(handler)
        | "Probabilities" >> beam.MapTuple(lambda key, result: (key, result.inference))
    )
    lent = (  # each reused face gets the probabilities of the face it reuses
        {"probs": classified, "reusers": found[REUSED]}
        | "Join reused" >> beam.CoGroupByKey()
        | "Lend" >> beam.FlatMap(lambda item: [(face, item[1]["probs"][0]) for face in item[1]["reusers"]])
    )
    probs = (
        (classified, lent)
        | "Every face" >> beam.Flatten()
        | "By frame" >> beam.MapTuple(lambda key, p: (key[0], (key[1], p)))
    )
    unreadable = found[SKIPPED] | "Unreadable" >> beam.Map(lambda skipped: (skipped["source"], skipped["error"]))
    records = (
        {"meta": found.meta, "probs": probs}
        | "Regroup" >> beam.CoGroupByKey()
        | "Records" >> beam.Map(assemble, class_names)
        | "Whole files only" >> beam.Filter(lambda r, bad: r["source"] not in bad, beam.pvalue.AsDict(unreadable))
    )
    header = ",".join(csv_header(class_names, tracking)) if fmt == "csv" else None
    (
        records
        | "Format" >> beam.Map(lambda r: format_records([r], fmt, class_names, tracking).rstrip("\n"))
        | "Drop empty" >> beam.Filter(bool)  # a CSV row per face: frames without faces give none
        | "Write" >> beam.io.WriteToText(records_path, shard_name_template="", num_shards=1, header=header)
    )
    (
        found[SKIPPED]
        | "Format skipped" >> beam.Map(json.dumps)
        | "Write skipped" >> beam.io.WriteToText(skipped_path, shard_name_template="", num_shards=1)
    )


def run_beam(
    sources: list[Source],
    settings: dict,
    class_names: list[str],
    output: str,
    beam_args: list[str],
    write_to: tuple[str, str] | None = None,
) -> None:
    """Run the pipeline to the end with the runner and options in ``beam_args`` (default: DirectRunner).

    Args:
        sources: The files (``find_sources``).
        settings: ``{"artifacts", "backend", "detector", "every", "fps", "threads", "max_video_seconds",
            "max_frame_pixels", "tracking", "full_every", "classify_every"}`` for the workers.
        class_names: The classifier's classes.
        output: The records' file, ``.jsonl`` or ``.csv`` (any Beam file system).
        beam_args: Beam's pipeline options (``--runner FlinkRunner``, ...).
        write_to: Where to write the records and the skipped files instead (see ``build_pipeline``).
    """
    options = PipelineOptions(beam_args)
    with beam.Pipeline(options=options) as pipeline:
        build_pipeline(pipeline, sources, settings, class_names, output, write_to)


@dataclass(frozen=True)
class BeamRunSummary:
    """What a Beam run did.

    Attributes:
        runner: The Beam runner.
        output: The records' file.
        files: Files found.
        unreadable: Files among them the pipeline could not read (``<output>.skipped.jsonl``).
        missing: ``(argument, reason)`` for arguments that named no file and links not followed.
        seconds: How long the pipeline took.
    """

    runner: str
    output: str
    files: int
    unreadable: int
    missing: list[tuple[str, str]] = field(default_factory=list)
    seconds: float = 0.0

    @property
    def analysed(self) -> int:
        """Files read."""
        return self.files - self.unreadable

    @property
    def skipped(self) -> int:
        """Files that could not be read and arguments that named no file."""
        return self.unreadable + len(self.missing)


def analyze_with_beam(
    settings: RunSettings,
    runner: str = "DirectRunner",
    beam_args: Sequence[str] = (),
    report: Callable[[str], None] | None = None,
) -> BeamRunSummary:
    """``fer-analyze --runner beam``: check the settings and the output, list the files here, run the pipeline to
    the end, and move its files into place.

    An existing output is replaced only if this command wrote it (or with ``settings.overwrite``): the same rule
    and message as the local runner's (``outputs.check_owner``).

    Args:
        settings: What to analyse and where (``workers`` and ``progress`` are the local runner's).
        runner: The Beam runner.
        beam_args: More of Beam's pipeline options (``--flink_master HOST:8081``, ...).
        report: Takes each message for the user: arguments that name no file, links not followed (default: none).

    Returns:
        What the run did.

    Raises:
        ValueError: for a wrong output name or sampling, an option of the local runner, or an output that is
            another run's or nobody's (without ``settings.overwrite``).
        FileNotFoundError: if ``settings.artifacts`` is not a fer-export directory.
        OutputError: if the output cannot be written (full disk, read-only folder); the output is left as it was.
    """
    settings.check_beam()
    settings.check()
    out = BeamOutput(settings.output)
    key = settings.resume_key("beam")
    out.check(key, settings.overwrite)  # before the model is loaded
    class_names = settings.recognizer().class_names
    sources, missing = find_sources(list(settings.paths), settings.follow_links)
    for argument, reason in missing:
        if report is not None:
            report(f"skipped {argument}: {reason}")
    analysis = settings.analysis
    worker_settings = {
        "artifacts": settings.artifacts, "backend": settings.backend, "detector": settings.detector,
        "every": analysis.every, "fps": analysis.fps, "threads": settings.threads,
        "max_video_seconds": analysis.max_video_seconds, "max_frame_pixels": analysis.max_frame_pixels,
        "tracking": analysis.tracking, "full_every": analysis.full_every, "classify_every": analysis.classify_every,
    }  # fmt: skip
    started = time.perf_counter()
    out.start(key, settings.overwrite)
    staged = (out.staging(out.output), out.staging(out.skipped))
    try:
        with beam_errors_not_logged():
            run_beam(sources, worker_settings, class_names, settings.output, ["--runner", runner, *beam_args], staged)
    except Exception as e:
        out.discard()
        raise pipeline_error(e, settings.output) from e
    out.publish()
    unreadable = len(out.read_skipped())
    return BeamRunSummary(runner, settings.output, len(sources), unreadable, missing, time.perf_counter() - started)
