"""FER+ labels: Microsoft's vote file ``fer2013new.csv`` read, checked against FER2013, and turned into labels.

FER+ (github.com/microsoft/FERPlus; Barsoum et al. 2016, arXiv:1608.01041) had ten crowd taggers vote
on every FER2013 face: eight emotions (contempt is new), ``unknown`` and ``NF`` (not a face). Row i of
``fer2013new.csv`` labels row i of ``fer2013.csv``; both hold the same ``Usage`` column.

The rules are those of ``_process_data`` in FERPlus' ``src/ferplus.py``: every count of 1 is first set
to 0 (a single tagger's vote is an outlier), then

* ``ferplus-majority``: the top entry if it holds more than half of the remaining votes, else unknown;
* ``ferplus-soft`` (the paper's cross-entropy / probability target): the top entries, taken by
  decreasing count (ties together), until they cover at least 75 % of the votes or 3 are taken; unknown
  if more than 3 were taken (ties) or they cover 50 % of the votes or less; unknown or NF met on the
  way ends the walk (and is dropped when an emotion was taken before it).

A face is left out when its image name is empty (faces the FER+ authors removed), or when the result
of its rule is unknown or NF (the top entry of the result is ``unknown`` or ``NF``). The label of a
kept face is the result's top entry (for soft targets with a tie, the first in the FER+ column order,
as ``np.argmax`` picks it there). Nothing here imports TensorFlow.
"""

from __future__ import annotations

import csv
import sys
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from model_zoo.constants import FERPLUS_CLASS_NAMES, LABEL_MODES

FERPLUS_FILE_NAME = "fer2013new.csv"
FERPLUS_DIR_NAME = "ferplus"  # ``<data root>/ferplus/fer2013new.csv`` beside ``<data root>/fer2013/``
FERPLUS_MODES = tuple(mode for mode in LABEL_MODES if mode.startswith("ferplus-"))
# The vote columns of fer2013new.csv, in the file's order: eight emotions, then unknown and NF.
VOTE_COLUMNS = ("neutral", "happiness", "surprise", "sadness", "anger", "disgust", "fear", "contempt", "unknown", "NF")
EMOTION_COLUMNS = VOTE_COLUMNS[:8]
# The project's class of each FER+ emotion column.
COLUMN_CLASS = {
    "neutral": "Neutral",
    "happiness": "Happy",
    "surprise": "Surprise",
    "sadness": "Sad",
    "anger": "Angry",
    "disgust": "Disgust",
    "fear": "Fear",
    "contempt": "Contempt",
}
# CLASS_OF_COLUMN[j]: the index in FERPLUS_CLASS_NAMES of emotion column j.
CLASS_OF_COLUMN = np.array([FERPLUS_CLASS_NAMES.index(COLUMN_CLASS[c]) for c in EMOTION_COLUMNS])

# Why a row is left out, as the reports count them.
EMPTY_IMAGE_NAME = "empty image name"
UNKNOWN = "unknown"  # no majority (or no soft target), or the taggers chose "unknown"
NOT_A_FACE = "not a face"

WHERE_TO_GET_IT = (
    "Get fer2013new.csv from github.com/microsoft/FERPlus and put it beside the FER2013 CSV (or in a "
    f"'{FERPLUS_DIR_NAME}' directory beside the FER2013 CSV's directory), or pass its path with --ferplus."
)


class FerPlusError(ValueError):
    """The FER+ file is malformed, or does not line up with the FER2013 file; the message names both."""


class MissingFerPlusError(FileNotFoundError):
    """No FER+ file where one was expected; the message says what to put where."""


@dataclass(frozen=True)
class FerPlusVotes:
    """Every row of a FER+ file: ``usages`` and ``image_names`` as written, ``counts`` (N, 10) as ``VOTE_COLUMNS``."""

    path: Path
    usages: list[str]
    image_names: list[str]
    counts: np.ndarray


@dataclass(frozen=True)
class FerPlusTargets:
    """One label mode's labels for every row of a FER+ file.

    ``labels`` (N,) int64: the class index in ``FERPLUS_CLASS_NAMES`` order, -1 where the row is left
    out; ``distributions`` (N, 8) float32 over the same classes (zeros where left out): one-hot for
    majority labels, the vote distribution for soft ones; ``left_out``: the reason per row, None where kept.
    """

    labels: np.ndarray
    distributions: np.ndarray
    left_out: list[str | None]


