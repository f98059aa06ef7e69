"""One function per pipeline stage: what each KFP component runs, calling the project's library.

Every stage takes the run's settings (``PipelineSettings.to_dict()``), its run id and the results of the stages it
depends on (JSON-ready dicts), and returns its own. The expensive part of a stage runs in a stage directory keyed by
its inputs (``stage_cache.cached_stage``): statistics, training, export, evaluations, benchmark. The decisions that
depend on what else exists (anomalies against the last push, blessing against the baseline, card, push, lineage) run
every time and are cheap.

    data -> train -> export -> evaluate (+ bless) -> bench -> card -> push -> lineage

The candidate is evaluated as exported (after the optional BatchNorm recalibration), so the blessed figures are
those of the files that get pushed.
"""

from __future__ import annotations

import functools
import json
import logging
from collections.abc import Callable
from pathlib import Path

from export.push import latest_pushed, pushed_name, pushed_versions
from export.push import push as push_version
from orchestration.model_card import CARD_FILE, write_model_card
from orchestration.settings import SEARCH_TAKES, PipelineSettings
from orchestration.stage_cache import (
    cached_stage,
    read_progress,
    record_progress,
    run_dir,
    uncached_stage,
)
from pipeline.atomic_files import write_text_atomic
from pipeline.config import RESUMABLE_CHANGES, TrainConfig
from pipeline.lineage import LINEAGE_FILE, file_sha256

log = logging.getLogger("fer-pipeline")

STATISTICS_FILE = "data_statistics.json"
MANIFEST_FILE = "manifest.json"  # fer-export's list of its files, in the export's layout
BLESSING_FILE = "blessing.json"


# Raised when a stage's code changes what it computes: its earlier results are then not reused.
STAGE_VERSIONS = {"data": 1, "train": 1, "export": 1, "evaluation": 1, "bench": 1}


class StageError(RuntimeError):
    """A stage decided that the run must stop (data anomalies, a failed parity gate); the message says where the
    report is and what to do."""


def _settings(settings: dict) -> tuple[PipelineSettings, TrainConfig]:
    s = PipelineSettings.from_dict(settings)
    return s, s.check()


def _write_json(path: Path, value: dict) -> Path:
    path.parent.mkdir(parents=True, exist_ok=True)
    write_text_atomic(path, json.dumps(value, indent=2, default=str))
    return path


# --- data -------------------------------------------------------------------------------------------------------


def data_stage(settings: dict, run_id: str) -> dict:
    """Prepare the dataset, compute its statistics (cached by the source's fingerprint) and check them.

    The anomaly check runs every time: against ``settings``' schema and the statistics pushed with the latest version.

    Returns:
        ``fingerprint`` (of the prepared faces and labels), ``splits`` (faces per split), ``statistics`` (path),
        ``report`` (markdown path), ``anomalies`` and ``previous`` (the statistics compared with, or None).

    Raises:
        StageError: on anomalies of severity error, unless ``allow_anomalies``.
        MissingDataError, BadRowError: from the dataset.
    """
    from pipeline.data_validation import find_anomalies, split_statistics, write_report
    from pipeline.fer2013_dataset import load_fer2013
    from pipeline.fer2013_sources import find_source
    from pipeline.input_pipeline import dataset_to_arrays

    s, config = _settings(settings)

    def compute(directory: Path) -> dict:
        fer = load_fer2013(config.data, config.data_dir, config.skip_bad_rows)
        statistics = split_statistics({name: dataset_to_arrays(ds) for name, ds in fer.splits.items()})
        _write_json(directory / STATISTICS_FILE, statistics)
        return {
            "fingerprint": statistics["fingerprint"],
            "splits": {name: v["faces"] for name, v in statistics["splits"].items()},
            "statistics": str(directory / STATISTICS_FILE),
            "source": str(fer.source),
        }

    inputs = {
        "source": find_source(config.data).fingerprint(),
        "skip_bad_rows": config.skip_bad_rows,
    }
    result = cached_stage(
        s.root,
        run_id,
        "data",
        inputs,
        compute,
        lambda r: f"{sum(r['splits'].values())} faces {r['splits']}",
        version=STAGE_VERSIONS["data"],
    )

    def check() -> dict:
        statistics = json.loads(Path(result["statistics"]).read_text())
        latest = latest_pushed(s.push_dir)
        previous_path = latest / STATISTICS_FILE if latest and (latest / STATISTICS_FILE).exists() else None
        previous = json.loads(previous_path.read_text()) if previous_path else None
        anomalies = find_anomalies(statistics, s.schema(), previous)
        _, report = write_report(statistics, anomalies, run_dir(s.root, run_id) / "data")
        errors = [a for a in anomalies if a.severity == "error"]
        if errors and not s.allow_anomalies:
            listed = "; ".join(f"{a.kind} ({a.split}): {a.detail}" for a in errors)
            raise StageError(
                f"{len(errors)} data anomal{'y' if len(errors) == 1 else 'ies'} stop the run: {listed}. "
                f"Report: {report}. Fix the data, change the schema's limits, or pass --allow-anomalies."
            )
        return {
            "report": str(report),
            "anomalies": [vars(a) for a in anomalies],
            "previous": str(previous_path) if previous_path else None,
        }

    checked = uncached_stage(
        s.root, run_id, "data-check", check, lambda r: f"{len(r['anomalies'])} finding(s), report {r['report']}"
    )
    checked.pop("seconds")  # the statistics' seconds stay the stage's
    return {**result, **checked}


