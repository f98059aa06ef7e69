"""The soak benchmark on a small run: a real ``fer-demo`` process, real calls, its cache expiring as it serves."""

import json

from export.benchmarks.soak import DistinctPhotos, growth_after_warmup
from serving_demo import EXAMPLES_DIR

REQUESTS, CLIENTS, EXPIRY_S, RATE = 40, 2, 4, 4.0
FILES_PER_CALL = 3  # the upload, the annotated result, the empty file gr.File(type="filepath") leaves


def test_a_short_soak_keeps_the_cache_bounded_and_leaves_only_the_examples(tmp_path, capsys):
    from export.cli.soak import main

    out = tmp_path / "soak.json"
    argv = ["--requests", str(REQUESTS), "--clients", str(CLIENTS), "--sample-every", "4", "--rate", str(RATE)]
    assert main(argv + ["--cache-expiry", str(EXPIRY_S), "--json", str(out)]) == 0
    table = capsys.readouterr().out
    assert "growth after warm-up" in table and "settled" in table
    result = json.loads(out.read_text())
    assert {
        "requests",
        "clients",
        "ok",
        "failures",
        "failure_messages",
        "wall_s",
        "requests_per_sec",
        "p50_ms",
        "p95_ms",
        "server",
        "baseline",
        "samples",
        "settled",
        "peak",
        "growth_pct",
        "growth_pct_per_recent_request",
        "growth_method",
        "warmup_requests",
        "warmup_s",
        "cache_expiry_s",
        "cleanup_every_s",
    } <= result.keys()
    assert result["ok"] == REQUESTS and result["failures"] == 0, result["failure_messages"]
    assert result["rate"] == RATE and result["wall_s"] >= (REQUESTS - 1) / RATE  # paced: call i starts at i / rate
    assert result["server"]["status"] == "ok"
    samples = result["samples"]
    assert [s["requests"] for s in samples] == list(range(4, REQUESTS + 1, 4))
    assert set(result["growth_pct"]) == {"rss_bytes", "cache_bytes", "cache_files", "cache_dirs"}
    assert set(result["growth_pct_per_recent_request"]) == {"cache_bytes", "cache_files", "cache_dirs"}
    assert all(0 < s["recent_requests"] <= s["requests"] for s in samples)
    assert all(s["rss_bytes"] > 50 * 2**20 for s in samples)  # the server's memory, not a stray number

    # Bounded: at any sample, the cache holds the baseline (the example photos' copies) plus the files of the
    # calls made within the last expiry cycle, however many calls came before.
    window_s = result["cache_expiry_s"] + result["cleanup_every_s"] + 2
    baseline = result["baseline"]
    for sample in samples:
        before = [s["requests"] for s in samples if s["elapsed_s"] <= sample["elapsed_s"] - window_s]
        recent = sample["requests"] - (before[-1] if before else 0) + CLIENTS
        assert sample["cache_files"] <= baseline["cache_files"] + FILES_PER_CALL * recent, (sample, recent)
    assert result["peak"]["cache_files"] < baseline["cache_files"] + FILES_PER_CALL * REQUESTS
    # Once idle past the expiry: back to the example photos' copies, which stay; no folder left behind.
    settled = result["settled"]
    assert baseline["cache_files"] >= 2 and settled["cache_files"] == baseline["cache_files"]
    assert settled["cache_dirs"] <= baseline["cache_dirs"]


def test_every_call_sends_a_different_photo(tmp_path):
    photos = DistinctPhotos(EXAMPLES_DIR / "astronaut.jpg")
    contents = {photos.write(i, tmp_path / f"{i}.jpg").read_bytes() for i in (0, 1, 2, 2**20)}
    assert len(contents) == 4


def test_growth_compares_the_last_quarter_with_the_first():
    samples = [
        {"rss_bytes": v, "cache_bytes": 1, "cache_files": 0, "cache_dirs": 2, "recent_requests": 1}
        for v in (100, 100, 110, 120)
    ]
    growth = growth_after_warmup(samples)
    assert growth == {"rss_bytes": 20.0, "cache_bytes": 0.0, "cache_files": None, "cache_dirs": 0.0}
    assert growth_after_warmup(samples[:1])["rss_bytes"] is None


def test_growth_per_recent_request_ignores_a_change_of_rate_but_not_a_leak():
    rate = [10, 10, 20, 20]  # calls ended within the last expiry cycle: the rate doubled
    steady = [{"cache_files": 3 * r, "recent_requests": r} for r in rate]
    assert growth_after_warmup(steady, ("cache_files",))["cache_files"] == 100.0
    assert growth_after_warmup(steady, ("cache_files",), per_recent_request=True)["cache_files"] == 0.0
    leak = [{"cache_files": 3 * r + leaked, "recent_requests": r} for r, leaked in zip(rate, (0, 10, 20, 30))]
    assert growth_after_warmup(leak, ("cache_files",), per_recent_request=True)["cache_files"] == 50.0