def find_ferplus_file(fer2013_file: str | Path) -> Path | None:
    """The ``fer2013new.csv`` that belongs to the FER2013 CSV ``fer2013_file``, or None if there is none.

    Looks in the CSV's own directory, then in ``../ferplus/`` (the layout ``data/fer2013/fer2013.csv``
    with ``data/ferplus/fer2013new.csv``).
    """
    directory = Path(fer2013_file).resolve().parent
    for candidate in (directory / FERPLUS_FILE_NAME, directory.parent / FERPLUS_DIR_NAME / FERPLUS_FILE_NAME):
        if candidate.is_file():
            return candidate
    return None


def locate_ferplus_file(fer2013_file: str | Path, ferplus: str | Path | None = None) -> Path:
    """The FER+ file to use with ``fer2013_file``: ``ferplus`` (a file, or a directory holding one), else the one found.

    Raises:
        MissingFerPlusError: if ``ferplus`` names nothing usable, or none was given and none is found.
    """
    if ferplus is not None:
        path = Path(ferplus).expanduser().resolve()
        if path.is_dir():
            path = path / FERPLUS_FILE_NAME
        if not path.is_file():
            raise MissingFerPlusError(f"No FER+ label file at {path}. {WHERE_TO_GET_IT}")
        return path
    found = find_ferplus_file(fer2013_file)
    if found is None:
        raise MissingFerPlusError(
            f"FER+ labels were asked for, but there is no {FERPLUS_FILE_NAME} beside {fer2013_file}. {WHERE_TO_GET_IT}"
        )
    return found


def read_votes(path: str | Path) -> FerPlusVotes:
    """Read and check every row of a FER+ file.

    Args:
        path: ``fer2013new.csv`` (header ``Usage,Image name,neutral,...,unknown,NF``).

    Returns:
        Its rows, in file order.

    Raises:
        FerPlusError: on a missing column or a malformed row; the message names the file and line.
    """
    path = Path(path)
    usages: list[str] = []
    names: list[str] = []
    counts: list[list[float]] = []
    with open(path, encoding="utf-8", newline="") as f:
        reader = csv.reader(f)
        header = [name.strip() for name in next(reader, [])]
        columns = {name.lower(): i for i, name in enumerate(header)}
        wanted = ("usage", "image name", *(c.lower() for c in VOTE_COLUMNS))
        missing = [c for c in wanted if c not in columns]
        if missing:
            raise FerPlusError(
                f"{path} line 1: header {header!r} lacks the column(s) {missing}; expected "
                f"'Usage,Image name,{','.join(VOTE_COLUMNS)}' (Microsoft's fer2013new.csv)"
            )
        i_usage, i_name = columns["usage"], columns["image name"]
        i_votes = [columns[c.lower()] for c in VOTE_COLUMNS]
        for row in reader:
            if not row:
                continue
            where = f"{path} line {reader.line_num}"
            if len(row) < len(header):
                raise FerPlusError(f"{where}: has {len(row)} fields, expected {len(header)}")
            try:
                votes = [float(row[i]) for i in i_votes]
            except ValueError:
                raise FerPlusError(f"{where}: a vote count is not a number: {[row[i] for i in i_votes]}") from None
            if min(votes) < 0:
                raise FerPlusError(f"{where}: a vote count is negative: {votes}")
            usages.append(row[i_usage].strip())
            names.append(row[i_name].strip())
            counts.append(votes)
    return FerPlusVotes(path, usages, names, np.array(counts, dtype=np.float64).reshape(-1, len(VOTE_COLUMNS)))


def check_lines_up(votes: FerPlusVotes, fer2013_file: str | Path, fer2013_usages: Sequence[str | None]) -> None:
    """Check that the FER+ rows label the FER2013 rows one to one.

    Args:
        votes: The FER+ file's rows.
        fer2013_file: The FER2013 CSV, for the messages.
        fer2013_usages: The ``Usage`` of every FER2013 data row, in order (None where a row was unreadable).

    Raises:
        FerPlusError: if the two files hold different numbers of rows, or a row's Usage differs; the
            message names both files and the first differing row.
    """
    fer2013_file = Path(fer2013_file)
    if len(fer2013_usages) != len(votes.usages):
        raise FerPlusError(
            f"{votes.path} has {len(votes.usages)} rows but {fer2013_file} has {len(fer2013_usages)}: the FER+ file "
            "labels the FER2013 file row by row, so both must be complete (35,887 rows) or hold the same rows "
            "(both without PrivateTest, say). Pass --ferplus with the FER+ file that belongs to this FER2013 file."
        )
    for row, (fer_usage, plus_usage) in enumerate(zip(fer2013_usages, votes.usages)):
        if fer_usage is not None and fer_usage.lower() != plus_usage.lower():
            raise FerPlusError(
                f"Data row {row + 1} is {fer_usage!r} in {fer2013_file} but {plus_usage!r} in {votes.path}: "
                "the files do not line up row by row. Pass --ferplus with the FER+ file that belongs to this "
                "FER2013 file (same rows, same order)."
            )


