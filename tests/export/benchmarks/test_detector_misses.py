import numpy as np
import pytest

from export.benchmarks.detector_misses import face_attributes, format_recall_by_attribute, recall_by_attribute
from export.benchmarks.faces_in_frames import make_faces_in_frames


@pytest.fixture(scope="module")
def frames():
    faces = np.random.default_rng(0).integers(0, 256, (40, 48, 48), dtype=np.uint8)
    return make_faces_in_frames(faces, np.zeros(40, int), seed=4)


def test_attributes_describe_every_pasted_face(frames):
    attributes = face_attributes(frames)
    sides = [side for boxes in frames.boxes for _, _, side, _ in boxes]
    assert np.array_equal(attributes["side"], sides)
    assert np.all((attributes["rotation"] >= 0) & (attributes["rotation"] <= 10))
    assert np.all(attributes["edge"] >= 0) and np.all(attributes["contrast"] > 0)


def test_recall_per_band_shows_where_the_misses_gather(frames):
    sides = face_attributes(frames)["side"]
    rows = recall_by_attribute(frames, list(sides >= 160))  # a detector that misses every face under 160 px
    by_side = [r for r in rows if r["attribute"] == "side"]
    assert sum(r["faces"] for r in by_side) == frames.num_faces
    assert [r["recall"] for r in by_side if r["high"] is not None and r["high"] <= 160] == [0.0, 0.0, 0.0]
    assert [r["recall"] for r in by_side if r["low"] >= 160] == [1.0, 1.0]
    for name in ("rotation", "contrast", "edge"):  # every face counted once per attribute
        assert sum(r["faces"] for r in rows if r["attribute"] == name) == frames.num_faces
    table = format_recall_by_attribute("blazeface", rows)
    assert "190+ px" in table and table.count("\n") == 4


def test_found_must_name_every_face(frames):
    with pytest.raises(ValueError, match="entries for"):
        recall_by_attribute(frames, [True])
