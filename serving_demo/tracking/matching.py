"""Pairing the face boxes of a new frame with those of the frames before: by overlap, then by centre distance."""

from __future__ import annotations

import math
from collections.abc import Sequence

BoxTuple = tuple[int, int, int, int]  # x, y, w, h in pixels


def box_iou(a: BoxTuple, b: BoxTuple) -> float:
    """Intersection over union of two (x, y, w, h) boxes."""
    w = max(0, min(a[0] + a[2], b[0] + b[2]) - max(a[0], b[0]))
    h = max(0, min(a[1] + a[3], b[1] + b[3]) - max(a[1], b[1]))
    inter = w * h
    union = a[2] * a[3] + b[2] * b[3] - inter
    return inter / union if union > 0 else 0.0


def centre_distance(a: BoxTuple, b: BoxTuple) -> float:
    """Distance between the centres of two (x, y, w, h) boxes, in units of the larger side of ``a``."""
    dx = (b[0] + b[2] / 2) - (a[0] + a[2] / 2)
    dy = (b[1] + b[3] / 2) - (a[1] + a[3] / 2)
    return math.hypot(dx, dy) / max(a[2], a[3], 1)


def match_boxes(
    previous: Sequence[BoxTuple], current: Sequence[BoxTuple], min_iou: float, max_centre_distance: float = 0.0
) -> dict[int, int]:
    """Pair each box of ``current`` with at most one of ``previous``, greedily, best pairs first.

    Pairs overlapping by at least ``min_iou`` go first, highest overlap first (ties: the later indices first, as
    ``sorted(..., reverse=True)`` orders them; deterministic). Then, with ``max_centre_distance``, boxes still
    alone are paired by their centres, nearest first, when the centres lie within that many sides of the earlier
    box: a face that moved or changed size more than its overlap shows (after frames in which it went unseen).

    Args:
        previous: Boxes of the earlier frame (or of the tracks), (x, y, w, h).
        current: Boxes of the new frame.
        min_iou: Least overlap of an overlap pair, in (0, 1).
        max_centre_distance: Most centre distance of a centre pair, in sides of the earlier box (0: no centre pairs).

    Returns:
        ``{index in current: index in previous}`` for the paired boxes.
    """
    pairs = sorted(
        ((box_iou(p, c), pi, ci) for pi, p in enumerate(previous) for ci, c in enumerate(current)), reverse=True
    )
    matched: dict[int, int] = {}
    used: set[int] = set()
    for iou, pi, ci in pairs:
        if iou < min_iou:
            break
        if pi not in used and ci not in matched:
            matched[ci] = pi
            used.add(pi)
    if max_centre_distance > 0 and len(matched) < min(len(previous), len(current)):
        near = sorted(
            (centre_distance(p, c), pi, ci)
            for pi, p in enumerate(previous)
            if pi not in used
            for ci, c in enumerate(current)
            if ci not in matched
        )
        for distance, pi, ci in near:
            if distance > max_centre_distance:
                break
            if pi not in used and ci not in matched:
                matched[ci] = pi
                used.add(pi)
    return matched
