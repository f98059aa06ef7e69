"""``fer-demo`` in a process of its own, for benchmarks that watch the server: its memory and its cache.

``demo_process`` starts it on a free loopback port with its own Gradio cache directory and waits for ``/healthz``;
``process_rss_bytes`` and ``cache_usage`` measure it.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
import time
import urllib.request
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

from serving_demo.local_server import free_port


def process_rss_bytes(pid: int) -> int:
    """The resident memory of process ``pid``, in bytes (Linux ``/proc``, else ``psutil``).

    Raises:
        OSError: if the process is gone or its memory cannot be read.
    """
    status = Path(f"/proc/{pid}/status")
    if status.exists():
        for line in status.read_text().splitlines():
            if line.startswith("VmRSS:"):
                return int(line.split()[1]) * 1024
    import psutil  # not on Linux: psutil, if installed

    try:
        return psutil.Process(pid).memory_info().rss
    except psutil.Error as e:
        raise OSError(f"cannot read the memory of process {pid}: {e}") from e


def cache_usage(cache_dir: str | Path) -> dict[str, int]:
    """What a cache directory holds: ``cache_bytes`` (disk use of its files and folders, as ``du``),
    ``cache_files`` and ``cache_dirs`` (the directory itself not counted). Entries that vanish meanwhile are skipped.
    """
    used, files, dirs = 0, 0, 0
    for root, dirnames, filenames in os.walk(cache_dir):
        for name in dirnames + filenames:
            try:
                stat = os.lstat(os.path.join(root, name))
            except FileNotFoundError:
                continue
            used += stat.st_blocks * 512
        files += len(filenames)
        dirs += len(dirnames)
    return {"cache_bytes": used, "cache_files": files, "cache_dirs": dirs}


def _http_json(url: str, timeout: float) -> dict:
    with urllib.request.urlopen(url, timeout=timeout) as response:
        return json.loads(response.read())


@contextmanager
def demo_process(
    cache_dir: str | Path,
    cache_expiry: int,
    server_options: list[str] | None = None,
    log_path: str | Path | None = None,
    startup_timeout: float = 180,
) -> Iterator[tuple[subprocess.Popen, str, dict]]:
    """``fer-demo`` in its own process on a free 127.0.0.1 port, with its own cache directory, for the block.

    Args:
        cache_dir: The server's Gradio cache (``GRADIO_TEMP_DIR``); created if missing.
        cache_expiry: The server's ``--cache-expiry`` in seconds.
        server_options: More ``fer-demo`` options (``--artifacts``, ``--backend``, ...).
        log_path: Where the server's output goes (default: discarded).
        startup_timeout: Seconds allowed until ``/healthz`` answers.

    Yields:
        ``(process, url, health)``: the server process, its root URL and its ``/healthz`` answer.

    Raises:
        RuntimeError: if the server exits or does not answer ``/healthz`` in time (with the end of its log).
    """
    port = free_port()
    url = f"http://127.0.0.1:{port}/"
    Path(cache_dir).mkdir(parents=True, exist_ok=True)
    env = {k: v for k, v in os.environ.items() if k not in ("FER_DEMO_AUTH", "FER_DEMO_AUTH_FILE")}
    env["GRADIO_TEMP_DIR"] = str(cache_dir)
    command = [sys.executable, "-m", "serving_demo.cli", "--port", str(port), "--cache-expiry", str(cache_expiry)]
    command += server_options or []
    log = open(log_path, "wb") if log_path else subprocess.DEVNULL  # noqa: SIM115 - closed below
    process = subprocess.Popen(command, env=env, stdout=log, stderr=subprocess.STDOUT)
    try:
        deadline = time.monotonic() + startup_timeout
        while True:
            if process.poll() is not None:
                raise RuntimeError(f"the demo exited with status {process.returncode}{_log_tail(log_path)}")
            try:
                health = _http_json(url + "healthz", timeout=5)
                break
            except OSError:
                if time.monotonic() > deadline:
                    raise RuntimeError(f"the demo did not answer /healthz in {startup_timeout:.0f} s") from None
                time.sleep(0.5)
        yield process, url, health
    finally:
        process.terminate()
        try:
            process.wait(timeout=30)
        except subprocess.TimeoutExpired:
            process.kill()
            process.wait()
        if log is not subprocess.DEVNULL:
            log.close()


def _log_tail(log_path: str | Path | None, lines: int = 5) -> str:
    if not log_path or not Path(log_path).exists():
        return ""
    tail = Path(log_path).read_text(errors="replace").strip().splitlines()[-lines:]
    return ": " + " | ".join(tail) if tail else ""
