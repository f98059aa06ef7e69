"""A tracked video's records per person: ids joined across a split video, per-track summaries, the timeline."""

import numpy as np
import pytest

from serving_demo.analysis.engine import video_summary
from serving_demo.analysis.tracks import join_track_ids, track_ids, track_summaries


def record(time_s: float, *faces: tuple[int | None, int, str]) -> dict:
    """A record with faces (track id, x, emotion): boxes 40 px wide at (x, 10)."""
    return {
        "time_s": time_s,
        "faces": [
            {"box": [x, 10, 40, 40], "emotion": emotion, **({} if tid is None else {"track_id": tid})}
            for tid, x, emotion in faces
        ],
    }


def test_a_split_videos_parts_get_the_ids_one_tracker_would_have_given():
    first = [record(0.0, (1, 0, "Happy"), (2, 200, "Sad")), record(0.1, (1, 2, "Happy"))]
    # The second part's tracker starts at 1 again: its face near track 1's last box continues it; the face where
    # track 2 was, unseen for one frame (within max_missing), continues track 2; a face elsewhere is new (3).
    second = [record(0.2, (1, 400, "Fear"), (2, 4, "Happy"), (3, 201, "Sad")), record(0.3, (1, 402, "Fear"))]
    third = [record(0.4, (1, 404, "Fear"))]
    joined = join_track_ids([first, second, third])
    assert [[f["track_id"] for f in r["faces"]] for r in joined] == [[1, 2], [1], [3, 1, 2], [3], [3]]
    assert joined[:2] == first and second[0]["faces"][0]["track_id"] == 1  # the parts are left as they were
    assert join_track_ids([first, second, third], max_missing=0)[2]["faces"][2]["track_id"] == 4  # track 2 ended
    untracked = [[record(0.0, (None, 0, "Sad"))], [record(0.1, (None, 0, "Sad"))]]
    assert join_track_ids(untracked) == untracked[0] + untracked[1]
    assert join_track_ids([[{"frame": 0}], [{"frame": 1}]]) == [{"frame": 0}, {"frame": 1}]


def test_each_track_gets_its_time_per_emotion_beside_the_whole_videos_figures():
    records = [
        record(0.0, (1, 0, "Happy"), (2, 100, "Sad")),
        record(1.0, (1, 0, "Happy")),
        record(2.0, (1, 0, "Sad"), (2, 100, "Sad")),
        record(3.0),
    ]
    assert track_ids(records) == [1, 2]
    summaries = track_summaries(records, np.ones(4), ["Happy", "Sad"])
    assert summaries[0] == {
        "track_id": 1, "first_s": 0.0, "last_s": 2.0, "frames": 3, "seconds": 3.0, "emotion": "Happy",
        "share": {"Happy": 0.6667, "Sad": 0.3333}, "seconds_by_emotion": {"Happy": 2.0, "Sad": 1.0},
    }  # fmt: skip
    assert (summaries[1]["frames"], summaries[1]["emotion"], summaries[1]["seconds"]) == (2, "Sad", 2.0)
    summary = video_summary(records, ["Happy", "Sad"])
    assert summary["tracks"] == summaries and summary["seconds"] == {"Happy": 2.0, "Sad": 1.0, "no face": 1.0}
    untracked = [record(0.0, (None, 0, "Happy")), record(1.0)]
    assert "tracks" not in video_summary(untracked, ["Happy", "Sad"])


def test_a_tracked_videos_timeline_has_a_lane_per_person(tmp_path):
    import cv2

    from serving_demo.analysis.engine import plot_timeline

    def face(tid, emotion):
        return {"box": [0, 0, 40, 40], "emotion": emotion, "probabilities": {"Happy": 0.7, "Sad": 0.3},
                "track_id": tid}  # fmt: skip

    records = [{"time_s": t / 10, "faces": [face(1, "Happy")] + ([face(2, "Sad")] if t > 5 else [])} for t in range(20)]
    tracked = cv2.imread(str(plot_timeline(records, ["Happy", "Sad"], tmp_path / "tracked.png")))
    for r in records:
        for f in r["faces"]:
            del f["track_id"]
    untracked = cv2.imread(str(plot_timeline(records, ["Happy", "Sad"], tmp_path / "untracked.png")))
    assert tracked.shape[0] > untracked.shape[0] and tracked.shape[1] == untracked.shape[1] == 1000
    assert pytest.approx(tracked.shape[0] - untracked.shape[0], abs=5) == 120  # 1.2 inches of lanes at 100 dpi
