"""The model card: rendered section by section from the stages' results, and as a pushed version holds it."""

from __future__ import annotations

import csv
import dataclasses
import json
import re
import shutil
from pathlib import Path

import pytest

from model_zoo.constants import CLASS_NAMES, FERPLUS_CLASS_NAMES, write_labels
from orchestration.model_card import BENCH_PLOT, CONFUSION_MATRIX, LEARNING_CURVES, render_model_card
from orchestration.settings import PipelineSettings
from orchestration.stage_results import (
    BenchResult,
    BlessingDecision,
    CandidateResults,
    DataResult,
    EvaluationResult,
    ExportResult,
    ModelEvaluation,
    TrainResult,
)

EXAMPLE = Path(__file__).resolve().parents[2] / "docs" / "pipeline" / "seed_fer2013"
# What the committed example's records leave out: the parity report, as its card shows it.
EXAMPLE_PARITY = {
    "n": 1000,
    "artifacts": {
        "saved_model": {"top1_agreement": 1.0, "max_abs_diff": 5.1e-07, "accuracy": 0.623, "passed": True},
        "tflite-fp32": {"top1_agreement": 1.0, "max_abs_diff": 9.5e-07, "accuracy": 0.623, "passed": True},
        "tflite-fp16": {"top1_agreement": 1.0, "max_abs_diff": 1.3e-03, "accuracy": 0.623, "passed": True},
        "tflite-dynamic": {"top1_agreement": 0.996, "max_abs_diff": 1.7e-02, "accuracy": 0.621, "passed": True},
        "tflite-int8": {"top1_agreement": 0.981, "max_abs_diff": 5.9e-02, "accuracy": 0.622, "passed": True},
    },
}
CACHED = {"stage_dir": "", "key": "", "seconds": 1.0, "code": {}}  # the stage cache's fields, unread by the card


def _report_statistics(report: str) -> dict:
    """The faces and class counts of each split, from the data report's table."""
    rows = {line.split("|")[1].strip(): line.split("|")[2:-1] for line in report.splitlines() if line.startswith("| ")}
    splits = {}
    for i, name in enumerate(rows[""]):
        faces = int(rows["faces"][i])
        counts = {cls: int(rows[cls][i].split()[0]) for cls in CLASS_NAMES}
        shares = {cls: count / faces for cls, count in counts.items()}
        splits[name.strip()] = {"faces": faces, "class_counts": counts, "class_shares": shares}
    return {"splits": splits}


def _report_anomalies(report: str) -> list[dict]:
    """The findings listed in the data report."""
    found = re.findall(r"^- \*\*(\w+)\*\* (\w+) \(([^)]+)\): (.*)$", report, flags=re.MULTILINE)
    return [{"kind": kind, "split": split, "detail": detail, "severity": sev} for sev, kind, split, detail in found]


def _write_history(path: Path, best: float, epochs: int, median_seconds: float, total_seconds: float) -> None:
    """A ``history.csv`` whose last epoch is the best, with these epoch times."""
    seconds = [median_seconds] * (epochs - 1) + [total_seconds - median_seconds * (epochs - 1)]
    with open(path, "w", newline="") as f:
        writer = csv.writer(f)
        writer.writerow(["epoch", "accuracy", "val_accuracy", "epoch_seconds"])
        for epoch in range(epochs):
            writer.writerow([epoch, 0.5, best - 0.01 * (epochs - 1 - epoch), seconds[epoch]])