# --- train ------------------------------------------------------------------------------------------------------


def train_stage(settings: dict, run_id: str, data: dict) -> dict:
    """Train the preset with its overrides through ``fer-train``'s recipe (after a Keras Tuner search if asked).

    The run directory lives in the stage directory: a killed training resumes there on the next run.

    Returns:
        ``run_dir``, ``model`` (the checkpoint chosen), ``model_sha256``, ``config`` (resolved) and ``metrics``.
    """
    s, config = _settings(settings)
    tuning = {"tuner": s.tuner, "trials": s.tuner_trials, "epochs": s.tuner_epochs} if s.tuner is not None else None

    def compute(directory: Path) -> dict:
        from export.exporter import resolve_model_path
        from pipeline.train import train

        run = directory / "run"
        if tuning:
            from pipeline.tuning.search import retrain_best, run_search
            from pipeline.tuning.search_config import SearchConfig

            # The search takes these training settings as they are; epochs is a trial's (the retraining's is below).
            taken = {name: getattr(config, name) for name in SEARCH_TAKES if name != "epochs"}
            search = SearchConfig(
                **taken, preset=s.preset, tuner=s.tuner, max_trials=s.tuner_trials, epochs=s.tuner_epochs
            )
            run_search(search, directory / "search")
            metrics = retrain_best(directory / "search", run, epochs=config.epochs, verbose=config.verbose)
        else:
            metrics = train(config, run)
        model, _ = resolve_model_path(run)
        return {
            "run_dir": str(run),
            "model": str(model),
            "model_sha256": file_sha256(model),
            "config": json.loads((run / "config.json").read_text()),
            "metrics": {split: {"accuracy": m["accuracy"], "n": m["n"]} for split, m in metrics["splits"].items()},
        }

    # What a resumed run may change (the log, the prepared-data cache) changes the model no more than the key.
    recipe = {k: v for k, v in config.to_dict().items() if k not in RESUMABLE_CHANGES}
    inputs = {"config": recipe, "data": data["fingerprint"], "tuning": tuning}

    def summary(r: dict) -> str:
        return ", ".join(f"{split} accuracy {m['accuracy']:.4f}" for split, m in r["metrics"].items())

    return cached_stage(s.root, run_id, "train", inputs, compute, summary, version=STAGE_VERSIONS["train"])


# --- export -----------------------------------------------------------------------------------------------------


