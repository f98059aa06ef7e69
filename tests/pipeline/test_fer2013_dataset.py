import subprocess
import sys
import time

import numpy as np
import pytest

from model_zoo.constants import CLASS_NAMES
from pipeline import fer2013_dataset
from pipeline.fer2013_dataset import load_fer2013, resolve_data_dir
from pipeline.fer2013_sources import BadRowError, MissingDataError, find_source
from pipeline.ferplus_labels import FerPlusError, MissingFerPlusError
from pipeline.input_pipeline import dataset_to_arrays, examples_to_arrays
from tests.fer_fixtures import (
    ROOT,
    ferplus_rows,
    make_examples,
    write_csv,
    write_ferplus_csv,
    write_image_folders,
)

COUNTS = {"train": 21, "validation": 14, "test": 7}


def _check_loaded(data, examples, splits=("train", "validation", "test")):
    assert set(data.splits) == set(splits)
    for split in splits:
        images, labels = dataset_to_arrays(data.split(split))
        assert images.dtype == np.uint8 and images.shape[1:] == (48, 48, 1)
        expected_images, expected_labels = examples[split]
        assert data.num_examples[split] == len(expected_labels)
        # TFDS may reorder examples; compare as multisets keyed by pixels.
        got = sorted((int(lb), im.tobytes()) for im, lb in zip(images, labels))
        want = sorted((int(lb), im.reshape(48, 48, 1).tobytes()) for im, lb in zip(*examples[split]))
        assert got == want


@pytest.mark.parametrize(
    "name,variant", [("fer2013.csv", "fer2013"), ("fer2013.csv.gz", "fer2013"), ("icml_face_data.csv", "icml")]
)
def test_csv_formats_prepare_all_splits(tmp_path, name, variant):
    examples = make_examples(COUNTS, seed=1)
    write_csv(tmp_path / "manual" / name, examples, variant)
    data = load_fer2013(tmp_path / "manual", tmp_path / "cache")
    _check_loaded(data, examples)
    assert data.skipped_rows == {}


def test_image_folders_with_mixed_case_classes(tmp_path):
    examples = make_examples(COUNTS, seed=2)
    # jpg is lossy: compare only the png half exactly, and the labels of all.
    write_image_folders(tmp_path / "kaggle", examples, upper=True)
    data = load_fer2013(tmp_path / "kaggle", tmp_path / "cache")
    assert set(data.splits) == {"train", "validation", "test"}
    for split in COUNTS:
        _, labels = dataset_to_arrays(data.split(split))
        assert sorted(labels.tolist()) == sorted(examples[split][1].tolist())


def test_image_folders_without_val_have_no_validation_split(tmp_path):
    examples = make_examples({"train": 14, "test": 7}, seed=3)
    write_image_folders(tmp_path / "kaggle", examples, upper=False)
    data = load_fer2013(tmp_path / "kaggle", tmp_path / "cache")
    assert set(data.splits) == {"train", "test"}
    with pytest.raises(KeyError, match="has no 'validation' split; it holds: train, test"):
        data.split("validation")


def test_missing_private_test_rows_mean_no_test_split(tmp_path):
    examples = make_examples({"train": 14, "validation": 7}, seed=4)
    write_csv(tmp_path / "fer2013.csv", examples)
    data = load_fer2013(tmp_path / "fer2013.csv", tmp_path / "cache")
    assert set(data.splits) == {"train", "validation"}


BAD_ROWS = {
    "wrong pixel count": ["3", " ".join(["1"] * 2303), "Training"],
    "non-numeric pixel value": ["3", " ".join(["1"] * 2303 + ["x"]), "Training"],
    "label outside 0-6": ["7", " ".join(["1"] * 2304), "Training"],
    "unknown Usage": ["3", " ".join(["1"] * 2304), "Validation"],
    "pixel value outside 0-255": ["3", " ".join(["1"] * 2303 + ["256"]), "Training"],
}