@pytest.fixture(scope="module")
def example(tmp_path_factory) -> tuple[PipelineSettings, CandidateResults]:
    """The committed example's settings and stage results, from its lineage and data report."""
    base = tmp_path_factory.mktemp("example")
    lineage = json.loads((EXAMPLE / "lineage.json").read_text())
    report = (EXAMPLE / "data_report.md").read_text()
    (base / "data_statistics.json").write_text(json.dumps(_report_statistics(report)))
    export_dir = base / "export"
    export_dir.mkdir()
    (export_dir / "parity_report.json").write_text(json.dumps(EXAMPLE_PARITY))
    (export_dir / "metadata.json").write_text("{}")
    manifest = {name: lineage["artifacts"][name] for name in lineage["artifacts"]}
    (export_dir / "manifest.json").write_text(json.dumps(manifest))
    (base / "run").mkdir()
    _write_history(base / "run" / "history.csv", best=0.6199, epochs=25, median_seconds=114, total_seconds=3528)

    data = DataResult(**CACHED, fingerprint=lineage["data_fingerprint"], splits=lineage["data"]["splits"],
                      statistics=str(base / "data_statistics.json"), source=lineage["data"]["source"],
                      report="", anomalies=_report_anomalies(report), previous=None)  # fmt: skip
    train = TrainResult(**CACHED, run_dir=str(base / "run"), model="", model_sha256="", config=lineage["config"],
                        metrics=lineage["metrics"]["training"])  # fmt: skip
    split = lineage["metrics"]["split"]
    evaluation = EvaluationResult(
        candidate=ModelEvaluation(**CACHED, metrics=lineage["metrics"]["keras"], split=split, backend="keras",
                                  model_dir=str(export_dir), model_classes=list(CLASS_NAMES)),
        candidate_int8=ModelEvaluation(**CACHED, metrics=lineage["metrics"]["tflite-int8"], split=split,
                                       backend="tflite-int8", model_dir=str(export_dir),
                                       model_classes=list(CLASS_NAMES)),
        baseline=ModelEvaluation(**CACHED, metrics=lineage["baseline"]["metrics"], split=split, backend="keras",
                                 model_dir=lineage["baseline"]["path"], model_classes=list(CLASS_NAMES)),
        baseline_source="the model given with --baseline",
        blessing=BlessingDecision.from_dict(lineage["blessing"]),
    )  # fmt: skip
    candidate = CandidateResults(
        data=data,
        train=train,
        export=ExportResult(**CACHED, export_dir=str(export_dir), model_sha256="", parity={}),
        evaluation=evaluation,
        bench=BenchResult(**CACHED, results=lineage["benchmark"], json="", table="", plot=""),
    )
    return PipelineSettings.from_dict(lineage["settings"]), candidate


def test_the_committed_example_card_is_rendered_again_from_its_run(example):
    settings, candidate = example
    figures = {name: name for name in (LEARNING_CURVES, CONFUSION_MATRIX, BENCH_PLOT)}
    card = render_model_card("seed-full-card", settings, candidate, figures)
    assert card == (EXAMPLE / "MODEL_CARD.md").read_text()


def test_a_card_says_what_differs_from_the_example(example, tmp_path):
    settings, candidate = example
    export_dir = Path(candidate.export.export_dir)
    recalibrated = tmp_path / "export"
    recalibrated.mkdir()
    for name in ("parity_report.json", "manifest.json"):
        (recalibrated / name).write_text((export_dir / name).read_text())
    recalibration = {"training_faces": 2048, "parity_accuracy_before": 0.5, "parity_accuracy_after": 0.6}
    (recalibrated / "metadata.json").write_text(json.dumps({"batchnorm_recalibration": recalibration}))
    evaluation = candidate.evaluation
    on_test = {
        name: dataclasses.replace(getattr(evaluation, name), split="test")
        for name in ("candidate", "candidate_int8", "baseline")
    }
    blessing = dataclasses.replace(evaluation.blessing, blessed=False, reasons=["accuracy too low", "Fear worse"])
    changed = CandidateResults(
        data=dataclasses.replace(candidate.data, anomalies=[]),
        train=dataclasses.replace(
            candidate.train, run_dir=str(tmp_path), config=candidate.train.config | {"epochs": 7, "augment": False}
        ),
        export=dataclasses.replace(candidate.export, export_dir=str(recalibrated)),
        evaluation=dataclasses.replace(evaluation, **on_test, blessing=blessing),
        bench=candidate.bench,
    )
    card = render_model_card("changed", dataclasses.replace(settings, preset="ship"), changed, {})
    assert card.startswith("# Model card: seed_cnn on FER2013 (pipeline run `changed`)\n\n**Not blessed**: "
                           "accuracy too low; Fear worse. Compared with")  # fmt: skip
    assert "Validation found nothing to report.\n\n## Training\n\nPreset `ship`; settings that differ" in card
    assert "| augment | `false` |\n| epochs | `7` |\n\nAccuracy of the chosen checkpoint" in card
    assert "(n=3589).\n\n## Evaluation on test (3589 faces)\n\n| model |" in card  # no history, no figure
    assert "no test split" not in card and "![" not in card
    assert card.count("\n\n## ") == 8  # every heading after the status, one blank line before each
    assert ("BatchNorm statistics recomputed on 2048 unaugmented training faces before export (parity-set accuracy "
            "50.0 % -> 60.0 %).\n\n## Speed") in card  # fmt: skip


