"""The model card of a pipeline run: markdown with its figures, generated from the stages' results.

Sections: status (blessing, baseline), model and files, data (splits, class shares, anomalies), training
configuration and learning curves, evaluation (summary, per-class table against the baseline, confusion matrix),
parity, speed, known limits, and how to reproduce the run. Figures are written beside the markdown and referenced
by relative path, so the card reads the same in the run directory and in a pushed version.

The classes are the run's: the model's from its export's ``labels.txt``, the data's from their statistics (7
FER2013 emotions, or 8 with FER+'s contempt); a run on FER+ labels says so in its title and data section.
"""

from __future__ import annotations

import csv
import json
import shutil
from pathlib import Path
from statistics import median as statistics_median
from typing import Any

from export.push import pushed_name
from fer_runtime.atomic_files import write_text_atomic
from model_zoo.artifacts import MANIFEST_FILE
from model_zoo.constants import CLASS_NAMES, DEFAULT_LABEL_MODE, FACE_SHAPE, read_labels
from model_zoo.pretrained import CARD_FILE
from orchestration.settings import PipelineSettings
from orchestration.stage_results import BenchResult, CandidateResults, DataResult, EvaluationResult, TrainResult
from pipeline.config import TrainConfig
from pipeline.lineage import LINEAGE_FILE

LEARNING_CURVES = "learning_curves.png"
CONFUSION_MATRIX = "confusion_matrix.png"
BENCH_PLOT = "bench.png"

LIMITS = """\
- **Class imbalance.** Disgust is about 1.5 % of FER2013's training faces: expect its recall, and Fear's, to lag
  (see the per-class table); `--class-weight balanced|sqrt` trades overall accuracy for minority-class recall.
- **Frontal 48x48 gray faces.** The classifier has seen roughly frontal, centred, detector-cropped faces; profiles,
  occlusion, faces under about 40 px, low light and motion blur are missed or misread.
- **The dataset's demographics.** FER2013 was gathered by image search; it is not a balanced sample of ages, skin
  tones, genders or cultures, and its labels are one annotator's reading (human agreement is about 65 %). Measure
  accuracy on any group you care about.
- **An expression is not an emotion**, and this model is **not for decisions about people** (hiring, policing,
  education, health, credit, insurance) nor for monitoring people without their informed consent."""


def _pct(x: float | None) -> str:
    """A fraction as a percentage with one decimal ("-" for None)."""
    return "-" if x is None else f"{100 * x:.1f} %"


def _table(header: list[str], rows: list[list]) -> list[str]:
    """The lines of a markdown table."""
    return ["| " + " | ".join(header) + " |", "|" + "---|" * len(header)] + [
        "| " + " | ".join(str(c) for c in row) + " |" for row in rows
    ]


def _figure(title: str, name: str, figures: dict[str, str]) -> list[str]:
    """A blank line and the figure ``name`` (when the card has it), shown under ``title``."""
    return ["", f"![{title}]({figures[name]})"] if name in figures else []


def _read_json(path: Path) -> dict[str, Any]:
    """The JSON object in ``path``."""
    return json.loads(path.read_text())


def _history(path: Path) -> list[dict]:
    """The rows of a training's ``history.csv`` (none if it has none)."""
    if not path.exists():
        return []
    with open(path, newline="") as f:
        return list(csv.DictReader(f))


def _copy(source: str | Path, target: Path) -> Path | None:
    """Copy ``source`` to ``target`` if it is a file; returns ``target``, or None."""
    source = Path(source)
    if not source.is_file():
        return None
    shutil.copy2(source, target)
    return target


