"""The progress log of a local ``fer-analyze`` run, which lets a killed run go on where it stopped, and the run's
summary drawn from it.

``<output>.progress.jsonl`` holds the run's settings (its claim on the output, ``outputs``), then one line per
finished file with the output's size after that file's records. A file's records are made durable before its line
is written, so on a restart the output is cut back to the last logged size: no record is lost or written twice.
"""

from __future__ import annotations

import contextlib
import json
import os
from dataclasses import dataclass, field
from pathlib import Path

from fer_runtime.atomic_files import write_text_atomic
from serving_demo.analysis.outputs import check_owner, claim_path, writing


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

    The first line is the run's claim on the output (``outputs.check_owner``). Lines are appended whole and made
    durable; a line cut short (a kill or a full disk mid-write) is dropped when the log is read, and cut off when
    the run goes on.

    Args:
        output: The records' file the log keeps track of.
    """

    def __init__(self, output: Path):
        self.output = Path(output)
        self.path = Path(claim_path(str(self.output)))
        self.summary_path = self.output.with_name(self.output.name + ".summary.json")

    def claimed(self) -> dict | None:
        """The settings of the run that claims the output, or None if no log (or no whole first line) is there."""
        lines = self._lines() if self.path.exists() else []
        return lines[0]["settings"] if lines else None

    def check(self, settings: dict, overwrite: bool) -> bool:
        """Whether this run goes on with the output there (``outputs.check_owner``), before anything is written.

        Args:
            settings: This run's settings (``RunSettings.resume_key``).
            overwrite: Start afresh whatever is there.

        Returns:
            True to resume, False for a new run.

        Raises:
            ValueError: if the output is another run's, or nobody's (without ``overwrite``).
        """
        claimed = None if overwrite else self.claimed()  # with overwrite, even a damaged log is replaced
        return check_owner(str(self.output), self.output.exists(), claimed, settings, overwrite)

    def start(self, settings: dict, header: str, overwrite: bool) -> dict[str, dict]:
        """Prepare the output: a new one with ``header``, or the resumed run's, cut back to its last finished file.

        A new run claims the output before writing it (a run killed in between goes on when started again), each
        in one rename.

        Args:
            settings: What must match for the run to be resumed (``RunSettings.resume_key``).
            header: The start of a new output (a CSV header, or nothing).
            overwrite: Remove the output and its log first.

        Returns:
            The files finished without error (name -> latest log entry) of the run being resumed; empty for a new
            run. Files that could not be read are tried again.

        Raises:
            ValueError: if the output exists but belongs to no run, or to one with other settings, or was cut
                shorter than its log says.
            OutputError: if the output or its log cannot be written.
        """
        resume = self.check(settings, overwrite)
        with writing(str(self.output)):
            if not resume:
                self.output.unlink(missing_ok=True)  # the output first: a kill then leaves a claim, no stranger
                if overwrite:  # a Beam run's list of skipped files, which would describe other records
                    self.output.with_name(self.output.name + ".skipped.jsonl").unlink(missing_ok=True)
                self.output.parent.mkdir(parents=True, exist_ok=True)
                write_text_atomic(self.path, json.dumps({"settings": settings, "bytes": len(header.encode())}) + "\n")
                write_text_atomic(self.output, header)
                return {}
            lines = self._lines()
            self._cut_torn_line()
            size = lines[-1]["bytes"]
            if not self.output.exists() and len(lines) == 1:  # killed between the claim and the header
                write_text_atomic(self.output, header)
            if not self.output.exists() or self.output.stat().st_size < size:
                raise ValueError(
                    f"{self.output} is missing or shorter than its log {self.path.name} says: it was changed since; "
                    "use --overwrite or another --output"
                )
            with open(self.output, "r+b") as f:  # records past the last finished file are written again
                f.truncate(size)
        return {entry["source"]: entry for entry in self.entries() if not entry["error"]}

    def finish(self, text: str, entry: dict) -> None:
        """Append one file's records, make them durable, then record the file as finished.

        Args:
            text: The file's records, formatted.
            entry: Its log entry: ``{"source", "kind", "records", "faces", "error"}`` and, for a video, ``summary``.

        Raises:
            OutputError: if the records or the entry cannot be written (records written in part are cut off).
        """
        with writing(str(self.output)):
            # Names that were not UTF-8 on disk come back as their own bytes (a CSV's source column; JSON escapes them).
            size = append_durably(self.output, text.encode("utf-8", "surrogateescape"))
        self._append(entry | {"bytes": size})

    def entries(self) -> list[dict]:
        """The latest log entry of every finished file, in the order they first finished."""
        latest: dict[str, dict] = {}
        for entry in self._lines()[1:]:
            latest[entry["source"]] = entry
        return list(latest.values())

    def summarize(self, missing: list[tuple[str, str]], session: SessionTotals) -> RunSummary:
        """The run's summary from every finished file, this session's and earlier ones'.

        Args:
            missing: ``(argument, reason)`` for arguments that named no file and links not followed.
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

        Raises:
            OutputError: if it cannot be written.
        """
        with writing(str(self.summary_path)):
            write_text_atomic(self.summary_path, json.dumps(summary.as_json(), indent=2))
        return self.summary_path

    def _lines(self) -> list[dict]:
        """The log's whole lines (a last line cut short is left out).

        Raises:
            ValueError: if a line before the last is not JSON: the log was damaged by something else.
        """
        text = self.path.read_text(encoding="utf-8")
        whole = text.split("\n")[:-1]  # what follows the last newline was cut short
        try:
            return [json.loads(line) for line in whole if line.strip()]
        except json.JSONDecodeError as e:
            raise ValueError(f"{self.path} is damaged ({e}): use --overwrite or another --output") from e

    def _cut_torn_line(self) -> None:
        """Cut a last line written in part off the log, so that the next line starts on a line of its own."""
        with open(self.path, "r+b") as f:
            data = f.read()
            f.truncate(data.rfind(b"\n") + 1)

    def _append(self, entry: dict) -> None:
        with writing(str(self.path)):
            append_durably(self.path, (json.dumps(entry) + "\n").encode())


def append_durably(path: Path, data: bytes) -> int:
    """Append ``data`` to ``path`` and make it durable; if that fails, cut the file back to what it was.

    Args:
        path: The file (made if missing).
        data: What to append.

    Returns:
        The file's size after.

    Raises:
        OSError: if the file cannot be written (a full disk, a file size limit, a read-only file system); the part
            of ``data`` written is cut off again where the file system allows it (else the next run cuts it).
    """
    fd = os.open(path, os.O_WRONLY | os.O_APPEND | os.O_CREAT, 0o666)
    try:
        size = os.fstat(fd).st_size
        try:
            view = memoryview(data)
            while view:  # a full disk may take part of a write, then refuse the rest
                view = view[os.write(fd, view) :]
            os.fsync(fd)
        except OSError:
            with contextlib.suppress(OSError):
                os.ftruncate(fd, size)
            raise
        return size + len(data)
    finally:
        os.close(fd)