def test_the_pushed_card_has_every_section_and_figure(smoke_pipeline):
    assert smoke_pipeline["first"][0] == 0
    version = smoke_pipeline["push_dir"] / "1"
    card = (version / "MODEL_CARD.md").read_text()
    for section in ("## Model", "## Data", "## Training", "## Evaluation on test", "## Parity", "## Speed",
                    "## Known limits"):  # fmt: skip
        assert section in card, section
    for figure in ("learning_curves.png", "confusion_matrix.png", "bench.png"):
        assert f"]({figure})" in card and (version / figure).stat().st_size > 1000, figure

    assert "```bash\nfer-pipeline --preset smoke --root " in card  # how to run it again


def test_the_card_of_a_fer_plus_run_names_its_labels_and_its_eight_classes(example, tmp_path):
    settings, candidate = example
    export_dir = tmp_path / "export"
    shutil.copytree(candidate.export.export_dir, export_dir)
    write_labels(export_dir, FERPLUS_CLASS_NAMES)
    statistics = json.loads(Path(candidate.data.statistics).read_text())
    for split in statistics["splits"].values():
        split["class_counts"]["Contempt"], split["class_shares"]["Contempt"] = 12, 0.002
    statistics |= {"labels": "ferplus-majority", "classes": list(FERPLUS_CLASS_NAMES)}
    (tmp_path / "data_statistics.json").write_text(json.dumps(statistics))
    evaluation = candidate.evaluation
    eight = dataclasses.replace(evaluation.candidate, model_classes=list(FERPLUS_CLASS_NAMES))
    card = render_model_card(
        "ferplus",
        settings,
        dataclasses.replace(
            candidate,
            data=dataclasses.replace(candidate.data, statistics=str(tmp_path / "data_statistics.json")),
            train=dataclasses.replace(candidate.train, config=candidate.train.config | {"labels": "ferplus-majority"}),
            export=dataclasses.replace(candidate.export, export_dir=str(export_dir)),
            evaluation=dataclasses.replace(evaluation, candidate=eight),
        ),
        {},
    )
    assert card.startswith("# Model card: seed_cnn on FER2013 with ferplus-majority labels (pipeline run `ferplus`)")
    assert "output the probabilities of 8 classes: 0 Angry, 1 Disgust," in card and "7 Contempt." in card
    assert "; labels `ferplus-majority` (FER+ votes), faces FER+ leaves out not counted." in card
    assert "\n| Contempt | 12 (0.2 %) | 12 (0.2 %) |\n" in card
    assert ("Scored over the 7 classes the candidate shares with the baseline and the labels: Contempt left out "
            "(faces labelled with it not counted;") in card  # fmt: skip
    assert '| labels | `"ferplus-majority"` |' in card  # a setting that differs from the seed recipe
