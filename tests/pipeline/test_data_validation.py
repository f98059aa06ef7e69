"""Data validation: statistics, duplicates by content, schema checks, drift against a previous run, the report."""

import json

import numpy as np
import pytest

from model_zoo.constants import CLASS_NAMES
from pipeline.data_validation import Schema, find_anomalies, split_statistics, write_report


def faces(n: int, seed: int) -> np.ndarray:
    return np.random.default_rng(seed).integers(0, 256, (n, 48, 48, 1), dtype=np.uint8)


@pytest.fixture
def splits():
    train, val = faces(140, 0), faces(35, 1)
    train[5] = train[4]  # a repeat with the same label
    train[7] = train[6]  # a repeat with another label (set below)
    train[9] = 128  # a blank image
    val[0] = train[0]  # leaked into validation
    train_labels = np.arange(140) % 7
    train_labels[5] = train_labels[4]
    return {"train": (train, train_labels), "validation": (val, np.arange(35) % 7)}


def test_statistics_count_classes_blanks_and_duplicates(splits):
    stats = split_statistics(splits)
    train = stats["splits"]["train"]
    expected = {c: 20 for c in CLASS_NAMES} | {"Sad": 21, "Surprise": 19}  # face 5 took face 4's label
    assert train["faces"] == 140 and train["class_counts"] == expected
    assert train["class_shares"]["Happy"] == pytest.approx(1 / 7, abs=1e-6)
    assert train["constant_images"] == 1 and train["duplicates_within"] == 2 and train["conflicting_labels_within"] == 1
    assert stats["cross_split_duplicates"]["train|validation"] == {"faces": 1, "conflicting_labels": 0}
    assert train["shape"] == [48, 48, 1] and train["dtype"] == "uint8" and 0 <= train["pixel_min"] <= train["pixel_max"]
    again = split_statistics({k: (v[0].copy(), v[1].copy()) for k, v in splits.items()})
    assert again["fingerprint"] == stats["fingerprint"]
    changed = dict(splits)
    changed["validation"] = (splits["validation"][0], np.roll(splits["validation"][1], 1))
    assert split_statistics(changed)["fingerprint"] != stats["fingerprint"]  # labels are part of the data


def test_clean_data_gives_only_warnings_and_a_drifted_class_share_is_an_error(splits):
    stats = split_statistics(splits)
    anomalies = find_anomalies(stats)
    assert {a.severity for a in anomalies} == {"warning"}
    assert {a.kind for a in anomalies} >= {
        "constant_images",
        "duplicates",
        "conflicting_labels",
        "cross_split_duplicates",
    }
    previous = json.loads(json.dumps(stats))
    previous["splits"]["train"]["class_shares"]["Happy"] = 0.30
    drift = [a for a in find_anomalies(stats, previous=previous) if a.kind == "class_share_shift"]
    assert len(drift) == 1 and drift[0].severity == "error" and "Happy" in drift[0].detail


def test_schema_violations_are_errors(splits):
    images, labels = splits["train"]
    broken = {
        "train": (images[:, :40], labels),
        "validation": (splits["validation"][0].astype(np.float32), splits["validation"][1]),
    }
    broken["train"] = (broken["train"][0], labels.copy())
    broken["train"][1][0] = 9  # a label that names no class
    errors = {(a.kind, a.split) for a in find_anomalies(split_statistics(broken)) if a.severity == "error"}
    assert {("shape", "train"), ("unknown_labels", "train"), ("dtype", "validation")} <= errors
    strict = Schema(max_constant_share=0.001, max_cross_split_duplicate_share=0.01)
    errors = {a.kind for a in find_anomalies(split_statistics(splits), strict) if a.severity == "error"}
    assert errors == {"constant_images", "cross_split_duplicates"}


def test_the_report_is_json_and_markdown(splits, tmp_path):
    stats = split_statistics(splits)
    json_path, md_path = write_report(stats, find_anomalies(stats), tmp_path)
    report = json.loads(json_path.read_text())
    assert report["statistics"]["fingerprint"] == stats["fingerprint"] and report["anomalies"]
    text = md_path.read_text()
    assert "| faces | 140 | 35 |" in text and "cross_split_duplicates" in text and "Happy" in text


def test_fer_plus_statistics_count_contempt_and_are_checked_against_their_own_classes(splits, tmp_path):
    from model_zoo.constants import FERPLUS_CLASS_NAMES

    eight = {name: (images, np.arange(len(labels)) % 8) for name, (images, labels) in splits.items()}
    stats = split_statistics(eight, labels="ferplus-majority")
    assert stats["labels"] == "ferplus-majority" and stats["classes"] == list(FERPLUS_CLASS_NAMES)
    train = stats["splits"]["train"]
    assert train["class_counts"]["Contempt"] == 17 and train["unknown_labels"] == []
    assert split_statistics(splits)["labels"] == "fer2013" and split_statistics(splits)["classes"] == list(CLASS_NAMES)
    # FER2013's schema does not fit 8 classes; the schema of the data's labels does.
    wrong = [a for a in find_anomalies(stats) if a.kind == "classes"]
    assert len(wrong) == 1 and wrong[0].severity == "error" and "Contempt" in wrong[0].detail
    schema = Schema.for_labels("ferplus-majority", max_constant_share=0.05)
    assert schema.classes == FERPLUS_CLASS_NAMES and schema.max_constant_share == 0.05
    assert {a.severity for a in find_anomalies(stats, schema)} == {"warning"}
    # Against the statistics of FER2013's labels, shares are not compared: they count other labels.
    changed = find_anomalies(stats, schema, previous=split_statistics(splits))
    assert [a.kind for a in changed if a.kind in ("labels_changed", "class_share_shift")] == ["labels_changed"]
    assert "labelled fer2013, these ferplus-majority" in next(a.detail for a in changed if a.kind == "labels_changed")
    text = write_report(stats, changed, tmp_path)[1].read_text()
    assert "labels `ferplus-majority`" in text and "| Contempt | 17 (12.1%) | 4 (11.4%) |" in text
