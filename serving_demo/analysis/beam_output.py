"""Where ``fer-analyze --runner beam`` writes, on any Beam file system: it claims the output (``outputs``), the
pipeline writes beside it under temporary names, and the files are moved into place only once it has finished.

So a Beam run never writes over an output that is not its own, and a run killed or failed at any point leaves the
output as it was (none, or the previous run's, whole); the same command run again redoes the analysis and
replaces it, after removing what the killed run left behind.
"""

from __future__ import annotations

import contextlib
import glob
import json
import shutil

from apache_beam.io.filesystems import FileSystems

from serving_demo.analysis.outputs import check_owner, claim_path, writing

KEPT = "the output is left as it was"
STAGING_SUFFIX = ".partial"  # the pipeline writes <file>.partial, moved onto <file> when it has finished
SKIPPED_SUFFIX = ".skipped.jsonl"
SUMMARY_SUFFIX = ".summary.json"  # the local runner's


class BeamOutput:
    """The files of a Beam run: the records, the skipped files (``<output>.skipped.jsonl``) and the claim.

    Args:
        output: The records' file (a local path or any Beam file system's).
    """

    def __init__(self, output: str):
        self.output = output
        self.skipped = output + SKIPPED_SUFFIX
        self.claim = claim_path(output)
        self.finals = [self.output, self.skipped]

    @staticmethod
    def staging(path: str) -> str:
        """Where the pipeline writes ``path`` before it is moved into place: ``<path>.partial``."""
        return path + STAGING_SUFFIX

    def claimed(self) -> dict | None:
        """The settings in the output's claim, or None if there is no claim (or no whole first line)."""
        if not FileSystems.exists(self.claim):
            return None
        with FileSystems.open(self.claim) as f:
            text = f.read().decode("utf-8", "replace")
        first, newline, _ = text.partition("\n")
        try:
            return json.loads(first)["settings"] if newline else None
        except (ValueError, KeyError, TypeError):
            return None

    def check(self, settings: dict, overwrite: bool) -> bool:
        """Whether the output there is this command's own (``outputs.check_owner``), before anything is written.

        Args:
            settings: This run's settings (``RunSettings.resume_key("beam")``).
            overwrite: Replace whatever is there.

        Returns:
            True if a run of this command wrote or claimed it (it is redone), False for a new one.

        Raises:
            ValueError: if the output is another run's, or nobody's (without ``overwrite``).
        """
        claimed = None if overwrite else self.claimed()
        return check_owner(self.output, FileSystems.exists(self.output), claimed, settings, overwrite)

    def start(self, settings: dict, overwrite: bool = False) -> None:
        """Remove what a killed run left, and claim the output (in one rename) before the pipeline writes.

        Args:
            settings: This run's settings.
            overwrite: The run takes the output over (``--overwrite``): a local run's summary of it, which would
                describe other records, is removed too.

        Raises:
            OutputError: if the claim cannot be written (read-only folder, full disk).
        """
        self.discard()
        staged = self.staging(self.claim)
        with writing(self.claim, KEPT):
            if overwrite and FileSystems.exists(self.output + SUMMARY_SUFFIX):
                FileSystems.delete([self.output + SUMMARY_SUFFIX])
            with FileSystems.create(staged) as f:
                f.write((json.dumps({"settings": settings}) + "\n").encode())
            FileSystems.rename([staged], [self.claim])

    def read_skipped(self) -> list[dict]:
        """The files the finished run could not read: ``{"source", "error"}`` each."""
        with FileSystems.open(self.skipped) as f:
            return [json.loads(line) for line in f.read().decode().splitlines() if line.strip()]

    def publish(self) -> None:
        """Move the finished files into place (on a local file system each in one rename, over the old one).

        Raises:
            OutputError: if they cannot be moved.
        """
        with writing(self.output, KEPT):
            FileSystems.rename([self.staging(p) for p in self.finals], self.finals)

    def discard(self) -> None:
        """Remove the staged files and Beam's temporary folders of this output's runs, if any (best effort)."""
        for final in self.finals:
            staged = self.staging(final)
            with contextlib.suppress(OSError):
                if FileSystems.exists(staged):
                    FileSystems.delete([staged])
            self._remove_beam_temp(staged)
        with contextlib.suppress(OSError):
            if FileSystems.exists(self.staging(self.claim)):
                FileSystems.delete([self.staging(self.claim)])

    @staticmethod
    def _remove_beam_temp(staged: str) -> None:
        """Remove the ``beam-temp-<name>-<id>`` folders Beam's WriteToText keeps beside ``staged`` while it writes
        (a killed run leaves them)."""
        folder, name = FileSystems.split(staged)
        pattern = FileSystems.join(folder, f"beam-temp-{name}-*")
        if "://" not in staged:
            for found in glob.glob(glob.escape(pattern[: -len("*")]) + "*"):
                shutil.rmtree(found, ignore_errors=True)
            return
        with contextlib.suppress(OSError):
            files = [m.path for result in FileSystems.match([pattern + "/*"]) for m in result.metadata_list]
            folders = {FileSystems.split(path)[0] + "/" for path in files}
            if folders:
                FileSystems.delete(sorted(folders))