def render_model_card(
    run_id: str, settings: PipelineSettings, candidate: CandidateResults, figures: dict[str, str]
) -> str:
    """The card's markdown, section by section.

    Args:
        run_id: The pipeline run.
        settings: Its settings.
        candidate: The results of the stages that made and measured the candidate (``orchestration.stages``).
        figures: Figure name -> file name beside the card (those present).

    Returns:
        The markdown.
    """
    data, train, evaluation = candidate.data, candidate.train, candidate.evaluation
    export_dir = Path(candidate.export.export_dir)
    metadata = _read_json(export_dir / "metadata.json")
    sections = [
        _status_section(run_id, train, evaluation),
        _model_section(train.config, _read_json(export_dir / MANIFEST_FILE), read_labels(export_dir)),
        _data_section(data, _read_json(Path(data.statistics)), train.config.get("labels", DEFAULT_LABEL_MODE)),
        _configuration_section(settings.preset, train.config),
        _training_section(train, figures),
        _evaluation_section(evaluation, figures),
        _parity_section(_read_json(export_dir / "parity_report.json"), metadata.get("batchnorm_recalibration")),
        _speed_section(candidate.bench, figures),
        _limits_section(),
        _command_section(settings),
    ]
    return "\n\n".join("\n".join(lines) for lines in sections) + "\n"


def _status_section(run_id: str, train: TrainResult, evaluation: EvaluationResult) -> list[str]:
    """The title, and whether the candidate was blessed against which baseline, on which faces."""
    blessing, candidate = evaluation.blessing, evaluation.candidate
    verdict = "**Blessed**" if blessing.blessed else "**Not blessed**: " + "; ".join(blessing.reasons)
    labels = train.config.get("labels", DEFAULT_LABEL_MODE)
    data = "FER2013" if labels == DEFAULT_LABEL_MODE else f"FER2013 with {labels} labels"
    return [
        f"# Model card: {train.config['model']} on {data} (pipeline run `{run_id}`)",
        "",
        f"{verdict}. Compared with {evaluation.baseline_source} (`{evaluation.baseline.model_dir}`) on the "
        f"same {candidate.metrics['n']} faces of the {candidate.split} split.",
    ]


def _model_section(
    config: dict[str, Any], manifest: dict[str, dict[str, Any]], class_names: tuple[str, ...]
) -> list[str]:
    """The architecture, its input and output (``class_names``, the export's), and the model files as pushed."""
    h, w, c = FACE_SHAPE
    lines = [
        "## Model",
        "",
        f"- Architecture `{config['model']}` with arguments `{json.dumps(config['model_kwargs'])}`; input uint8 "
        f"({h}, {w}, {c}) gray faces (any size and 1 or 3 channels for the Keras model and the SavedModel's "
        "`serving_default`: the preprocessing is in the graph); output the probabilities of "
        f"{len(class_names)} classes: {', '.join(f'{i} {n}' for i, n in enumerate(class_names))}.",
        "- Files, as pushed (TensorFlow Serving loads the SavedModel at the version's root):",
        "",
    ]
    return lines + _table(
        ["file", "MB", "sha256"],
        [
            [pushed_name(name), f"{entry['bytes'] / 1e6:.3f}", f"`{entry['sha256'][:16]}`"]
            for name, entry in manifest.items()
            if name.endswith((".keras", ".tflite", "saved_model.pb"))
        ],
    )


def _data_section(data: DataResult, statistics: dict[str, Any], labels: str) -> list[str]:
    """The source and labels, the faces and class shares of each split, and the validation's findings."""
    splits = statistics["splits"]
    names = list(splits)
    rows = [["faces", *(splits[n]["faces"] for n in names)]]
    rows += [
        [cls, *(f"{splits[n]['class_counts'][cls]} ({_pct(splits[n]['class_shares'][cls])})" for n in names)]
        for cls in statistics.get("classes", CLASS_NAMES)  # statistics without classes: FER2013's
    ]
    anomalies = data.anomalies
    source = f"Source `{data.source}`, fingerprint `{data.fingerprint}`"
    if labels != DEFAULT_LABEL_MODE:
        source += f"; labels `{labels}` (FER+ votes), faces FER+ leaves out not counted"
    lines = ["## Data", "", source + ".", ""]
    lines += _table(["", *names], rows)
    lines += ["", "Validation findings:" if anomalies else "Validation found nothing to report."]
    return (
        lines
        + ([""] if anomalies else [])
        + [f"- {a['severity']}: {a['kind']} ({a['split']}): {a['detail']}" for a in anomalies]
    )