def rule_result(counts: Sequence[float], label_mode: str) -> list[float]:
    """The normalised result of the official rule for one face, over the 10 vote columns.

    A transcription of ``_process_data`` of FERPlus' ``src/ferplus.py`` (modes ``majority`` and
    ``crossentropy``); an unknown result is 1 in the ``unknown`` column.

    Args:
        counts: The face's 10 vote counts, in ``VOTE_COLUMNS`` order.
        label_mode: ``ferplus-majority`` or ``ferplus-soft``.

    Raises:
        ValueError: on another label mode.
    """
    size = len(counts)
    unknown = [0.0] * size
    unknown[VOTE_COLUMNS.index("unknown")] = 1.0
    raw = [0.0 if c < 1.0 + sys.float_info.epsilon else float(c) for c in counts]  # single votes are outliers
    total = sum(raw)
    result = [0.0] * size
    if label_mode == "ferplus-majority":
        top = max(raw)
        if top > 0.5 * total:
            result[raw.index(top)] = top  # the first of the top entries, as np.argmax picks it
        else:
            result = unknown
    elif label_mode == "ferplus-soft":
        covered, taken, valid = 0.0, 0, True
        while covered < 0.75 * total and taken < 3 and valid:
            top = max(raw)
            for i in range(size):
                if raw[i] == top:
                    result[i] = top
                    raw[i] = 0.0
                    covered += top
                    taken += 1
                    if i >= len(EMOTION_COLUMNS):  # unknown or NF among the top entries ends the walk
                        valid = False
                        if sum(result) > top:  # emotions were taken before it: drop it
                            result[i] = 0.0
                            taken -= 1
                        break
        if sum(result) <= 0.5 * total or taken > 3:
            result = unknown
    else:
        raise ValueError(f"FER+ rules exist for {', '.join(FERPLUS_MODES)}, not {label_mode!r}")
    return [value / sum(result) for value in result]


def ferplus_targets(votes: FerPlusVotes, label_mode: str) -> FerPlusTargets:
    """The labels of ``label_mode`` for every row of ``votes``, and why rows are left out.

    Args:
        votes: What ``read_votes`` returned.
        label_mode: ``ferplus-majority`` or ``ferplus-soft``.

    Returns:
        Per row: the class (``FERPLUS_CLASS_NAMES`` order), the distribution, the reason it is left out.

    Raises:
        ValueError: on another label mode.
    """
    if label_mode not in FERPLUS_MODES:
        raise ValueError(f"FER+ rules exist for {', '.join(FERPLUS_MODES)}, not {label_mode!r}")
    n_emotions = len(EMOTION_COLUMNS)
    labels = np.full(len(votes.usages), -1, dtype=np.int64)
    distributions = np.zeros((len(votes.usages), len(FERPLUS_CLASS_NAMES)), dtype=np.float32)
    left_out: list[str | None] = []
    for row, (name, counts) in enumerate(zip(votes.image_names, votes.counts.tolist())):
        if not name:
            left_out.append(EMPTY_IMAGE_NAME)
            continue
        result = rule_result(counts, label_mode)
        top = result.index(max(result))  # the first of the top entries, as np.argmax picks it
        if top >= n_emotions:
            left_out.append(UNKNOWN if VOTE_COLUMNS[top] == "unknown" else NOT_A_FACE)
            continue
        emotions = np.asarray(result[:n_emotions])
        distributions[row, CLASS_OF_COLUMN] = emotions / emotions.sum()
        labels[row] = CLASS_OF_COLUMN[top]
        left_out.append(None)
    return FerPlusTargets(labels, distributions, left_out)
