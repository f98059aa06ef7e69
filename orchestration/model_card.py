"""The model card of a pipeline run: markdown with its figures, generated from the stages' results.

Sections: status (blessing, baseline), model and files, data (splits, class shares, anomalies), training
configuration and learning curves, evaluation (summary, per-class table against the baseline, confusion matrix),
parity, speed, known limits, and how to reproduce the run. Figures are written beside the markdown and referenced
by relative path, so the card reads the same in the run directory and in a pushed version.
"""

from __future__ import annotations

import csv
import json
import shutil
from pathlib import Path
from statistics import median as statistics_median

from export.push import pushed_name
from model_zoo.constants import CLASS_NAMES, FACE_SHAPE
from orchestration.settings import PipelineSettings
from pipeline.atomic_files import write_text_atomic
from pipeline.config import TrainConfig
from pipeline.lineage import LINEAGE_FILE

CARD_FILE = "MODEL_CARD.md"
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
    return "-" if x is None else f"{100 * x:.1f} %"


def _table(header: list[str], rows: list[list]) -> list[str]:
    return ["| " + " | ".join(header) + " |", "|" + "---|" * len(header)] + [
        "| " + " | ".join(str(c) for c in row) + " |" for row in rows
    ]


def _history(path: Path) -> list[dict]:
    if not path.exists():
        return []
    with open(path, newline="") as f:
        return list(csv.DictReader(f))


def _copy(source: str | Path, target: Path) -> Path | None:
    source = Path(source)
    if not source.is_file():
        return None
    shutil.copy2(source, target)
    return target