def export_stage(settings: dict, run_id: str, data: dict, train: dict) -> dict:
    """Export the trained model (SavedModel, .keras, four TFLite files) behind the parity gate.

    Returns:
        ``export_dir``, ``model_sha256`` (of the exported ``model.keras``: what identifies a pushed model) and
        ``parity`` (the report's verdict per backend).

    Raises:
        StageError: if an artifact fails the parity gate (the report stays in the stage directory).
    """
    s, config = _settings(settings)

    def compute(directory: Path) -> dict:
        from export.exporter import export_all, export_metadata, load_export_data
        from export.parity import format_parity_report

        faces = load_export_data(
            config.data,
            config.data_dir,
            s.parity_examples,
            s.representative_examples,
            s.recalibrate_batchnorm_faces,
            seed=config.seed,
            skip_bad_rows=config.skip_bad_rows,
        )
        out = directory / "export"
        result = export_all(
            train["model"],
            out,
            faces.parity_images,
            faces.parity_labels,
            faces.representative_images,
            overwrite=True,
            recalibration_images=faces.recalibration_images,
            extra_metadata=export_metadata(train["model"], config.data, faces, train["config"])
            | {"data_fingerprint": data["fingerprint"]},
        )
        if not result.passed:
            (directory / "parity_report.txt").write_text(format_parity_report(result.report))
            raise StageError(
                f"The parity gate failed:\n{format_parity_report(result.report)}\n"
                f"Report: {out / 'parity_report.json'}. Nothing is pushed from this run."
            )
        return {
            "export_dir": str(out),
            "model_sha256": file_sha256(out / "model.keras"),
            "parity": {name: r["passed"] for name, r in result.report["artifacts"].items()},
        }

    inputs = {
        "model": train["model_sha256"],
        "data": data["fingerprint"],
        "recalibrate_batchnorm_faces": s.recalibrate_batchnorm_faces,
        "parity_examples": s.parity_examples,
        "representative_examples": s.representative_examples,
        "seed": config.seed,
    }
    return cached_stage(
        s.root,
        run_id,
        "export",
        inputs,
        compute,
        lambda r: f"parity passed, {r['export_dir']}",
        version=STAGE_VERSIONS["export"],
    )


# --- evaluate and bless -----------------------------------------------------------------------------------------


def evaluation_split(data: dict) -> str:
    """The split models are compared on: test, or validation when the data have no test split."""
    return "test" if "test" in data["splits"] else "validation"


def _evaluation_faces(config: TrainConfig, split: str) -> Callable[[], tuple]:
    """A loader of the faces and labels models are compared on, which reads them once, when first asked."""

    @functools.cache
    def faces() -> tuple:
        from pipeline.fer2013_dataset import load_fer2013
        from pipeline.input_pipeline import dataset_to_arrays

        fer = load_fer2013(config.data, config.data_dir, config.skip_bad_rows)
        fer.split(split)  # a KeyError naming the splits present, if it is missing
        return dataset_to_arrays(fer.limited(config.max_train_examples, config.max_eval_examples)[split])

    return faces


def _evaluate(
    s: PipelineSettings,
    config: TrainConfig,
    run_id: str,
    data: dict,
    model_dir: Path,
    backend: str,
    label: str,
    faces: Callable[[], tuple],
) -> dict:
    """Classification metrics of ``backend`` of ``model_dir`` on ``faces()``, cached by the file's hash."""
    from model_zoo.artifacts import artifact_path

    path = artifact_path(model_dir, backend)
    if not path.is_file():
        raise FileNotFoundError(f"{model_dir} has no {path.name}: it is not a fer-export directory or pushed version")
    split = evaluation_split(data)

    def compute(directory: Path) -> dict:
        from fer_runtime.predictors import load_backend
        from pipeline.evaluate import evaluate_arrays

        images, labels = faces()
        metrics = evaluate_arrays(load_backend(model_dir, backend), images, labels)
        return {"metrics": metrics, "split": split, "backend": backend}

    inputs = {
        "model": file_sha256(path),
        "backend": backend,
        "data": data["fingerprint"],
        "split": split,
        "limit": config.max_eval_examples,
    }
    result = cached_stage(
        s.root,
        run_id,
        "evaluation",
        inputs,
        compute,
        lambda r: f"{label}: {r['backend']} accuracy {r['metrics']['accuracy']:.4f} on {r['split']}",
        progress_name=f"evaluate-{label}",
        version=STAGE_VERSIONS["evaluation"],
    )
    return {**result, "model_dir": str(model_dir)}


