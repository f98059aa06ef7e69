"""Faults injected into ``export.push``: pushes killed with SIGKILL at random moments, pushes at once, leftovers.

A reader of the push directory lists versions as ``pushed_versions`` / ``latest_pushed`` do, or as TensorFlow
Serving does (every entry whose name is an integer). Whatever a kill or a race leaves, each listed version must be
complete (the same files, byte for byte, as a push that ran to its end), and no number is given twice.
"""

from __future__ import annotations

import fcntl
import hashlib
import os
import random
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest

from export.push import STAGING_PREFIX, latest_pushed, push, pushed_versions
from model_zoo.pretrained import pretrained_artifacts_dir
from tests.fer_fixtures import ROOT

# A process that pushes the shipped export to PUSH_DIR again and again (or N times), one version a line; it says
# "ready" first, then waits for a line on stdin before pushing when asked to ("wait"), so that two start together.
PUSHER = """
import sys
from export.push import push
source, push_dir, times, wait = sys.argv[1], sys.argv[2], int(sys.argv[3]), sys.argv[4] == "wait"
print("ready", flush=True)
if wait:
    sys.stdin.readline()
done = 0
while times == 0 or done < times:
    print(push(source, push_dir).name, flush=True)
    done += 1
"""

Tree = dict[str, tuple[int, str]]  # relative path -> (size, sha256)


def _start_pusher(push_dir: Path, times: int = 0, wait: bool = False) -> subprocess.Popen:
    """Start a process pushing the shipped export ``times`` times (0: until killed); return once it is ready."""
    command = [sys.executable, "-c", PUSHER, str(pretrained_artifacts_dir()), str(push_dir), str(times)]
    process = subprocess.Popen(
        [*command, "wait" if wait else "go"],
        cwd=ROOT,
        env={**os.environ, "PYTHONPATH": str(ROOT)},
        stdin=subprocess.PIPE,
        stdout=subprocess.PIPE,
        text=True,
    )
    assert process.stdout.readline() == "ready\n"
    return process


def _tree(directory: Path) -> Tree:
    """Every file under ``directory`` with its size and hash."""
    tree = {}
    for path in sorted(p for p in directory.rglob("*") if p.is_file()):
        with open(path, "rb") as f:
            tree[str(path.relative_to(directory))] = (path.stat().st_size, hashlib.file_digest(f, "sha256").hexdigest())
    return tree


def _stat_signature(directory: Path) -> dict[str, tuple[int, int, int]]:
    """Size, inode and modification time of every file under ``directory``: what a rewrite would change."""
    return {
        str(p.relative_to(directory)): (p.stat().st_size, p.stat().st_ino, p.stat().st_mtime_ns)
        for p in directory.rglob("*")
        if p.is_file()
    }


def serving_versions(push_dir: Path) -> dict[int, Path]:
    """The versions TensorFlow Serving's file-system source would load: every entry named by an integer."""
    versions = {}
    for entry in push_dir.iterdir():
        try:
            versions[int(entry.name)] = entry
        except ValueError:
            continue
    return versions


def _visible_versions(push_dir: Path) -> dict[int, Path]:
    """Every version a reader sees, checking that ``pushed_versions``, ``latest_pushed`` and TF Serving agree."""
    seen = serving_versions(push_dir)
    assert sorted(seen) == pushed_versions(push_dir)
    assert latest_pushed(push_dir) == (seen[max(seen)] if seen else None)
    return seen


@pytest.fixture(scope="module")
def reference(tmp_path_factory) -> tuple[Tree, float]:
    """The files of a version pushed without faults, and how long that push took (seconds)."""
    push_dir = tmp_path_factory.mktemp("reference")
    push(pretrained_artifacts_dir(), push_dir)  # the first push warms the page cache: time the second
    started = time.perf_counter()
    version = push(pretrained_artifacts_dir(), push_dir)
    return _tree(version), time.perf_counter() - started


