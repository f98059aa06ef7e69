"""``fer-analyze --runner beam``: the same analysis as an Apache Beam pipeline, classifying faces with RunInference.

Files -> find and cut out faces (a DoFn holding a recognizer per worker) -> RunInference over the faces with
``EmotionModelHandler`` (any backend of a fer-export directory, batched by Beam) -> faces regrouped with their
frame -> records, written as JSON lines or CSV (one file), and unreadable files with the reason beside them.
DirectRunner by default; any runner through Beam's own options (``--beam-runner FlinkRunner --flink_master ...``).
Annotated copies, timelines and resuming belong to the local runner.
"""

from __future__ import annotations

import json
from collections.abc import Iterator, Sequence

import apache_beam as beam
import numpy as np
from apache_beam.ml.inference.base import KeyedModelHandler, ModelHandler, PredictionResult, RunInference
from apache_beam.options.pipeline_options import PipelineOptions

FACES, SKIPPED = "faces", "skipped"


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

    def load_model(self):
        from fer_runtime.predictors import load_backend
        from model_zoo.pretrained import pretrained_artifacts_dir

        return load_backend(
            self.artifacts_dir or pretrained_artifacts_dir(), self.backend, num_threads=self.num_threads
        )

    def run_inference(self, batch: Sequence[np.ndarray], model, inference_args=None) -> Iterator[PredictionResult]:
        probabilities = model.predict(np.stack(batch))
        return [PredictionResult(face, p) for face, p in zip(batch, probabilities)]

    def get_metrics_namespace(self) -> str:
        return "fer_emotion"


class FindFaces(beam.DoFn):
    """For each file: per image or analysed frame, its frame record without faces yet (keyed by frame) on the main
    output, its faces (keyed by frame and face) on ``faces``, or the file and reason on ``skipped``."""

    def __init__(self, settings: dict):
        self.settings = settings

    def setup(self):
        from serving_demo.recognizer import EmotionRecognizer

        s = self.settings
        self.recognizer = EmotionRecognizer(s["artifacts"], backend=s["backend"], detector=s["detector"], num_threads=1)

    def process(self, source):
        from serving_demo.analysis.engine import READ_ERRORS, frames_of

        try:
            for frame, time_s, image in frames_of(source, self.settings["every"], self.settings["fps"]):
                found = self.recognizer.find_faces(image, "bgr" if frame is not None else "rgb")
                key = f"{source.name}|{frame}"
                boxes = [list(d.box.as_tuple()) for d in found.detections]
                height, width = found.image.shape[:2]
                yield key, {"source": source.name, "frame": frame, "time_s": time_s, "width": width, "height": height,
                            "boxes": boxes}  # fmt: skip
                for i, crop in enumerate(found.crops):
                    yield beam.pvalue.TaggedOutput(FACES, ((key, i), crop))
        except READ_ERRORS as e:
            yield beam.pvalue.TaggedOutput(SKIPPED, {"source": source.name, "error": str(e)})


def assemble(grouped, class_names: list[str]) -> dict:
    """The record of one frame from its metadata and its faces' probabilities (as the local runner writes it)."""
    from serving_demo.analysis.records import make_record
    from serving_demo.recognizer import face_results

    _, parts = grouped
    meta = parts["meta"][0]
    probabilities = dict(parts["probs"])
    faces = face_results(meta["boxes"], [probabilities[i] for i in range(len(meta["boxes"]))], class_names)
    return make_record(meta["source"], (meta["width"], meta["height"]), faces, meta["frame"], meta["time_s"])


def build_pipeline(pipeline: beam.Pipeline, sources: list, settings: dict, class_names: list[str], output: str):
    """Add the analysis of ``sources`` to ``pipeline``, writing records to ``output`` (``.jsonl`` or ``.csv``) and
    unreadable files to ``<output>.skipped.jsonl``."""
    from serving_demo.analysis.records import csv_header, format_records, output_format

    fmt = output_format(output)
    found = (
        pipeline
        | "Files" >> beam.Create(sources)
        | "Find faces" >> beam.ParDo(FindFaces(settings)).with_outputs(FACES, SKIPPED, main="meta")
    )
    handler = KeyedModelHandler(
        EmotionModelHandler(settings["artifacts"], settings["backend"], settings.get("threads"))
    )
    probs = (
        found[FACES]
        | "Classify" >> RunInference(handler)
        | "By frame" >> beam.MapTuple(lambda key, result: (key[0], (key[1], result.inference)))
    )
    records = (
        {"meta": found.meta, "probs": probs}
        | "Regroup" >> beam.CoGroupByKey()
        | "Records" >> beam.Map(assemble, class_names)
    )
    header = ",".join(csv_header(class_names)) if fmt == "csv" else None
    (
        records
        | "Format" >> beam.Map(lambda r: format_records([r], fmt, class_names).rstrip("\n"))
        | "Drop empty" >> beam.Filter(bool)  # a CSV row per face: frames without faces give none
        | "Write" >> beam.io.WriteToText(output, shard_name_template="", num_shards=1, header=header)
    )
    (
        found[SKIPPED]
        | "Format skipped" >> beam.Map(json.dumps)
        | "Write skipped" >> beam.io.WriteToText(output + ".skipped.jsonl", shard_name_template="", num_shards=1)
    )


def run_beam(sources: list, settings: dict, class_names: list[str], output: str, beam_args: list[str]) -> None:
    """Run the pipeline to the end with the runner and options in ``beam_args`` (default: DirectRunner)."""
    options = PipelineOptions(beam_args)
    with beam.Pipeline(options=options) as pipeline:
        build_pipeline(pipeline, sources, settings, class_names, output)
