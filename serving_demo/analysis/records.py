"""The records ``fer-analyze`` writes: one per image or analysed video frame, as JSON lines or CSV rows per face."""

from __future__ import annotations

import csv
import io
import json

FORMATS = ("jsonl", "csv")


def make_record(
    source: str, image_size: tuple[int, int], faces: list, frame: int | None = None, time_s: float | None = None
) -> dict:
    """``{"source", "frame", "time_s", "width", "height", "faces": [{"box", "emotion", "confidence",
    "probabilities"}]}`` for one analysed image (``frame`` and ``time_s`` None) or video frame; the faces of a
    tracked video also have a ``track_id`` (after ``probabilities``).

    Args:
        source: The file's name in the records.
        image_size: Width and height of the analysed image.
        faces: Its ``FaceResult``s (a ``track_id`` of None is left out).
        frame, time_s: The frame's index and time in a video.

    Returns:
        The record.
    """
    width, height = image_size
    return {
        "source": source,
        "frame": frame,
        "time_s": None if time_s is None else round(time_s, 4),
        "width": width,
        "height": height,
        "faces": [
            {
                **face.to_dict(),
                "box": list(face.box),
                "confidence": round(face.confidence, 6),
                "probabilities": {k: round(v, 6) for k, v in face.probabilities.items()},
            }
            for face in faces
        ],  # fmt: skip
    }


def output_format(path: str) -> str:
    """``"jsonl"`` or ``"csv"`` from the output file's extension.

    Args:
        path: The output file (``.jsonl`` or ``.json``, ``.csv``; any case).

    Returns:
        The format.

    Raises:
        ValueError: for any other extension.
    """
    suffix = path.rsplit(".", 1)[-1].lower() if "." in path else ""
    if suffix in ("jsonl", "json"):
        return "jsonl"
    if suffix == "csv":
        return "csv"
    raise ValueError(f"--output must end in .jsonl or .csv, not {path!r}")


def csv_header(class_names: list[str], tracking: bool = False) -> list[str]:
    """The columns of a CSV output: the record's, the face's, then a probability per class.

    Args:
        class_names: The classifier's classes.
        tracking: Add a ``track_id`` column after ``face`` (a tracked run; empty for photos).

    Returns:
        The column names.
    """
    face = ["face", "track_id"] if tracking else ["face"]
    return ["source", "frame", "time_s", "width", "height", *face, "x", "y", "w", "h", "emotion", "confidence"] + [
        f"p_{name}" for name in class_names
    ]


def format_records(records: list[dict], fmt: str, class_names: list[str], tracking: bool = False) -> str:
    """The text of ``records`` in ``fmt``: a JSON line per record, or a CSV row per face (no header).

    Args:
        records: Records (``make_record``).
        fmt: ``"jsonl"`` or ``"csv"`` (``output_format``).
        class_names: The classifier's classes, for the CSV's probability columns.
        tracking: Write the CSV's ``track_id`` column (see ``csv_header``).

    Returns:
        The text, each line ended by a newline.
    """
    if fmt == "jsonl":
        return "".join(json.dumps(r, separators=(",", ":")) + "\n" for r in records)
    buffer = io.StringIO()
    writer = csv.writer(buffer, lineterminator="\n")
    for r in records:
        for i, face in enumerate(r["faces"]):
            writer.writerow(
                [
                    r["source"],
                    r["frame"],
                    r["time_s"],
                    r["width"],
                    r["height"],
                    i,
                    *([face.get("track_id")] if tracking else []),
                    *face["box"],
                    face["emotion"],
                    face["confidence"],
                    *(face["probabilities"][n] for n in class_names),
                ]  # fmt: skip
            )
    return buffer.getvalue()