def resolve_baseline(s: PipelineSettings) -> tuple[Path, str]:
    """The model the candidate is compared with and how it was chosen: ``--baseline``, else the latest pushed
    version, else the shipped model."""
    from model_zoo.pretrained import pretrained_artifacts_dir

    if s.baseline:
        return Path(s.baseline), "the model given with --baseline"
    latest = latest_pushed(s.push_dir)
    if latest is not None:
        return latest, f"the latest pushed version ({latest.name})"
    return pretrained_artifacts_dir(), "the shipped model"


def evaluate_stage(settings: dict, run_id: str, data: dict, export: dict) -> dict:
    """Evaluate the exported candidate (Keras and int8) and the baseline on the same faces, then bless or not.

    Returns:
        ``candidate``, ``candidate_int8`` and ``baseline`` (evaluation results with ``metrics``), ``baseline_source``
        and ``blessing`` (``Blessing.to_dict()``: ``blessed`` and the ``reasons`` it was not).
    """
    from pipeline.blessing import bless

    s, config = _settings(settings)
    export_dir = Path(export["export_dir"])
    faces = _evaluation_faces(config, evaluation_split(data))  # read once, if any evaluation is not cached
    candidate = _evaluate(s, config, run_id, data, export_dir, "keras", "candidate", faces)
    candidate_int8 = _evaluate(s, config, run_id, data, export_dir, "tflite-int8", "candidate-int8", faces)
    baseline_dir, how = resolve_baseline(s)
    baseline = _evaluate(s, config, run_id, data, baseline_dir, "keras", "baseline", faces)

    def decide() -> dict:
        blessing = bless(candidate["metrics"], baseline["metrics"], s.blessing_thresholds()).to_dict()
        blessing["baseline_model"] = {"path": str(baseline_dir), "chosen_as": how}
        _write_json(run_dir(s.root, run_id) / BLESSING_FILE, blessing)
        return {"blessing": blessing}

    def summary(r: dict) -> str:
        b = r["blessing"]
        return "blessed" if b["blessed"] else "not blessed: " + "; ".join(b["reasons"])

    decided = uncached_stage(s.root, run_id, "bless", decide, summary)
    return {
        "candidate": candidate,
        "candidate_int8": candidate_int8,
        "baseline": baseline,
        "baseline_source": how,
        "blessing": decided["blessing"],
    }


# --- benchmark --------------------------------------------------------------------------------------------------


