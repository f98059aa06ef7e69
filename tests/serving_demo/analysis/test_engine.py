"""The analysis itself: the Python API, one file's records, a video's summary."""

import cv2
import pytest

from serving_demo.analysis import analyze
from serving_demo.analysis.engine import analyze_source, largest_face, video_summary
from serving_demo.analysis.records import make_record
from serving_demo.analysis.settings import AnalysisOptions
from serving_demo.analysis.sources import Source


def test_the_python_api_yields_records_one_at_a_time(video, tmp_path):
    records = analyze([str(video), str(tmp_path / "missing.jpg")], every=30)
    assert iter(records) is records  # a generator
    first = next(records)
    assert first == {"source": str(tmp_path / "missing.jpg"), "error": "no such file or folder"}
    rest = list(records)
    assert [r["frame"] for r in rest] == [0, 30, 60]


def test_the_python_api_takes_options_whole_or_field_by_field(video, recognizer):
    options = AnalysisOptions(every=45)
    assert [r["frame"] for r in analyze([str(video)], recognizer, options)] == [0, 45]
    assert [r["frame"] for r in analyze([str(video)], recognizer, options, every=60)] == [0, 60]
    with pytest.raises(TypeError):
        analyze([str(video)], recognizer, evry=60)


def test_one_file_gives_its_records_in_frame_order_within_its_range(video, recognizer):
    source = Source(video, "clip.mp4", "video")
    records = list(analyze_source(source, recognizer, AnalysisOptions(fps=5, batch_frames=2), (6, 30)))
    assert [r["frame"] for r in records] == [6, 12, 18, 24]
    assert all(r["source"] == "clip.mp4" and len(r["faces"]) == 1 for r in records)


def _record(time_s: float, *sizes_and_emotions: tuple[int, str]) -> dict:
    faces = [{"box": [0, 0, size, size], "emotion": emotion} for size, emotion in sizes_and_emotions]
    return {"time_s": time_s, "faces": faces}


def test_a_videos_summary_gives_each_frames_time_to_its_largest_face():
    records = [_record(0.0, (10, "Sad"), (20, "Happy")), _record(1.0), _record(1.5, (5, "Sad")), _record(3.5)]
    summary = video_summary(records, ["Happy", "Sad"])
    assert summary["frames_analysed"] == 4 and summary["seconds_analysed"] == 4.5  # the last frame: the median gap
    assert summary["seconds"] == {"Happy": 1.0, "Sad": 2.0, "no face": 1.5}
    assert summary["share"] == {"Happy": 0.2222, "Sad": 0.4444, "no face": 0.3333}
    assert largest_face(records[0]["faces"])["emotion"] == "Happy" and largest_face([]) is None


def test_a_tracked_videos_faces_carry_their_track_id_and_untracked_records_are_as_before(video, recognizer):
    source = Source(video, "clip.mp4", "video")
    tracked = list(analyze_source(source, recognizer, AnalysisOptions(every=2, batch_frames=4)))
    untracked = list(analyze_source(source, recognizer, AnalysisOptions(every=2, tracking=False)))
    assert [[f["track_id"] for f in r["faces"]] for r in tracked] == [[1]] * 30 + [[]] * 15  # the face, then none
    emotions = [[f["emotion"] for f in r["faces"]] for r in tracked]
    same = sum(a == [f["emotion"] for f in b["faces"]] for a, b in zip(emotions, untracked))
    assert same >= 0.97 * len(untracked)
    # Without tracking, the records are what detecting and classifying every frame gave before tracking existed.
    capture = cv2.VideoCapture(str(video))
    frames = [capture.read()[1] for _ in range(90)][::2]
    capture.release()
    before = [recognizer.analyze(frame, channel_order="bgr") for frame in frames]
    assert untracked == [make_record("clip.mp4", a.image_size, a.faces, 2 * i, i / 15) for i, a in enumerate(before)]
    assert all("track_id" not in face for r in untracked for face in r["faces"])