@pytest.mark.parametrize("problem", list(BAD_ROWS))
def test_bad_row_stops_preparation_naming_file_and_line(tmp_path, problem):
    examples = make_examples({"train": 7}, seed=5)
    path = write_csv(tmp_path / "fer2013.csv", examples, extra_rows=[BAD_ROWS[problem]])
    with pytest.raises(BadRowError) as info:
        load_fer2013(path, tmp_path / "cache")
    message = str(info.value)
    assert str(path) in message and "line 9" in message and problem.split()[0] in message
    assert "--skip-bad-rows" in message


def test_skip_bad_rows_reports_how_many_and_why(tmp_path):
    examples = make_examples({"train": 14, "validation": 7}, seed=6)
    path = write_csv(
        tmp_path / "fer2013.csv", examples, extra_rows=list(BAD_ROWS.values()) + [BAD_ROWS["unknown Usage"]]
    )
    data = load_fer2013(path, tmp_path / "cache", skip_bad_rows=True)
    assert data.skipped_rows == {
        "wrong pixel count": 1,
        "non-numeric pixel value": 1,
        "label outside 0-6": 1,
        "unknown Usage": 2,
        "pixel value outside 0-255": 1,
    }
    assert data.num_examples == {"train": 14, "validation": 7}
    # The report survives the cache: a second load says the same without re-reading.
    assert load_fer2013(path, tmp_path / "cache", skip_bad_rows=True).skipped_rows == data.skipped_rows


def test_unreadable_image_and_unknown_class_folder(tmp_path):
    examples = make_examples({"train": 7}, seed=7)
    root = write_image_folders(tmp_path / "kaggle", examples)
    (root / "train" / "HAPPY" / "broken.png").write_bytes(b"not a png")
    with pytest.raises(BadRowError, match="broken.png: unreadable image"):
        load_fer2013(root, tmp_path / "cache")
    (root / "train" / "HAPPY" / "broken.png").unlink()
    (root / "train" / "contempt").mkdir()
    write_image_folders(tmp_path / "other", make_examples({"train": 1}, seed=8))
    next((tmp_path / "other").rglob("*.png")).rename(root / "train" / "contempt" / "x.png")
    with pytest.raises(BadRowError, match="unknown class folder 'contempt'"):
        load_fer2013(root, tmp_path / "cache")
    data = load_fer2013(root, tmp_path / "cache", skip_bad_rows=True)
    assert data.skipped_rows == {"unknown class folder": 1}


def test_missing_data_says_what_to_put_where(tmp_path):
    with pytest.raises(MissingDataError, match="does not exist.*fer2013.csv.*Kaggle"):
        find_source(tmp_path / "nowhere")
    (tmp_path / "empty").mkdir()
    with pytest.raises(MissingDataError, match="No FER2013 data in .*empty: expected one of fer2013.csv"):
        load_fer2013(tmp_path / "empty", tmp_path / "cache")


def test_prepared_data_is_reused_and_rebuilt_when_the_source_changes(tmp_path, monkeypatch):
    examples = make_examples({"train": 14, "validation": 7}, seed=9)
    path = write_csv(tmp_path / "fer2013.csv", examples)
    first = load_fer2013(path, tmp_path / "cache")

    def no_reading(*args, **kwargs):
        raise AssertionError("the source was read again although it is prepared")

    monkeypatch.setattr(fer2013_dataset, "read_examples", no_reading)
    again = load_fer2013(path, tmp_path / "cache")
    assert again.prepared_dir == first.prepared_dir and again.num_examples == first.num_examples
    monkeypatch.undo()
    write_csv(path, make_examples({"train": 21}, seed=10))
    changed = load_fer2013(path, tmp_path / "cache")
    assert changed.prepared_dir != first.prepared_dir and changed.num_examples == {"train": 21}


