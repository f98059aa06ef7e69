"""The demo-server measurements of the benchmarks."""

import os

from export.benchmarks.demo_server import cache_usage, process_rss_bytes


def test_cache_usage_counts_files_folders_and_disk_use(tmp_path):
    (tmp_path / "a").mkdir()
    (tmp_path / "a" / "f.bin").write_bytes(b"x" * 10_000)
    (tmp_path / "g.bin").write_bytes(b"")
    usage = cache_usage(tmp_path)
    assert usage["cache_files"] == 2 and usage["cache_dirs"] == 1 and usage["cache_bytes"] >= 10_000


def test_process_rss_bytes_reads_this_process():
    assert 10 * 2**20 < process_rss_bytes(os.getpid()) < 64 * 2**30
