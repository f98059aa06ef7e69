"""What each pipeline stage returns: one frozen dataclass per stage, JSON at the KFP boundary.

KFP passes every stage's result to the next components as JSON text (``stages.run_stage``): ``to_dict`` and
``from_dict`` convert at that boundary, and at the stage cache's (``stage_cache.cached_stage`` stores a stage's
computed fields in ``result.json``; its field names are those of the classes here, so results of earlier runs
still read back). Inside the pipeline, stages pass these objects to each other.

    DataResult -> TrainResult -> ExportResult -> EvaluationResult (ModelEvaluation x3, BlessingDecision)
      -> BenchResult -> CardResult -> PushResult -> LineageResult

The card, push and lineage stages read the first five together, as one ``CandidateResults``.
"""

from __future__ import annotations

import dataclasses
import typing
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any, Self


@dataclass(frozen=True, kw_only=True)
class JsonRecord:
    """A frozen dataclass that converts to and from a JSON-ready dict (nested records become nested dicts)."""

    def to_dict(self) -> dict[str, Any]:
        """The fields as a JSON-ready dict, nested records as dicts."""
        return dataclasses.asdict(self)

    @classmethod
    def from_dict(cls, values: Mapping[str, Any]) -> Self:
        """The record in ``values`` (from ``to_dict``, or a stage's ``result.json``).

        Args:
            values: Field name -> value; a field whose type is a record may be given as its dict.

        Returns:
            The record.

        Raises:
            ValueError: on a name that is no field of the record.
            TypeError: if a field without a default is missing.
        """
        types = typing.get_type_hints(cls)
        known = {field.name for field in dataclasses.fields(cls)}
        unknown = sorted(set(values) - known)
        if unknown:
            raise ValueError(f"{cls.__name__} has no field(s) {unknown}; its fields: {sorted(known)}")
        return cls(**{name: _field_value(types[name], value) for name, value in values.items()})

    def field_values(self) -> dict[str, Any]:
        """The fields by name, their values as they are (nested records stay records)."""
        return {field.name: getattr(self, field.name) for field in dataclasses.fields(self)}


def _field_value(field_type: Any, value: Any) -> Any:
    """``value`` as a field of type ``field_type``: a dict given for a record field becomes that record."""
    if isinstance(field_type, type) and issubclass(field_type, JsonRecord) and isinstance(value, Mapping):
        return field_type.from_dict(value)
    return value


@dataclass(frozen=True, kw_only=True)
class CachedResult(JsonRecord):
    """What ``stage_cache.cached_stage`` adds to a stage's computed fields.

    Attributes:
        stage_dir: The stage directory, ``ROOT/stages/<stage>/<key>/``.
        key: The fingerprint of the stage's inputs.
        seconds: How long computing it took (in the run that computed it).
        code: The code version that computed it (``pipeline.lineage.code_version``).
        reused: True when read from an earlier run.
    """

    stage_dir: str
    key: str
    seconds: float
    code: dict[str, Any]
    reused: bool = False

    def provenance(self) -> dict[str, Any]:
        """``key``, ``reused`` and ``seconds``: what the lineage records of a cached stage."""
        return {"key": self.key, "reused": self.reused, "seconds": self.seconds}


# --- data -------------------------------------------------------------------------------------------------------


@dataclass(frozen=True, kw_only=True)
class DataStatistics(CachedResult):
    """The data stage's cached part: the prepared data's statistics.

    Attributes:
        fingerprint: Of the prepared faces and labels.
        splits: Faces per split.
        statistics: Path of ``data_statistics.json``.
        source: The file or directory the data were read from.
    """

    fingerprint: str
    splits: dict[str, int]
    statistics: str
    source: str


@dataclass(frozen=True, kw_only=True)
class DataCheck(JsonRecord):
    """The data stage's check, run every time: the anomalies against the schema and the last pushed statistics.

    Attributes:
        report: Path of the markdown report.
        anomalies: ``Anomaly`` fields (``kind``, ``split``, ``detail``, ``severity``), one dict per finding.
        previous: Path of the statistics compared with, or None.
        seconds: How long the check took (None until it is done).
    """

    report: str
    anomalies: list[dict[str, Any]]
    previous: str | None
    seconds: float | None = None


@dataclass(frozen=True, kw_only=True)
class DataResult(DataStatistics):
    """The data stage's result: its statistics (their ``seconds``) and their check."""

    report: str
    anomalies: list[dict[str, Any]]
    previous: str | None

    @classmethod
    def from_parts(cls, statistics: DataStatistics, check: DataCheck) -> DataResult:
        """The data stage's result from its two steps.

        Args:
            statistics: The cached statistics (their ``seconds`` stay the stage's).
            check: Their check.

        Returns:
            The statistics with their check's ``report``, ``anomalies`` and ``previous``.
        """
        return cls(**statistics.field_values(), report=check.report, anomalies=check.anomalies, previous=check.previous)

    def evaluation_split(self) -> str:
        """The split models are compared on: test, or validation when the data have no test split."""
        return "test" if "test" in self.splits else "validation"


# --- train and export -------------------------------------------------------------------------------------------


