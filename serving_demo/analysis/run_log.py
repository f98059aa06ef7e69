"""The progress log of a local ``fer-analyze`` run, which lets a killed run go on where it stopped, and the run's
summary drawn from it.

``<output>.progress.jsonl`` holds the run's settings, then one line per finished file with the output's size
after that file's records. A file's records are made durable before its line is written, so on a restart the
output is cut back to the last logged size: no record is lost or written twice.
"""

from __future__ import annotations

import json
import os
from dataclasses import dataclass, field
from pathlib import Path

from fer_runtime.atomic_files import write_text_atomic


@dataclass
class SessionTotals:
    """What this session (one start of the command) did: seconds, files analysed, frames and faces."""

    seconds: float = 0.0
    files: int = 0
    frames: int = 0
    faces: int = 0

    @property
    def frames_per_sec(self) -> float:
        """Images and frames analysed a second."""
        return self.frames / max(self.seconds, 1e-9)


@dataclass(frozen=True)
class RunSummary:
    """The whole run, this session's files and earlier sessions' (as ``<output>.summary.json`` holds it).

    Attributes:
        output: The records' file.
        files_analysed: Files read, in every session.
        files_skipped: Files that could not be read and arguments that named no file.
        frames: Records written: images and analysed video frames.
        faces: Faces in them.
        session: This session's totals.
        skipped: ``{"source", "reason"}`` for each skipped file or argument.
        videos: Each video's analysed time per emotion (``engine.video_summary``), by name.
    """

    output: Path
    files_analysed: int
    files_skipped: int
    frames: int
    faces: int
    session: SessionTotals
    skipped: list[dict] = field(default_factory=list)
    videos: dict[str, dict] = field(default_factory=dict)

    def as_json(self) -> dict:
        """The summary as written to ``<output>.summary.json`` (seconds and rates rounded)."""
        session = self.session
        return {
            "output": str(self.output),
            "files_analysed": self.files_analysed,
            "files_skipped": self.files_skipped,
            "frames": self.frames,
            "faces": self.faces,
            "session": {
                "seconds": round(session.seconds, 3),
                "files": session.files,
                "frames": session.frames,
                "faces": session.faces,
                "frames_per_sec": round(session.frames_per_sec, 2),
            },
            "skipped": self.skipped,
            "videos": self.videos,
        }


class RunLog:
    """``<output>.progress.jsonl``: the settings, then one line per finished file with the output's size after it.

    Args:
        output: The records' file the log keeps track of.
    """

    def __init__(self, output: Path):
        self.output = Path(output)
        self.path = self.output.with_name(self.output.name + ".progress.jsonl")
        self.summary_path = self.output.with_name(self.output.name + ".summary.json")

    def start(self, settings: dict, header: str, overwrite: bool) -> dict[str, dict]:
        """Prepare the output: a new one with ``header``, or the resumed run's, cut back to its last finished file.

        Args:
            settings: What must match for the run to be resumed (``RunSettings.resume_key``).
            header: The start of a new output (a CSV header, or nothing).
            overwrite: Remove the output and its log first.

        Returns:
            The finished files (name -> log entry) of the run being resumed; empty for a new run.

        Raises:
            ValueError: if the output exists but belongs to no resumable run, or to one with other settings.
        """
        if overwrite:
            self.output.unlink(missing_ok=True)
            self.path.unlink(missing_ok=True)
        if self.output.exists() and not self.path.exists():
            raise ValueError(
                f"{self.output} exists and is not a run fer-analyze can resume: use --overwrite or another --output"
            )
        if not self.path.exists():
            self.output.parent.mkdir(parents=True, exist_ok=True)
            self.output.write_text(header)
            self._append({"settings": settings, "bytes": len(header.encode())})
            return {}
        lines = self._lines()
        if lines[0]["settings"] != settings:
            raise ValueError(
                f"{self.output} was written by another command ({lines[0]['settings']}); "
                "repeat that command to resume it, or use --overwrite or another --output"
            )
        done = {entry["source"]: entry for entry in lines[1:]}
        size = lines[-1]["bytes"]
        with open(self.output, "r+b") as f:  # records past the last finished file are written again
            f.truncate(size)
        return done

    def finish(self, text: str, entry: dict) -> None:
        """Append one file's records, make them durable, then record the file as finished.

        Args:
            text: The file's records, formatted.
            entry: Its log entry: ``{"source", "kind", "records", "faces", "error"}`` and, for a video, ``summary``.
        """
        with open(self.output, "a", encoding="utf-8") as f:
            f.write(text)
            f.flush()
            os.fsync(f.fileno())
        self._append(entry | {"bytes": self.output.stat().st_size})

    def entries(self) -> list[dict]:
        """The log entries of every finished file, in the order they finished."""
        return self._lines()[1:]

    def summarize(self, missing: list[tuple[str, str]], session: SessionTotals) -> RunSummary:
        """The run's summary from every finished file, this session's and earlier ones'.

        Args:
            missing: ``(argument, reason)`` for arguments that named no file.
            session: This session's totals.

        Returns:
            The ``RunSummary``.
        """
        entries = self.entries()
        return RunSummary(
            output=self.output,
            files_analysed=sum(1 for e in entries if not e["error"]),
            files_skipped=sum(1 for e in entries if e["error"]) + len(missing),
            frames=sum(e["records"] for e in entries),
            faces=sum(e["faces"] for e in entries),
            session=session,
            skipped=[{"source": e["source"], "reason": e["error"]} for e in entries if e["error"]]
            + [{"source": a, "reason": r} for a, r in missing],
            videos={e["source"]: e["summary"] for e in entries if e.get("summary")},
        )

    def write_summary(self, summary: RunSummary) -> Path:
        """Write ``<output>.summary.json`` (in one rename).

        Args:
            summary: The run's summary (``summarize``).

        Returns:
            The summary's path.
        """
        write_text_atomic(self.summary_path, json.dumps(summary.as_json(), indent=2))
        return self.summary_path

    def _lines(self) -> list[dict]:
        return [json.loads(line) for line in self.path.read_text().splitlines() if line.strip()]

    def _append(self, entry: dict) -> None:
        with open(self.path, "a", encoding="utf-8") as f:
            f.write(json.dumps(entry) + "\n")
            f.flush()
            os.fsync(f.fileno())