def bench_stage(settings: dict, run_id: str, data: dict, export: dict) -> dict:
    """``fer-bench`` on the export: latency, throughput, size, memory and accuracy of each backend.

    Returns:
        ``results`` (one row per backend), ``json``, ``table`` and ``plot`` (paths).
    """
    s, config = _settings(settings)

    def compute(directory: Path) -> dict:
        from export.bench import format_table, load_bench_inputs, plot_results, run_bench

        faces, labels = load_bench_inputs(
            config.data, evaluation_split(data), s.bench_faces, config.data_dir, skip_bad_rows=config.skip_bad_rows
        )
        results = run_bench(
            export["export_dir"],
            faces,
            labels,
            s.backends(),
            (s.bench_threads,),
            iterations=s.bench_iterations,
            warmup=max(5, s.bench_iterations // 10),
            batch_runs=10,
            e2e_iterations=0,
        )
        _write_json(directory / "bench.json", {"faces": int(len(faces)), "results": results})
        (directory / "bench.txt").write_text(format_table(results) + "\n")
        plot_results(results, directory / "bench.png")
        return {
            "results": results,
            "json": str(directory / "bench.json"),
            "table": str(directory / "bench.txt"),
            "plot": str(directory / "bench.png"),
        }

    inputs = {
        "model": export["model_sha256"],
        "export": export["key"],
        "data": data["fingerprint"],
        "backends": s.backends(),
        "threads": s.bench_threads,
        "iterations": s.bench_iterations,
        "faces": s.bench_faces,
    }

    def summary(r: dict) -> str:
        return ", ".join(f"{row['backend']} {row['latency_ms_p50']:.3f} ms" for row in r["results"])

    return cached_stage(s.root, run_id, "bench", inputs, compute, summary, version=STAGE_VERSIONS["bench"])


# --- model card -------------------------------------------------------------------------------------------------


def card_stage(
    settings: dict, run_id: str, data: dict, train: dict, export: dict, evaluation: dict, bench: dict
) -> dict:
    """Write the run's model card (markdown and its figures) into ``runs/<id>/card/``.

    Returns:
        ``card`` (the markdown's path) and ``files`` (name -> path of the card and every figure it shows).
    """
    s, _ = _settings(settings)
    out = run_dir(s.root, run_id) / "card"

    def write() -> dict:
        files = write_model_card(out, run_id, s, data, train, export, evaluation, bench)
        return {"card": str(files[CARD_FILE]), "files": {name: str(path) for name, path in files.items()}}

    return uncached_stage(s.root, run_id, "card", write, lambda r: r["card"])


# --- push and lineage -------------------------------------------------------------------------------------------


def run_lineage(
    s: PipelineSettings, run_id: str, data: dict, train: dict, export: dict, evaluation: dict, bench: dict,
    push: dict | None = None,
) -> dict:  # fmt: skip
    """The lineage record of a run (``pipeline.lineage.make_lineage``) from its stages' results."""
    from pipeline.lineage import artifact_hashes, make_lineage

    # Named as in a pushed version (the SavedModel's files at its root); the export's manifest is not pushed.
    hashes = artifact_hashes(export["export_dir"])
    artifacts = {pushed_name(name): h for name, h in hashes.items() if name != MANIFEST_FILE}
    return make_lineage(
        run_id,
        data["fingerprint"],
        train["config"],
        metrics={
            "split": evaluation["candidate"]["split"],
            "keras": evaluation["candidate"]["metrics"],
            "tflite-int8": evaluation["candidate_int8"]["metrics"],
            "training": train["metrics"],
        },
        blessing=evaluation["blessing"],
        baseline={
            "path": evaluation["baseline"]["model_dir"],
            "chosen_as": evaluation["baseline_source"],
            "metrics": evaluation["baseline"]["metrics"],
        },
        extra={
            "artifacts": artifacts,
            "settings": s.to_dict(),
            "command": s.command(),
            "data": {k: data[k] for k in ("source", "splits", "statistics", "report", "anomalies")},
            "candidate_model_sha256": export["model_sha256"],
            "stages": {
                name: {"key": r.get("key"), "reused": r.get("reused"), "seconds": r.get("seconds")}
                for name, r in (("data", data), ("train", train), ("export", export), ("bench", bench))
            },
            "benchmark": bench["results"],
            "push": push,
        },
    )


def find_pushed(push_dir: str, model_sha256: str) -> Path | None:
    """The pushed version holding exactly this ``model.keras`` (by its sha256 in the version's lineage), if any."""

    for version in reversed(pushed_versions(push_dir)):
        lineage = Path(push_dir) / str(version) / LINEAGE_FILE
        if lineage.exists() and json.loads(lineage.read_text()).get("candidate_model_sha256") == model_sha256:
            return lineage.parent
    return None


def push_stage(
    settings: dict, run_id: str, data: dict, train: dict, export: dict, evaluation: dict, bench: dict, card: dict
) -> dict:  # fmt: skip
    """Push a blessed candidate as the next version of ``push_dir``, with its card, lineage and data statistics.

    A candidate that is not blessed is not pushed; one already pushed (the same ``model.keras``) is not pushed twice.

    Returns:
        ``pushed`` (True when this run added a version), ``version`` and ``path`` (the version holding the candidate,
        or None) and ``reason`` (why nothing was pushed).
    """
    s, _ = _settings(settings)

    def decide() -> dict:
        blessing = evaluation["blessing"]
        if not blessing["blessed"]:
            return {
                "pushed": False,
                "version": None,
                "path": None,
                "reason": "not blessed: " + "; ".join(blessing["reasons"]),
            }
        existing = find_pushed(s.push_dir, export["model_sha256"])
        if existing is not None:
            reason = f"this model is already version {existing.name}"
            return {"pushed": False, "version": int(existing.name), "path": str(existing), "reason": reason}
        staging = run_dir(s.root, run_id) / "push"
        staging.mkdir(exist_ok=True)
        lineage = run_lineage(s, run_id, data, train, export, evaluation, bench, {"push_dir": str(s.push_dir)})
        lineage_path = _write_json(staging / LINEAGE_FILE, lineage)
        extra = {name: Path(path) for name, path in card["files"].items()}
        extra |= {
            LINEAGE_FILE: lineage_path,
            STATISTICS_FILE: Path(data["statistics"]),
            Path(data["report"]).name: Path(data["report"]),
        }
        version = push_version(export["export_dir"], s.push_dir, extra)
        return {"pushed": True, "version": int(version.name), "path": str(version), "reason": None}

    def summary(r: dict) -> str:
        if r["pushed"]:
            return f"version {r['version']} at {r['path']}"
        return "nothing pushed: " + (r["reason"] if r["version"] else "not blessed (the reasons are above)")

    return uncached_stage(s.root, run_id, "push", decide, summary)


def lineage_stage(
    settings: dict, run_id: str, data: dict, train: dict, export: dict, evaluation: dict, bench: dict, push: dict
) -> dict:  # fmt: skip
    """Write the run's lineage (with what the push did) to ``runs/<id>/lineage.json``.

    Returns:
        ``lineage`` (the path), ``blessed``, ``pushed``, ``version`` and ``reason``.
    """
    from pipeline.lineage import write_lineage

    s, _ = _settings(settings)

    def write() -> dict:
        path = write_lineage(
            run_lineage(s, run_id, data, train, export, evaluation, bench, push), run_dir(s.root, run_id) / LINEAGE_FILE
        )
        return {
            "lineage": str(path),
            "blessed": evaluation["blessing"]["blessed"],
            **{k: push[k] for k in ("pushed", "version", "reason")},
        }

    return uncached_stage(s.root, run_id, "lineage", write, lambda r: r["lineage"])


STAGES = {
    "data": data_stage,
    "train": train_stage,
    "export": export_stage,
    "evaluate": evaluate_stage,
    "bench": bench_stage,
    "card": card_stage,
    "push": push_stage,
    "lineage": lineage_stage,
}


def run_stage(name: str, settings: str, run_id: str, **upstream: str) -> str:
    """Run stage ``name`` as a pipeline task does: JSON in and out, logging set up, the settings saved by the first.

    KFP passes dict parameters as protobuf Structs, which hold no None and turn integers into floats: the settings
    and every stage's result travel as JSON text instead.

    Args:
        name: A key of ``STAGES``.
        settings: ``PipelineSettings.to_dict()`` as JSON.
        run_id: The run's id.
        upstream: The results of the stages it depends on (JSON), by parameter name.

    Returns:
        The stage's result as JSON.
    """
    from pipeline.cli import setup_logging

    setup_logging()
    values = json.loads(settings)
    root = values.get("root", PipelineSettings.root)
    try:
        if name == "data":
            _write_json(run_dir(root, run_id) / "settings.json", values)
        result = STAGES[name](values, run_id, **{k: json.loads(v) for k, v in upstream.items()})
    except BaseException as e:
        events = read_progress(root, run_id)
        if not events or events[-1]["state"] != "failed":  # raised outside the stage's steps: say it here
            record_progress(root, run_id, name, "failed", error=f"{type(e).__name__}: {e}")
        raise
    return json.dumps(result, default=str)
