"""Which faces a detector misses: recall of the faces-in-frames benchmark broken down by how each face was pasted.

A face is described by its side in pixels, its rotation, its contrast (the standard deviation of its pasted pixels)
and its distance to the frame's nearest edge; recall is given per band of each, so that a detector's misses show
where they gather (small faces, low contrast, ...) instead of as one number.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

import numpy as np

if TYPE_CHECKING:
    from export.benchmarks.faces_in_frames import FacesInFrames

# Bands of each attribute: (name, unit, band edges). The last edge is open-ended.
BANDS: tuple[tuple[str, str, tuple[float, ...]], ...] = (
    ("side", "px", (0, 110, 130, 160, 190)),
    ("rotation", "deg", (0, 3, 6, 8)),
    ("contrast", "std", (0, 30, 40, 50, 60)),
    ("edge", "px", (0, 5, 15, 40, 100)),
)


def face_attributes(data: FacesInFrames) -> dict[str, np.ndarray]:
    """Per pasted face, in the order of the frames' boxes: ``side``, ``rotation`` (absolute degrees), ``contrast``
    (the standard deviation of the face's pixels after its brightness gain) and ``edge`` (pixels from the box to the
    nearest frame edge)."""
    rows = []
    for frame, boxes, ids, pastes in zip(data.frames, data.boxes, data.face_ids, data.pastes):
        height, width = frame.shape[:2]
        for (x, y, side, _), face_id, (angle, gain) in zip(boxes, ids, pastes):
            pixels = np.clip(data.faces[face_id].astype(np.float32) * gain, 0, 255)
            rows.append((side, abs(angle), float(pixels.std()), min(x, y, width - x - side, height - y - side)))
    values = np.array(rows, np.float64).reshape(-1, 4)
    return {name: values[:, i] for i, (name, _, _) in enumerate(BANDS)}


def recall_by_attribute(data: FacesInFrames, found: list[bool]) -> list[dict]:
    """Recall per band of each attribute of ``face_attributes``.

    Args:
        data: The benchmark's frames.
        found: Per face, in the order of the frames' boxes, whether the detector found it.

    Returns:
        One dict per band: ``attribute``, ``unit``, ``low``, ``high`` (None for the last, open band), ``faces``,
        ``recall``; bands without faces are left out.

    Raises:
        ValueError: if ``found`` does not have one entry per face.
    """
    if len(found) != data.num_faces:
        raise ValueError(f"found has {len(found)} entries for {data.num_faces} faces")
    hits = np.asarray(found, bool)
    attributes = face_attributes(data)
    rows = []
    for name, unit, edges in BANDS:
        for low, high in zip(edges, (*edges[1:], None)):
            inside = (attributes[name] >= low) & (attributes[name] < (np.inf if high is None else high))
            if inside.any():
                recall = round(float(hits[inside].mean()), 4)
                rows.append({"attribute": name, "unit": unit, "low": low, "high": high, "faces": int(inside.sum()),
                             "recall": recall})  # fmt: skip
    return rows


def format_recall_by_attribute(detector: str, rows: list[dict]) -> str:
    """``recall_by_attribute``'s rows as a text table, one line per attribute."""
    lines = [f"{detector} recall by face (faces in the band: recall):"]
    for name, unit, _ in BANDS:
        cells = [
            f"{r['low']:g}{'-' + format(r['high'], 'g') if r['high'] is not None else '+'} {unit} "
            f"({r['faces']}): {r['recall']:.3f}"
            for r in rows
            if r["attribute"] == name
        ]
        lines.append(f"  {name:<9}" + "   ".join(cells))
    return "\n".join(lines)