def _configuration_section(preset: str, config: dict[str, Any]) -> list[str]:
    """The preset, and the training settings that differ from the documented seed recipe."""
    defaults = TrainConfig().to_dict()
    changed = {k: v for k, v in config.items() if v != defaults.get(k) and k not in ("data", "data_dir", "verbose")}
    if not changed:
        return ["## Training", "", f"Preset `{preset}`: the documented seed recipe, unchanged."]
    return [
        "## Training",
        "",
        f"Preset `{preset}`; settings that differ from the documented seed recipe:",
        "",
        *_table(["setting", "value"], [[k, f"`{json.dumps(v)}`"] for k, v in sorted(changed.items())]),
    ]


def _training_section(train: TrainResult, figures: dict[str, str]) -> list[str]:
    """The chosen checkpoint's accuracy, the best epoch and the training's time, and the learning curves."""
    trained = ", ".join(f"{name} {_pct(m['accuracy'])} (n={m['n']})" for name, m in train.metrics.items())
    summary = f"Accuracy of the chosen checkpoint at the end of training: {trained}."
    history = _history(Path(train.run_dir) / "history.csv")
    if history:
        monitor = "val_accuracy" if "val_accuracy" in history[0] else "accuracy"
        best = max(history, key=lambda row: float(row[monitor]))
        seconds = [float(row["epoch_seconds"]) for row in history if row.get("epoch_seconds")]
        summary += (
            f" Best {monitor} {float(best[monitor]):.4f} at epoch {int(best['epoch']) + 1} of {len(history)}; "
            f"{sum(seconds) / 60:.1f} minutes of training ({statistics_median(seconds):.0f} s a median epoch)."
        )
    return [summary, *_figure("Learning curves", LEARNING_CURVES, figures)]


def _evaluation_section(evaluation: EvaluationResult, figures: dict[str, str]) -> list[str]:
    """The candidate (Keras, int8) and the baseline on the same faces, per class, and the blessing's bars."""
    candidate, split = evaluation.candidate.metrics, evaluation.candidate.split
    baseline = evaluation.baseline.metrics
    lines = [f"## Evaluation on {split} ({candidate['n']} faces)", ""]
    classes = list(candidate["per_class"])
    left_out = [c for c in evaluation.candidate.model_classes if c not in classes]
    if left_out:
        lines += [
            f"Scored over the {len(classes)} classes the candidate shares with the baseline and the labels: "
            f"{', '.join(left_out)} left out (faces labelled with it not counted; each model's choice its most "
            "probable of the classes scored).",
            "",
        ]
    if split == "validation":
        lines += [
            "The data have no test split: these faces also chose the best checkpoint, so the figures are optimistic.",
            "",
        ]
    models = {
        "candidate (Keras)": candidate,
        "candidate (TFLite int8)": evaluation.candidate_int8.metrics,
        "baseline (Keras)": baseline,
    }
    lines += _table(
        ["model", "accuracy", "macro F1", "loss"],
        [[name, _pct(m["accuracy"]), f"{m['macro_f1']:.3f}", f"{m['loss']:.3f}"] for name, m in models.items()],
    )
    lines += [""]
    lines += _table(
        ["class", "precision", "recall", "F1", "support", "baseline recall"],
        [
            [cls, f"{m['precision']:.3f}", f"{m['recall']:.3f}", f"{m['f1']:.3f}", m["support"],
             f"{baseline['per_class'][cls]['recall']:.3f}"]
            for cls, m in candidate["per_class"].items()
        ],
    )  # fmt: skip
    t = evaluation.blessing.thresholds
    return [
        *lines,
        *_figure("Confusion matrix", CONFUSION_MATRIX, figures),
        "",
        f"Blessing thresholds: accuracy at least {_pct(t['min_accuracy'])}, at most {_pct(t['max_accuracy_drop'])} "
        f"below the baseline, no class's recall more than {_pct(t['max_recall_drop'])} below the baseline's"
        + (f", no class's F1 more than {_pct(t['max_f1_drop'])} below." if t.get("max_f1_drop") is not None else "."),
    ]


