"""The data stage: statistics, and the anomalies that stop a run."""

from __future__ import annotations

from orchestration.settings import PipelineSettings
from orchestration.stages import data_stage
from tests.fer_fixtures import make_examples, write_csv
from tests.orchestration.pipeline_runs import FAST, invoke, states


def test_a_data_anomaly_stops_the_run_with_a_report(tmp_path, data_dir):
    examples = make_examples({"train": 140, "validation": 42})
    images, labels = examples["train"]
    images[:10] = 128  # 7 % blank faces: more than the schema's 1 %
    csv = write_csv(tmp_path / "fer2013.csv", {"train": (images, labels), "validation": examples["validation"]})
    root = tmp_path / "root"
    code, out, err = invoke("--preset", "smoke", "--data", str(csv), "--data-dir", str(data_dir), "--root", str(root),
                            "--push-dir", str(tmp_path / "push"), *FAST, "--run-id", "bad")  # fmt: skip
    assert code == 1
    assert "stopped at stage data-check" in err and "constant_images (train): 10 blank images" in err
    report = root / "runs" / "bad" / "data" / "data_report.md"
    assert str(report) in err and "**error** constant_images (train)" in report.read_text()
    assert "train" not in states(root, "bad")  # nothing ran after the check
    assert not (tmp_path / "push").exists()

    # Told to go on, the stage reports the same finding and lets the run continue.
    settings = PipelineSettings(
        root=str(root), allow_anomalies=True, overrides={"data": str(csv), "data_dir": str(data_dir)}
    )
    result = data_stage(settings, "told-to-go-on")
    assert [a["kind"] for a in result.anomalies if a["severity"] == "error"] == ["constant_images"]
    assert result.reused is True  # the statistics of the stopped run


def test_with_fer_plus_labels_the_data_are_counted_in_eight_classes_and_not_compared_with_fer2013s(
    tmp_path, ferplus_csv, data_dir
):
    import json
    from pathlib import Path

    from model_zoo.constants import FERPLUS_CLASS_NAMES

    push_dir = tmp_path / "push"
    (push_dir / "1").mkdir(parents=True)
    (push_dir / "1" / "data_statistics.json").write_text(json.dumps({"splits": {}}))  # a FER2013 run's, pushed
    overrides = {"data": str(ferplus_csv), "data_dir": str(data_dir), "labels": "ferplus-majority"}
    settings = PipelineSettings(root=str(tmp_path / "root"), push_dir=str(push_dir), overrides=overrides)
    result = data_stage(settings, "ferplus")
    statistics = json.loads(Path(result.statistics).read_text())
    assert statistics["labels"] == "ferplus-majority" and statistics["classes"] == list(FERPLUS_CLASS_NAMES)
    assert statistics["splits"]["validation"]["class_counts"]["Contempt"] == 4  # the generated contempt faces
    assert result.splits == {"train": 70, "validation": 21, "test": 18}  # the faces FER+'s majority keeps
    kinds = {a["kind"]: a["severity"] for a in result.anomalies}
    assert kinds["labels_changed"] == "warning" and "classes" not in kinds and "error" not in kinds.values()
    plain = PipelineSettings(root=str(tmp_path / "root"), overrides=overrides | {"labels": "fer2013"})
    assert data_stage(plain, "fer2013").key != result.key
