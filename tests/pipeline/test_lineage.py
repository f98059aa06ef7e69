"""Lineage records: artifact hashes, code version, and the whole record written atomically."""

import json

from pipeline.lineage import artifact_hashes, code_version, make_lineage, write_lineage


def test_artifact_hashes_cover_every_file_and_change_with_content(tmp_path):
    (tmp_path / "saved_model" / "variables").mkdir(parents=True)
    (tmp_path / "model_int8.tflite").write_bytes(b"abc")
    (tmp_path / "saved_model" / "variables" / "v.index").write_bytes(b"xyz")
    first = artifact_hashes(tmp_path)
    assert list(first) == ["model_int8.tflite", "saved_model/variables/v.index"]
    assert first["model_int8.tflite"] == {
        "sha256": "ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad",
        "bytes": 3,
    }
    (tmp_path / "model_int8.tflite").write_bytes(b"abd")
    assert artifact_hashes(tmp_path)["model_int8.tflite"]["sha256"] != first["model_int8.tflite"]["sha256"]


def test_code_version_in_and_out_of_a_git_checkout(tmp_path):
    here = code_version()
    assert here["git_commit"] is None or len(here["git_commit"]) == 40
    assert code_version(tmp_path) == {"package_version": here["package_version"], "git_commit": None, "git_dirty": None}


def test_the_lineage_record_holds_every_part(tmp_path):
    (tmp_path / "art").mkdir()
    (tmp_path / "art" / "labels.txt").write_text("Angry\n")
    record = make_lineage(
        "run-1", "f" * 32, {"epochs": 3}, tmp_path / "art", {"accuracy": 0.5}, {"blessed": True}, None, {"push": 2}
    )
    path = write_lineage(record, tmp_path / "lineage.json")
    loaded = json.loads(path.read_text())
    assert loaded["run_id"] == "run-1" and loaded["data_fingerprint"] == "f" * 32 and loaded["push"] == 2
    assert loaded["artifacts"]["labels.txt"]["bytes"] == 6 and loaded["config"] == {"epochs": 3}
    assert {"python", "packages"} <= set(loaded["environment"]) and "git_commit" in loaded["code"]
    assert not list(tmp_path.glob("*.tmp*"))