@pytest.mark.slow  # 20 processes started and killed, 20 pushes checked byte for byte: 20-30 s on 2 busy cores
def test_pushes_killed_at_random_moments_leave_only_complete_versions(tmp_path, reference):
    expected, push_seconds = reference
    push_dir = tmp_path / "push"
    rng = random.Random(20)
    checked: dict[int, dict] = {}  # version -> stat signature when it was checked
    half_versions, rewritten, killed_mid_push = 0, 0, 0
    for _ in range(20):
        pusher = _start_pusher(push_dir)
        time.sleep(rng.uniform(0, 2.5 * push_seconds))  # into the first push, or one of the next ones
        pusher.send_signal(signal.SIGKILL)
        pusher.wait()
        pusher.stdout.close()
        killed_mid_push += any(push_dir.glob(f"{STAGING_PREFIX}*"))
        for number, version in _visible_versions(push_dir).items():
            if number in checked:  # a version once complete is never rewritten
                rewritten += _stat_signature(version) != checked[number]
                continue
            half_versions += _tree(version) != expected
            checked[number] = _stat_signature(version)

        before = pushed_versions(push_dir)
        version = push(pretrained_artifacts_dir(), push_dir)
        assert int(version.name) == max(before, default=0) + 1
        assert _tree(version) == expected
        checked[int(version.name)] = _stat_signature(version)
        assert not list(push_dir.glob(f"{STAGING_PREFIX}*")), "the leftover staging was not removed"
    print(f"20 kills ({killed_mid_push} mid-copy): {half_versions} half versions, {rewritten} rewritten versions")
    assert (half_versions, rewritten) == (0, 0)
    assert killed_mid_push > 0, "no kill landed inside a push: the trials tested nothing"
    assert pushed_versions(push_dir) == list(range(1, len(checked) + 1))


def test_two_pushes_at_once_get_distinct_complete_versions(tmp_path, reference):
    expected, _ = reference
    push_dir = tmp_path / "push"
    pushers = [_start_pusher(push_dir, times=4, wait=True) for _ in range(2)]
    for pusher in pushers:  # both start copying now
        pusher.stdin.write("go\n")
        pusher.stdin.flush()
    outputs = [pusher.communicate(timeout=120)[0] for pusher in pushers]
    assert [pusher.returncode for pusher in pushers] == [0, 0]
    got = [int(line) for output in outputs for line in output.split()]
    duplicates = len(got) - len(set(got))
    print(f"2 processes x 4 pushes at once: versions {sorted(got)}, {duplicates} duplicates")
    assert duplicates == 0 and sorted(got) == list(range(1, 9)) == pushed_versions(push_dir)
    for number, version in _visible_versions(push_dir).items():
        assert _tree(version) == expected, f"version {number} is not a complete push"
    assert [entry.name for entry in push_dir.iterdir() if entry.name.startswith(".")] == []


def test_a_push_leaves_the_staging_of_a_push_in_progress_alone(tmp_path):
    push_dir = tmp_path / "push"
    first = push(pretrained_artifacts_dir(), push_dir)
    other = push_dir / f"{STAGING_PREFIX}other"
    (other / "variables").mkdir(parents=True)
    lock = os.open(push_dir, os.O_RDONLY)  # another push is staging (a lock through another open file counts)
    try:
        fcntl.flock(lock, fcntl.LOCK_SH)
        second = push(pretrained_artifacts_dir(), push_dir)
        assert other.is_dir(), "the staging of a push in progress was removed"
    finally:
        os.close(lock)
    third = push(pretrained_artifacts_dir(), push_dir)  # alone: what is left is nobody's
    assert not other.exists()
    assert [first.name, second.name, third.name] == ["1", "2", "3"] and pushed_versions(push_dir) == [1, 2, 3]


def test_a_number_taken_by_a_file_is_skipped(tmp_path):
    push_dir = tmp_path / "push"
    push_dir.mkdir()
    (push_dir / "1").write_text("not a version")  # TF Serving would try to load it: its number is taken
    version = push(pretrained_artifacts_dir(), push_dir)
    assert version.name == "2" and (push_dir / "1").read_text() == "not a version"
    assert pushed_versions(push_dir) == [2]