def test_data_dir_resolution(monkeypatch, tmp_path):
    monkeypatch.delenv("FER_DATA_DIR", raising=False)
    monkeypatch.delenv("TFDS_DATA_DIR", raising=False)
    assert resolve_data_dir() == resolve_data_dir("~/tensorflow_datasets")
    monkeypatch.setenv("TFDS_DATA_DIR", str(tmp_path / "tfds"))
    assert resolve_data_dir() == tmp_path / "tfds"
    monkeypatch.setenv("FER_DATA_DIR", str(tmp_path / "fer"))
    assert resolve_data_dir() == tmp_path / "fer"
    assert resolve_data_dir(tmp_path / "flag") == tmp_path / "flag"


_PREPARE_WHEN_TOLD = """
import sys, time
from pathlib import Path
from pipeline.fer2013_dataset import load_fer2013
csv, cache, ready, go = sys.argv[1:]
Path(ready).touch()
while not Path(go).exists():
    time.sleep(0.01)
print(load_fer2013(csv, cache).num_examples["train"])
"""


def test_processes_preparing_the_same_source_at_once_all_get_it(tmp_path):
    # Tuner workers and parallel fer-train runs share one cache; each must end up with
    # the data, whichever of them moves its prepared copy into place first.
    path = write_csv(tmp_path / "fer2013.csv", make_examples({"train": 700, "validation": 7}, seed=4))
    go = tmp_path / "go"
    procs = [
        subprocess.Popen(
            [
                sys.executable,
                "-c",
                _PREPARE_WHEN_TOLD,
                str(path),
                str(tmp_path / "cache"),
                str(tmp_path / f"r{i}"),
                str(go),
            ],
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            text=True,
            cwd=ROOT,
        )
        for i in range(3)
    ]
    deadline = time.monotonic() + 120
    while not all((tmp_path / f"r{i}").exists() for i in range(3)) and time.monotonic() < deadline:
        time.sleep(0.05)
    go.touch()  # all three start preparing at the same moment
    results = [p.communicate(timeout=180) for p in procs]
    for p, (out, err) in zip(procs, results):
        assert p.returncode == 0, err[-2000:]
        assert out.strip().splitlines()[-1] == "700"


def test_limited_cuts_train_and_the_eval_splits_separately(fer_csv, data_dir):
    data = load_fer2013(fer_csv, data_dir)
    limited = data.limited(max_train_examples=10, max_eval_examples=4)
    assert {name: len(dataset_to_arrays(ds)[1]) for name, ds in limited.items()} == {
        "train": 10,
        "validation": 4,
        "test": 4,
    }
    # The first examples of each split, in the split's order.
    first_train, _ = dataset_to_arrays(data.split("train").take(10))
    np.testing.assert_array_equal(dataset_to_arrays(limited["train"])[0], first_train)
    for no_limit in (None, 0):
        whole = data.limited(no_limit, no_limit)
        assert {name: len(dataset_to_arrays(ds)[1]) for name, ds in whole.items()} == data.num_examples


# --- FER+ labels ------------------------------------------------------------------------------------------

FERPLUS_COUNTS = {"train": 30, "validation": 20}  # the shared pair's layout: no PrivateTest rows
# The label each generated kind gets (FER2013 label of the face: "own"), or why it is left out, per mode.
EXPECTED_KIND = {
    "ferplus-majority": {
        "majority": "own",
        "split": "unknown",
        "removed": "empty image name",
        "no-majority": "unknown",
        "contempt": 7,
        "not-a-face": "not a face",
    },
    "ferplus-soft": {
        "majority": "own",
        "split": "own",
        "removed": "empty image name",
        "no-majority": "unknown",
        "contempt": 7,
        "not-a-face": "not a face",
    },
}


def _expected_ferplus(examples, mode):
    """Per split: the sorted (label, FER2013 label) pairs kept, and the rows left out by reason."""
    kept, left_out = {}, {}
    for split, kind, label in ferplus_rows(examples):
        outcome = EXPECTED_KIND[mode][kind]
        if isinstance(outcome, str) and outcome != "own":
            left_out.setdefault(split, {}).setdefault(outcome, 0)
            left_out[split][outcome] += 1
        else:
            kept.setdefault(split, []).append((label if outcome == "own" else outcome, label))
    return {split: sorted(pairs) for split, pairs in kept.items()}, left_out


