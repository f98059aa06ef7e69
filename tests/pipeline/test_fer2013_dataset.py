import subprocess
import sys
import time

import numpy as np
import pytest

from pipeline import fer2013_dataset
from pipeline.fer2013_dataset import load_fer2013, resolve_data_dir
from pipeline.fer2013_sources import BadRowError, MissingDataError, find_source
from pipeline.input_pipeline import dataset_to_arrays
from tests.fer_fixtures import ROOT, make_examples, write_csv, write_image_folders

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
