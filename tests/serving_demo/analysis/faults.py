"""Running the real ``fer-analyze`` in a subprocess under injected faults: a file size limit (a full disk), file
permissions that bind root too (a read-only folder), a SIGKILL at a chosen moment; and checking what it wrote."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

ROOT = Path(__file__).resolve().parents[3]

# Run before the command, in the same process (then ``os.execv``): a file size limit, and for root the loss of
# CAP_DAC_OVERRIDE, without which root obeys file permissions like anyone (PR_CAPBSET_DROP keeps it dropped across
# exec). Python ignores SIGXFSZ, so a write past the size limit raises OSError (EFBIG) as a full disk would.
LAUNCHER = """
import ctypes, os, resource, sys
size, obey = int(sys.argv[1]), sys.argv[2] == "1"
if size:
    resource.setrlimit(resource.RLIMIT_FSIZE, (size, size))
if obey and os.geteuid() == 0 and ctypes.CDLL(None, use_errno=True).prctl(24, 1, 0, 0, 0) != 0:
    sys.exit("cannot drop CAP_DAC_OVERRIDE")
os.execv(sys.executable, [sys.executable, *sys.argv[3:]])
"""


def command(paths: list, output: Path, runner: str = "local", *more: str) -> list[str]:
    """The ``fer-analyze`` command line, as ``python -m``, for a runner (Beam with one DirectRunner worker)."""
    extra = ["--direct_num_workers", "1"] if runner == "beam" else ["--no-progress"]
    return [sys.executable, "-m", "serving_demo.analysis.cli", *map(str, paths), "--output", str(output),
            "--runner", runner, *extra, *more]  # fmt: skip


def under_faults(cmd: list[str], file_size: int = 0, obey_permissions: bool = False) -> list[str]:
    """``cmd`` run with writes limited to ``file_size`` bytes a file (0: no limit) and, with ``obey_permissions``,
    file permissions binding root too."""
    assert cmd[0] == sys.executable
    return [sys.executable, "-c", LAUNCHER, str(file_size), "1" if obey_permissions else "0", *cmd[1:]]


def environment() -> dict[str, str]:
    """The command's environment: this checkout first on the import path."""
    return {**os.environ, "PYTHONPATH": os.pathsep.join(filter(None, [str(ROOT), os.environ.get("PYTHONPATH")]))}


def run(cmd: list[str], cwd: Path = ROOT, timeout: float = 300) -> subprocess.CompletedProcess:
    """Run a command to its end, its output captured as text."""
    return subprocess.run(cmd, cwd=cwd, env=environment(), capture_output=True, text=True, timeout=timeout)


def start(cmd: list[str], stderr: Path, cwd: Path = ROOT) -> subprocess.Popen:
    """Start a command in a session of its own (so that a kill reaches every process it started), its stderr
    written to the file ``stderr``."""
    with open(stderr, "w") as err:
        return subprocess.Popen(
            cmd, cwd=cwd, env=environment(), stdout=subprocess.DEVNULL, stderr=err, start_new_session=True
        )


def kill_after(process: subprocess.Popen, seconds: float) -> bool:
    """SIGKILL the process and all it started after ``seconds``, unless it ended first.

    Returns:
        True if it was killed, False if it had ended.
    """
    try:
        process.wait(timeout=seconds)
        return False
    except subprocess.TimeoutExpired:
        os.killpg(process.pid, signal.SIGKILL)
        process.wait()
        return True


def wait_for(condition: Callable[[], bool], process: subprocess.Popen, timeout: float = 120) -> None:
    """Poll ``condition`` every 10 ms while ``process`` runs; fail if it ends or the time runs out first."""
    deadline = time.monotonic() + timeout
    while not condition():
        assert process.poll() is None, "the command ended first"
        assert time.monotonic() < deadline, "timed out"
        time.sleep(0.01)


def error_lines(stderr: str) -> list[str]:
    """The ``fer-analyze: error: ...`` lines of a command's stderr."""
    return [line for line in stderr.splitlines() if line.startswith("fer-analyze: error: ")]


def assert_one_error_line(result: subprocess.CompletedProcess, *fragments: str) -> str:
    """The command ended with exit status 2 and one error line holding ``fragments``, and no traceback.

    Returns:
        The line.
    """
    assert "Traceback" not in result.stderr, result.stderr[-3000:]
    errors = error_lines(result.stderr)
    assert result.returncode == 2 and len(errors) == 1, result.stderr[-3000:]
    assert all(fragment in errors[0] for fragment in fragments), errors[0]
    return errors[0]


@dataclass
class RecordCheck:
    """How an output's records compare with a complete run's: lost, duplicated, torn and unexpected ones."""

    lost: int = 0
    duplicated: int = 0
    torn: int = 0
    unexpected: int = 0

    def __iadd__(self, other: RecordCheck) -> RecordCheck:
        self.lost += other.lost
        self.duplicated += other.duplicated
        self.torn += other.torn
        self.unexpected += other.unexpected
        return self

    @property
    def clean(self) -> bool:
        """No record lost, duplicated, torn or unexpected."""
        return not (self.lost or self.duplicated or self.torn or self.unexpected)


def check_records(output: Path, reference: list[str]) -> RecordCheck:
    """Compare a ``.jsonl`` output with the lines of a complete run's.

    Args:
        output: The output to check.
        reference: The complete run's lines (its records, as text).

    Returns:
        Records of the reference missing from the output, there more than once, lines that are not a whole record
        (not JSON, or not ended by a newline), and records not in the reference.
    """
    text = output.read_text() if output.exists() else ""
    lines = text.split("\n")
    torn = int(lines[-1] != "")  # what follows the last newline
    records = []
    for line in lines[:-1]:
        try:
            records.append(json.dumps(json.loads(line), sort_keys=True))
        except json.JSONDecodeError:
            torn += 1
    expected = {json.dumps(json.loads(line), sort_keys=True) for line in reference}
    return RecordCheck(
        lost=len(expected - set(records)),
        duplicated=len(records) - len(set(records)),
        torn=torn,
        unexpected=len(set(records) - expected),
    )
