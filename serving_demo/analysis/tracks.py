"""A tracked video's records seen per person: track ids joined across the parts of a split video, each track's
time per emotion, and the timeline's lane per track.

Records of a tracked video carry a ``track_id`` on each face (``FaceStream``); a video shared among processes is
tracked part by part, each part's ids starting at 1, and ``join_track_ids`` makes them the ids one tracker would
have given over the whole video.
"""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np

from serving_demo.tracking import MAX_MISSING, MIN_IOU, match_boxes
from serving_demo.tracking.tracker import MAX_CENTRE_DISTANCE


def join_track_ids(parts: Sequence[list[dict]], max_missing: int = MAX_MISSING, min_iou: float = MIN_IOU) -> list[dict]:
    """The records of a video's consecutive parts, each tracked on its own, with the ids of one tracker.

    Each part after the first starts with a full detection (``FaceTracker``'s ``first_frame``). Its first frame's
    faces continue the tracks of the parts before that were seen within ``max_missing`` frames, paired with their
    last boxes as the tracker pairs them; its other tracks get new ids in the order they appear. So the records equal
    those of the whole video tracked at once, unless a face unseen at a split is found again after it.

    Args:
        parts: Each part's records in frame order, parts in order; faces without a ``track_id`` are left alone.
        max_missing, min_iou: The tracker's (``FaceTracker``).

    Returns:
        All the records in order (the faces of parts after the first are new dicts with the joined ids).
    """
    joined: list[dict] = []
    last_seen: dict[int, tuple[int, tuple[int, int, int, int]]] = {}  # id: (position in joined, last box)
    next_id = 1
    for number, part in enumerate(parts):
        mapping: dict[int, int] = {}  # the part's own ids: joined ids
        if number and part:
            alive = sorted((i, box) for i, (at, box) in last_seen.items() if len(joined) - 1 - at <= max_missing)
            first = [f for f in part[0].get("faces", ()) if f.get("track_id") is not None]
            boxes = [tuple(f["box"]) for f in first]
            pairs = match_boxes([box for _, box in alive], boxes, min_iou, MAX_CENTRE_DISTANCE)
            mapping = {first[ci]["track_id"]: alive[ti][0] for ci, ti in pairs.items()}
        for record in part:
            faces = []
            for face in record.get("faces", ()):
                local = face.get("track_id")
                if local is not None:
                    if number:
                        if local not in mapping:  # a new face: the next id, as the tracker numbers them
                            mapping[local], next_id = next_id, next_id + 1
                        face = {**face, "track_id": mapping[local]}
                    last_seen[face["track_id"]] = (len(joined), tuple(face["box"]))
                    next_id = max(next_id, face["track_id"] + 1)
                faces.append(face)
            joined.append({**record, "faces": faces} if number and faces else record)
    return joined


def track_ids(records: list[dict]) -> list[int]:
    """The track ids in a video's records, in the order they first appear."""
    return list(dict.fromkeys(f["track_id"] for r in records for f in r["faces"] if f.get("track_id") is not None))


def track_summaries(records: list[dict], durations: np.ndarray, class_names: list[str]) -> list[dict]:
    """One entry per track: when the face was seen, for how long, and its time per emotion.

    Args:
        records: A tracked video's records, in frame order.
        durations: The time each record stands for (``video_summary``'s).
        class_names: The classifier's classes.

    Returns:
        ``{"track_id", "first_s", "last_s", "frames", "seconds", "emotion", "share", "seconds_by_emotion"}`` per
        track, in the order the tracks appear; ``emotion`` is the one seen longest.
    """
    tracks: dict[int, dict] = {}
    for record, duration in zip(records, durations):
        for face in record["faces"]:
            track_id = face.get("track_id")
            if track_id is None:
                continue
            track = tracks.setdefault(
                track_id, {"first_s": record["time_s"], "frames": 0, "seconds": dict.fromkeys(class_names, 0.0)}
            )
            track["last_s"] = record["time_s"]
            track["frames"] += 1
            track["seconds"][face["emotion"]] += float(duration)
    summaries = []
    for track_id, track in tracks.items():
        seconds = track["seconds"]
        total = sum(seconds.values())
        summaries.append(
            {
                "track_id": track_id,
                "first_s": track["first_s"],
                "last_s": track["last_s"],
                "frames": track["frames"],
                "seconds": round(total, 3),
                "emotion": max(seconds, key=seconds.get),
                "share": {k: round(v / total, 4) if total else 0.0 for k, v in seconds.items()},
                "seconds_by_emotion": {k: round(v, 3) for k, v in seconds.items()},
            }
        )
    return summaries


def draw_track_lanes(ax, records: list[dict], durations: np.ndarray) -> None:
    """One lane per track on ``ax``: the time the face was seen, coloured by its emotion.

    Args:
        ax: A matplotlib ``Axes``.
        records: A tracked video's records, in frame order.
        durations: The time each record stands for.
    """
    from serving_demo.drawing import emotion_colour

    ids = track_ids(records)
    lane = {track_id: i for i, track_id in enumerate(ids)}
    # Consecutive frames of a track with the same emotion make one bar: a few bars a lane, not one a frame.
    spans: dict[tuple[int, str], list[list[float]]] = {}
    last: dict[int, tuple[str, list[float]]] = {}  # lane: its latest bar (emotion, [start, width])
    for record, duration in zip(records, durations):
        for face in record["faces"]:
            if face.get("track_id") is None:
                continue
            row, emotion, start = lane[face["track_id"]], face["emotion"], record["time_s"]
            previous = last.get(row)
            if previous and previous[0] == emotion and abs(sum(previous[1]) - start) < 1e-6:
                previous[1][1] += float(duration)
            else:
                bar = [start, float(duration)]
                spans.setdefault((row, emotion), []).append(bar)
                last[row] = (emotion, bar)
    for (row, emotion), bars in spans.items():
        ax.broken_barh(bars, (row - 0.4, 0.8), color=np.array(emotion_colour(emotion)) / 255)
    ax.set_yticks(range(len(ids)), [f"#{i}" for i in ids])
    ax.set_ylim(len(ids) - 0.5, -0.5)
    ax.set_ylabel("track")