@dataclass(frozen=True, kw_only=True)
class TrainResult(CachedResult):
    """The train stage's result.

    Attributes:
        run_dir: The training's run directory.
        model: The checkpoint chosen.
        model_sha256: Its hash.
        config: The resolved training configuration (``config.json``).
        metrics: Split -> ``{"accuracy", "n"}`` of the chosen checkpoint.
    """

    run_dir: str
    model: str
    model_sha256: str
    config: dict[str, Any]
    metrics: dict[str, dict[str, Any]]


@dataclass(frozen=True, kw_only=True)
class ExportResult(CachedResult):
    """The export stage's result.

    Attributes:
        export_dir: The ``fer-export`` directory.
        model_sha256: Of its ``model.keras``: what identifies a pushed model.
        parity: Backend -> whether it passed the parity gate.
    """

    export_dir: str
    model_sha256: str
    parity: dict[str, bool]


# --- evaluate and bless -----------------------------------------------------------------------------------------


@dataclass(frozen=True, kw_only=True)
class ModelEvaluation(CachedResult):
    """One model's evaluation (cached by the file's hash, so the baseline may reuse the candidate's).

    Attributes:
        metrics: ``pipeline.metrics.classification_metrics`` over the classes the models compared share with the
            labels (its ``per_class`` names them), on the faces labelled with one of them.
        split: The split evaluated on.
        backend: The backend evaluated.
        model_dir: The directory the model was read from.
        model_classes: The model's own classes (its ``labels.txt``), in output order.
    """

    metrics: dict[str, Any]
    split: str
    backend: str
    model_dir: str
    model_classes: list[str]


@dataclass(frozen=True, kw_only=True)
class BlessingDecision(JsonRecord):
    """``pipeline.blessing.Blessing.to_dict()`` with the baseline it was measured against (``blessing.json``).

    Attributes:
        blessed: Whether the candidate may be pushed.
        reasons: Every bar it missed (empty when blessed).
        candidate, baseline: Summaries of the metrics compared.
        thresholds: The bars.
        baseline_model: ``{"path", "chosen_as"}`` of the baseline.
    """

    blessed: bool
    reasons: list[str]
    candidate: dict[str, Any]
    baseline: dict[str, Any] | None
    thresholds: dict[str, float]
    baseline_model: dict[str, str]


@dataclass(frozen=True, kw_only=True)
class EvaluationResult(JsonRecord):
    """The evaluate stage's result: the candidate (Keras and int8) and the baseline on the same faces, and the
    blessing.

    Attributes:
        candidate, candidate_int8, baseline: The evaluations.
        baseline_source: How the baseline was chosen.
        blessing: The decision.
    """

    candidate: ModelEvaluation
    candidate_int8: ModelEvaluation
    baseline: ModelEvaluation
    baseline_source: str
    blessing: BlessingDecision


# --- benchmark, card, push, lineage -----------------------------------------------------------------------------


@dataclass(frozen=True, kw_only=True)
class BenchResult(CachedResult):
    """The bench stage's result.

    Attributes:
        results: One ``fer-bench`` row per backend.
        json, table, plot: Paths of the rows as JSON, as a text table and as a figure.
    """

    results: list[dict[str, Any]]
    json: str
    table: str
    plot: str


@dataclass(frozen=True, kw_only=True)
class CardResult(JsonRecord):
    """The card stage's result.

    Attributes:
        card: The markdown's path.
        files: File name -> path of the card and of every figure it shows.
        seconds: How long writing it took (None until it is done).
    """

    card: str
    files: dict[str, str]
    seconds: float | None = None


@dataclass(frozen=True, kw_only=True)
class PushResult(JsonRecord):
    """The push stage's result.

    Attributes:
        pushed: True when this run added a version.
        version, path: The version holding the candidate, or None.
        reason: Why nothing was pushed (None when pushed).
        seconds: How long the step took (None until it is done).
    """

    pushed: bool
    version: int | None
    path: str | None
    reason: str | None
    seconds: float | None = None


@dataclass(frozen=True, kw_only=True)
class LineageResult(JsonRecord):
    """The lineage stage's result: the pipeline's result (what ``fer-pipeline`` reports).

    Attributes:
        lineage: The path of ``lineage.json``.
        blessed: Whether the candidate was blessed.
        pushed, version, reason: As ``PushResult``.
        seconds: How long the step took (None until it is done).
    """

    lineage: str
    blessed: bool
    pushed: bool
    version: int | None
    reason: str | None
    seconds: float | None = None


@dataclass(frozen=True, kw_only=True)
class CandidateResults(JsonRecord):
    """The results of the stages that make and measure the candidate: what its card, push and lineage read."""

    data: DataResult
    train: TrainResult
    export: ExportResult
    evaluation: EvaluationResult
    bench: BenchResult


#: The record of each stage's result, by the name stages take it under (``stages.run_stage``'s ``upstream``).
UPSTREAM_TYPES: dict[str, type[JsonRecord]] = {
    "data": DataResult,
    "train": TrainResult,
    "export": ExportResult,
    "evaluation": EvaluationResult,
    "bench": BenchResult,
    "candidate": CandidateResults,
    "card": CardResult,
    "push": PushResult,
}
