"""The records fer-analyze writes: the output's format from its name, JSON lines, a CSV row per face."""

import pytest

from serving_demo.analysis.records import csv_header, format_records, make_record, output_format
from serving_demo.results import FaceResult

CLASSES = ["Happy", "Sad"]


def test_the_format_comes_from_the_outputs_name():
    assert [output_format(p) for p in ["a.jsonl", "b.JSON", "c.csv"]] == ["jsonl", "jsonl", "csv"]
    for name in ["results.txt", "results"]:
        with pytest.raises(ValueError, match="--output must end in .jsonl or .csv"):
            output_format(name)


def test_a_csv_row_per_face_and_a_json_line_per_record():
    face = FaceResult(box=(1, 2, 3, 4), emotion="Sad", confidence=0.75, probabilities={"Happy": 0.25, "Sad": 0.75})
    records = [make_record("a.mp4", (64, 48), [face, face], 3, 0.1), make_record("b.jpg", (10, 10), [])]
    assert records[1] == {"source": "b.jpg", "frame": None, "time_s": None, "width": 10, "height": 10, "faces": []}
    assert format_records(records, "csv", CLASSES).splitlines() == [
        "a.mp4,3,0.1,64,48,0,1,2,3,4,Sad,0.75,0.25,0.75",
        "a.mp4,3,0.1,64,48,1,1,2,3,4,Sad,0.75,0.25,0.75",
    ]
    assert len(format_records(records, "jsonl", CLASSES).splitlines()) == 2
    assert csv_header(CLASSES)[-3:] == ["confidence", "p_Happy", "p_Sad"]


def test_a_tracked_faces_record_and_csv_row_carry_its_track_id():
    face = FaceResult((1, 2, 3, 4), "Sad", 0.75, {"Happy": 0.25, "Sad": 0.75}, track_id=7)
    record = make_record("a.mp4", (64, 48), [face], 3, 0.1)
    assert list(record["faces"][0]) == ["box", "emotion", "confidence", "probabilities", "track_id"]
    assert record["faces"][0]["track_id"] == 7
    photo = make_record("b.jpg", (10, 10), [FaceResult((0, 0, 5, 5), "Happy", 0.5, {"Happy": 0.5, "Sad": 0.5})])
    assert format_records([record, photo], "csv", CLASSES, tracking=True).splitlines() == [
        "a.mp4,3,0.1,64,48,0,7,1,2,3,4,Sad,0.75,0.25,0.75",
        "b.jpg,,,10,10,0,,0,0,5,5,Happy,0.5,0.5,0.5",
    ]
    assert csv_header(CLASSES, tracking=True)[5:8] == ["face", "track_id", "x"]