def render_model_card(
    run_id: str,
    s: PipelineSettings,
    data: dict,
    train: dict,
    export: dict,
    evaluation: dict,
    bench: dict,
    figures: dict[str, str],
) -> str:
    """The card's markdown.

    Args:
        run_id: The pipeline run.
        s: Its settings.
        data, train, export, evaluation, bench: The results of those stages (``orchestration.stages``).
        figures: Figure name -> file name beside the card (those present).
    """
    config = train["config"]
    blessing = evaluation["blessing"]
    candidate = evaluation["candidate"]["metrics"]
    int8 = evaluation["candidate_int8"]["metrics"]
    baseline = evaluation["baseline"]["metrics"]
    split = evaluation["candidate"]["split"]
    statistics = json.loads(Path(data["statistics"]).read_text())
    parity = json.loads((Path(export["export_dir"]) / "parity_report.json").read_text())
    manifest = json.loads((Path(export["export_dir"]) / "manifest.json").read_text())
    h, w, c = FACE_SHAPE

    verdict = "**Blessed**" if blessing["blessed"] else "**Not blessed**: " + "; ".join(blessing["reasons"])
    lines = [
        f"# Model card: {config['model']} on FER2013 (pipeline run `{run_id}`)",
        "",
        f"{verdict}. Compared with {evaluation['baseline_source']} (`{evaluation['baseline']['model_dir']}`) on the "
        f"same {candidate['n']} faces of the {split} split.",
        "",
        "## Model",
        "",
        f"- Architecture `{config['model']}` with arguments `{json.dumps(config['model_kwargs'])}`; input uint8 "
        f"({h}, {w}, {c}) gray faces (any size and 1 or 3 channels for the Keras model and the SavedModel's "
        "`serving_default`: the preprocessing is in the graph); output the probabilities of "
        f"{len(CLASS_NAMES)} classes: {', '.join(f'{i} {n}' for i, n in enumerate(CLASS_NAMES))}.",
        "- Files, as pushed (TensorFlow Serving loads the SavedModel at the version's root):",
        "",
    ]
    lines += _table(
        ["file", "MB", "sha256"],
        [
            [pushed_name(name), f"{entry['bytes'] / 1e6:.3f}", f"`{entry['sha256'][:16]}`"]
            for name, entry in manifest.items()
            if name.endswith((".keras", ".tflite", "saved_model.pb"))
        ],
    )
    lines += ["", "## Data", "", f"Source `{data['source']}`, fingerprint `{data['fingerprint']}`.", ""]
    names = list(statistics["splits"])
    rows = [["faces", *(statistics["splits"][n]["faces"] for n in names)]]
    rows += [
        [cls, *(f"{statistics['splits'][n]['class_counts'][cls]} ({_pct(statistics['splits'][n]['class_shares'][cls])})"
                for n in names)]
        for cls in CLASS_NAMES
    ]  # fmt: skip
    lines += _table(["", *names], rows)
    anomalies = data["anomalies"]
    lines += ["", "Validation findings:" if anomalies else "Validation found nothing to report."]
    lines += ([""] if anomalies else []) + [
        f"- {a['severity']}: {a['kind']} ({a['split']}): {a['detail']}" for a in anomalies
    ]

    defaults = TrainConfig().to_dict()
    changed = {k: v for k, v in config.items() if v != defaults.get(k) and k not in ("data", "data_dir", "verbose")}
    lines += ["", "## Training", ""]
    if changed:
        lines += [f"Preset `{s.preset}`; settings that differ from the documented seed recipe:", ""]
        lines += _table(["setting", "value"], [[k, f"`{json.dumps(v)}`"] for k, v in sorted(changed.items())])
    else:
        lines += [f"Preset `{s.preset}`: the documented seed recipe, unchanged."]
    trained = ", ".join(f"{name} {_pct(m['accuracy'])} (n={m['n']})" for name, m in train["metrics"].items())
    lines += ["", f"Accuracy of the chosen checkpoint at the end of training: {trained}."]
    history = _history(Path(train["run_dir"]) / "history.csv")
    if history:
        monitor = "val_accuracy" if "val_accuracy" in history[0] else "accuracy"
        best = max(history, key=lambda row: float(row[monitor]))
        seconds = [float(row["epoch_seconds"]) for row in history if row.get("epoch_seconds")]
        lines[-1] += (
            f" Best {monitor} {float(best[monitor]):.4f} at epoch {int(best['epoch']) + 1} of {len(history)}; "
            f"{sum(seconds) / 60:.1f} minutes of training ({statistics_median(seconds):.0f} s a median epoch)."
        )
    if LEARNING_CURVES in figures:
        lines += ["", f"![Learning curves]({figures[LEARNING_CURVES]})"]

    lines += ["", f"## Evaluation on {split} ({candidate['n']} faces)", ""]
    if split == "validation":
        lines += [
            "The data have no test split: these faces also chose the best checkpoint, so the figures are optimistic.",
            "",
        ]
    lines += _table(
        ["model", "accuracy", "macro F1", "loss"],
        [
            [
                "candidate (Keras)",
                _pct(candidate["accuracy"]),
                f"{candidate['macro_f1']:.3f}",
                f"{candidate['loss']:.3f}",
            ],
            ["candidate (TFLite int8)", _pct(int8["accuracy"]), f"{int8['macro_f1']:.3f}", f"{int8['loss']:.3f}"],
            ["baseline (Keras)", _pct(baseline["accuracy"]), f"{baseline['macro_f1']:.3f}", f"{baseline['loss']:.3f}"],
        ],
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
    if CONFUSION_MATRIX in figures:
        lines += ["", f"![Confusion matrix]({figures[CONFUSION_MATRIX]})"]
    t = blessing["thresholds"]
    lines += [
        "",
        f"Blessing thresholds: accuracy at least {_pct(t['min_accuracy'])}, at most {_pct(t['max_accuracy_drop'])} "
        f"below the baseline, no class's recall more than {_pct(t['max_recall_drop'])} below the baseline's.",
    ]

    lines += ["", f"## Parity ({parity['n']} faces, against the Keras model)", ""]
    lines += _table(
        ["backend", "top-1 agreement", "max abs diff", "accuracy", "passed"],
        [
            [name, _pct(r["top1_agreement"]), f"{r['max_abs_diff']:.1e}", _pct(r["accuracy"]),
             "yes" if r["passed"] else "no"]
            for name, r in parity["artifacts"].items()
        ],
    )  # fmt: skip
    recalibration = json.loads((Path(export["export_dir"]) / "metadata.json").read_text()).get(
        "batchnorm_recalibration"
    )
    if recalibration:
        before, after = recalibration["parity_accuracy_before"], recalibration["parity_accuracy_after"]
        faces = recalibration["training_faces"]
        lines += ["", f"BatchNorm statistics recomputed on {faces} unaugmented training faces before export "]
        lines[-1] += f"(parity-set accuracy {_pct(before)} -> {_pct(after)})."

    lines += ["", f"## Speed ({bench['results'][0]['threads']} CPU thread(s), batch 1 unless said)", ""]
    lines += _table(
        ["backend", "p50 ms", "p90 ms", "batch-64 img/s", "MB", "peak RSS MB", "accuracy"],
        [
            [r["backend"], f"{r['latency_ms_p50']:.3f}", f"{r['latency_ms_p90']:.3f}", r["batch64_images_per_sec"],
             r["file_megabytes"], r["peak_rss_megabytes"], _pct(r["accuracy"])]
            for r in bench["results"]
        ],
    )  # fmt: skip
    if BENCH_PLOT in figures:
        lines += ["", f"![Benchmark]({figures[BENCH_PLOT]})"]
    lines += ["", "## Known limits", "", LIMITS, "", "## Reproduce", ""]
    lines += [
        f"Everything this run used is in `{LINEAGE_FILE}` (data fingerprint, resolved configuration, code version, "
        "environment, artifact hashes, metrics, blessing, baseline). The command:",
        "",
        "```bash",
        s.command(),
        "```",
    ]
    return "\n".join(lines) + "\n"


def write_model_card(
    out_dir: str | Path,
    run_id: str,
    s: PipelineSettings,
    data: dict,
    train: dict,
    export: dict,
    evaluation: dict,
    bench: dict,
) -> dict[str, Path]:
    """Write ``MODEL_CARD.md`` and its figures (learning curves, confusion matrix, benchmark) into ``out_dir``.

    Returns:
        File name -> path of the card and of every figure written.
    """
    from pipeline.plots import plot_confusion_matrix

    out = Path(out_dir)
    out.mkdir(parents=True, exist_ok=True)
    files: dict[str, Path] = {}
    copied = _copy(Path(train["run_dir"]) / LEARNING_CURVES, out / LEARNING_CURVES)
    if copied:
        files[LEARNING_CURVES] = copied
    candidate = evaluation["candidate"]
    files[CONFUSION_MATRIX] = plot_confusion_matrix(
        candidate["metrics"]["confusion_matrix"],
        list(candidate["metrics"]["per_class"]),
        out / CONFUSION_MATRIX,
        title=f"Candidate on {candidate['split']} (accuracy {candidate['metrics']['accuracy']:.3f})",
    )
    copied = _copy(bench["plot"], out / BENCH_PLOT)
    if copied:
        files[BENCH_PLOT] = copied
    text = render_model_card(run_id, s, data, train, export, evaluation, bench, {name: name for name in files})
    write_text_atomic(out / CARD_FILE, text)
    return {CARD_FILE: out / CARD_FILE, **files}
