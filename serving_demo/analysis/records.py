"""The records ``fer-analyze`` writes: one per image or analysed video frame, as JSON lines or CSV rows per face."""

from __future__ import annotations

import csv
import io
import json
from dataclasses import asdict

FORMATS = ("jsonl", "csv")


def make_record(
    source: str, image_size: tuple[int, int], faces: list, frame: int | None = None, time_s: float | None = None
) -> dict:
    """``{"source", "frame", "time_s", "width", "height", "faces": [{"box", "emotion", "confidence",
    "probabilities"}]}`` for one analysed image (``frame`` and ``time_s`` None) or video frame.

    Args:
        source: The file's name in the records.
        image_size: Width and height of the analysed image.
        faces: Its ``FaceResult``s.
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
                **asdict(face),
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


def csv_header(class_names: list[str]) -> list[str]:
    """The columns of a CSV output: the record's, the face's, then a probability per class.

    Args:
        class_names: The classifier's classes.

    Returns:
        The column names.
    """
    return ["source", "frame", "time_s", "width", "height", "face", "x", "y", "w", "h", "emotion", "confidence"] + [
        f"p_{name}" for name in class_names
    ]


def format_records(records: list[dict], fmt: str, class_names: list[str]) -> str:
    """The text of ``records`` in ``fmt``: a JSON line per record, or a CSV row per face (no header).

    Args:
        records: Records (``make_record``).
        fmt: ``"jsonl"`` or ``"csv"`` (``output_format``).
        class_names: The classifier's classes, for the CSV's probability columns.

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
                    *face["box"],
                    face["emotion"],
                    face["confidence"],
                    *(face["probabilities"][n] for n in class_names),
                ]  # fmt: skip
            )
    return buffer.getvalue()