def _shared_pair(root, examples):
    """``root/fer2013/fer2013.csv`` and ``root/ferplus/fer2013new.csv``, as the shared data lie."""
    fer = write_csv(root / "fer2013" / "fer2013.csv", examples)
    write_ferplus_csv(root / "ferplus" / "fer2013new.csv", examples)
    return fer


@pytest.mark.parametrize("mode", ["ferplus-majority", "ferplus-soft"])
def test_ferplus_labels_follow_the_rules_and_count_what_they_leave_out(tmp_path, mode):
    examples = make_examples(FERPLUS_COUNTS, seed=12)
    fer = _shared_pair(tmp_path / "data", examples)
    data = load_fer2013(fer, tmp_path / "cache", labels=mode)  # the FER+ file found in ../ferplus/
    assert data.label_mode == mode and data.class_names[-1] == "Contempt" and len(data.class_names) == 8
    assert data.ferplus == (tmp_path / "data" / "ferplus" / "fer2013new.csv").resolve()
    kept, left_out = _expected_ferplus(examples, mode)
    assert data.excluded == left_out
    assert data.num_examples == {split: len(pairs) for split, pairs in kept.items()}
    for split in FERPLUS_COUNTS:
        ex = examples_to_arrays(data.examples[split])
        assert sorted(zip(ex["label"].tolist(), ex["fer2013_label"].tolist())) == kept[split]
        assert ex["soft_label"].shape == (len(kept[split]), 8) and ex["soft_label"].dtype == np.float32
        np.testing.assert_allclose(ex["soft_label"].sum(axis=1), 1.0, rtol=1e-6)
        np.testing.assert_array_equal(ex["soft_label"].argmax(axis=1), ex["label"])
        # The (image, label) pairs hold the same faces, in the same order.
        images, labels = dataset_to_arrays(data.split(split))
        np.testing.assert_array_equal(labels, ex["label"])
        np.testing.assert_array_equal(images, ex["image"])
    targets = dataset_to_arrays(data.targets("train"))[1]
    train = examples_to_arrays(data.examples["train"])
    if mode == "ferplus-soft":  # a soft mode trains on the distributions, which are not all one-hot
        np.testing.assert_array_equal(targets, train["soft_label"])
        assert (train["soft_label"].max(axis=1) < 1).any()
    else:
        np.testing.assert_array_equal(targets, train["label"])
        assert (train["soft_label"].max(axis=1) == 1).all()


def test_ferplus_with_a_complete_fer2013_file_beside_it(tmp_path):
    examples = make_examples({"train": 20, "validation": 10, "test": 10}, seed=13)
    fer = write_csv(tmp_path / "kaggle" / "fer2013.csv.gz", examples)
    write_ferplus_csv(tmp_path / "kaggle" / "fer2013new.csv", examples)
    data = load_fer2013(tmp_path / "kaggle", tmp_path / "cache", labels="ferplus-majority")
    kept, left_out = _expected_ferplus(examples, "ferplus-majority")
    assert set(data.splits) == {"train", "validation", "test"}
    assert data.num_examples == {split: len(pairs) for split, pairs in kept.items()}
    assert data.excluded == left_out
    # An explicit path (file or directory) overrides the one found.
    other = write_ferplus_csv(tmp_path / "elsewhere" / "fer2013new.csv", examples)
    assert load_fer2013(fer, tmp_path / "cache", labels="ferplus-soft", ferplus=other.parent).ferplus == other