def _parity_section(parity: dict[str, Any], recalibration: dict[str, Any] | None) -> list[str]:
    """The parity gate's figures per backend, and the BatchNorm recalibration before export, if any."""
    lines = [f"## Parity ({parity['n']} faces, against the Keras model)", ""]
    lines += _table(
        ["backend", "top-1 agreement", "max abs diff", "accuracy", "passed"],
        [
            [name, _pct(r["top1_agreement"]), f"{r['max_abs_diff']:.1e}", _pct(r["accuracy"]),
             "yes" if r["passed"] else "no"]
            for name, r in parity["artifacts"].items()
        ],
    )  # fmt: skip
    if recalibration:
        before, after = recalibration["parity_accuracy_before"], recalibration["parity_accuracy_after"]
        lines += [
            "",
            f"BatchNorm statistics recomputed on {recalibration['training_faces']} unaugmented training faces before "
            f"export (parity-set accuracy {_pct(before)} -> {_pct(after)}).",
        ]
    return lines


def _speed_section(bench: BenchResult, figures: dict[str, str]) -> list[str]:
    """The benchmark's latency, throughput, size, memory and accuracy per backend."""
    lines = [f"## Speed ({bench.results[0]['threads']} CPU thread(s), batch 1 unless said)", ""]
    lines += _table(
        ["backend", "p50 ms", "p90 ms", "batch-64 img/s", "MB", "peak RSS MB", "accuracy"],
        [
            [r["backend"], f"{r['latency_ms_p50']:.3f}", f"{r['latency_ms_p90']:.3f}", r["batch64_images_per_sec"],
             r["file_megabytes"], r["peak_rss_megabytes"], _pct(r["accuracy"])]
            for r in bench.results
        ],
    )  # fmt: skip
    return lines + _figure("Benchmark", BENCH_PLOT, figures)


def _limits_section() -> list[str]:
    """What the model is not good at, and not for."""
    return ["## Known limits", "", LIMITS]


def _command_section(settings: PipelineSettings) -> list[str]:
    """Where the run's lineage is, and the command that runs it again."""
    return [
        "## Reproduce",
        "",
        f"Everything this run used is in `{LINEAGE_FILE}` (data fingerprint, resolved configuration, code version, "
        "environment, artifact hashes, metrics, blessing, baseline). The command:",
        "",
        "```bash",
        settings.command(),
        "```",
    ]


def write_model_card(
    out_dir: str | Path, run_id: str, settings: PipelineSettings, candidate: CandidateResults
) -> dict[str, Path]:
    """Write ``MODEL_CARD.md`` and its figures (learning curves, confusion matrix, benchmark) into ``out_dir``.

    Args:
        out_dir: The card's directory (created if missing).
        run_id: The pipeline run.
        settings: Its settings.
        candidate: The results of the stages that made and measured the candidate (``orchestration.stages``).

    Returns:
        File name -> path of the card and of every figure written.
    """
    from pipeline.plots import plot_confusion_matrix

    out = Path(out_dir)
    out.mkdir(parents=True, exist_ok=True)
    files: dict[str, Path] = {}
    copied = _copy(Path(candidate.train.run_dir) / LEARNING_CURVES, out / LEARNING_CURVES)
    if copied:
        files[LEARNING_CURVES] = copied
    evaluation = candidate.evaluation.candidate
    files[CONFUSION_MATRIX] = plot_confusion_matrix(
        evaluation.metrics["confusion_matrix"],
        list(evaluation.metrics["per_class"]),
        out / CONFUSION_MATRIX,
        title=f"Candidate on {evaluation.split} (accuracy {evaluation.metrics['accuracy']:.3f})",
    )
    copied = _copy(candidate.bench.plot, out / BENCH_PLOT)
    if copied:
        files[BENCH_PLOT] = copied
    text = render_model_card(run_id, settings, candidate, {name: name for name in files})
    write_text_atomic(out / CARD_FILE, text)
    return {CARD_FILE: out / CARD_FILE, **files}