def test_ferplus_rows_that_do_not_line_up_are_an_error_naming_both_files(tmp_path):
    examples = make_examples({"train": 10, "validation": 5, "test": 5}, seed=14)
    fer = write_csv(tmp_path / "fer2013.csv", examples)
    # A FER+ file of the shared pair (no PrivateTest rows) beside a complete FER2013 file.
    without_test = {k: examples[k] for k in ("train", "validation")}
    shared = write_ferplus_csv(tmp_path / "shared" / "fer2013new.csv", without_test)
    with pytest.raises(FerPlusError, match=f"{shared} has 15 rows but {fer} has 20"):
        load_fer2013(fer, tmp_path / "cache", labels="ferplus-majority", ferplus=shared)
    usages = {"train": "Training", "validation": "PrivateTest", "test": "PublicTest"}
    swapped = write_ferplus_csv(tmp_path / "swapped" / "fer2013new.csv", examples, usages=usages)
    with pytest.raises(FerPlusError, match=f"Data row 11 is 'PublicTest' in {fer} but 'PrivateTest' in {swapped}"):
        load_fer2013(fer, tmp_path / "cache", labels="ferplus-soft", ferplus=swapped)


def test_ferplus_needs_a_csv_and_a_ferplus_file(tmp_path):
    examples = make_examples({"train": 7}, seed=15)
    fer = write_csv(tmp_path / "fer2013.csv", examples)
    with pytest.raises(MissingFerPlusError, match="no fer2013new.csv beside .*--ferplus"):
        load_fer2013(fer, tmp_path / "cache", labels="ferplus-majority")
    with pytest.raises(ValueError, match="with --labels fer2013; pass --labels ferplus-majority or ferplus-soft"):
        load_fer2013(fer, tmp_path / "cache", ferplus=write_ferplus_csv(tmp_path / "fer2013new.csv", examples))
    with pytest.raises(ValueError, match="Unknown label mode 'ferplus'; choose one of fer2013, ferplus-majority"):
        load_fer2013(fer, tmp_path / "cache", labels="ferplus")
    folders = write_image_folders(tmp_path / "kaggle", examples)
    with pytest.raises(ValueError, match="needs FER2013 as a CSV .* image-folder tree"):
        load_fer2013(folders, tmp_path / "cache", labels="ferplus-soft", ferplus=tmp_path / "fer2013new.csv")


def test_each_label_mode_is_its_own_prepared_copy(tmp_path, monkeypatch):
    examples = make_examples(FERPLUS_COUNTS, seed=16)
    fer = _shared_pair(tmp_path / "data", examples)
    plain = load_fer2013(fer, tmp_path / "cache")
    # FER2013 labels are prepared as before FER+ existed: the same copy, 7 classes, the source's labels.
    assert plain.prepared_dir.parent.name == f"csv-{find_source(fer).fingerprint()}"
    assert plain.class_names == CLASS_NAMES and plain.excluded == {} and plain.num_examples == FERPLUS_COUNTS
    assert set(plain.examples["train"].element_spec) == {"image", "label"}
    majority = load_fer2013(fer, tmp_path / "cache", labels="ferplus-majority")
    soft = load_fer2013(fer, tmp_path / "cache", labels="ferplus-soft")
    assert len({plain.prepared_dir, majority.prepared_dir, soft.prepared_dir}) == 3

    def no_reading(*args, **kwargs):
        raise AssertionError("the source was read again although it is prepared")

    monkeypatch.setattr(fer2013_dataset, "read_examples", no_reading)
    for mode, first in (("fer2013", plain), ("ferplus-majority", majority), ("ferplus-soft", soft)):
        again = load_fer2013(fer, tmp_path / "cache", labels=mode)
        assert again.prepared_dir == first.prepared_dir and again.excluded == first.excluded
    monkeypatch.undo()
    # New FER+ votes (the same FER2013 file) are a new copy in the FER+ modes only.
    path = tmp_path / "data" / "ferplus" / "fer2013new.csv"
    path.write_text(path.read_text().replace("Training,fer0000000.png,", "Training,,", 1))
    changed = load_fer2013(fer, tmp_path / "cache", labels="ferplus-majority")
    assert changed.prepared_dir != majority.prepared_dir
    assert changed.excluded["train"]["empty image name"] == majority.excluded["train"]["empty image name"] + 1
    assert load_fer2013(fer, tmp_path / "cache").prepared_dir == plain.prepared_dir
