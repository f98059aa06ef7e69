"""Soak test of the demo: many ``analyze`` calls in a row, watching the server's memory and cache for growth.

    python -m export.cli.soak --requests 10000 --json soak.json

Starts ``fer-demo`` (``python -m serving_demo.cli``) as its own process on a free loopback port, with its own
Gradio cache directory (``GRADIO_TEMP_DIR``) and a short ``--cache-expiry``, and waits for ``/healthz``. A few
clients (``gradio_client``, one thread each) then send ``requests`` calls between them, each with a photo no other
call sends (the example photo with the call's number stamped in a corner): identical uploads and results would
share one cache file and hide growth. Every ``sample_every`` calls it samples the server process's resident memory
(RSS) and the cache directory's disk use, files and folders. After the calls it waits until everything the calls
left in the cache has expired and samples once more (``settled``). With ``rate`` the calls are paced: below what
the server can serve, the request rate, and so the cache's steady size, stays the same throughout.

Growth after warm-up, per measure: the mean of the last quarter of the samples taken after warm-up against the
mean of their first quarter, in percent. Warm-up ends at the first sample taken after ``warmup`` calls and after
the cache's first full expiry cycle (expiry plus clean-up interval), when the cache can have reached its steady
size. Means over a quarter of the samples smooth the saw-tooth of the periodic clean-up. At steady state the cache
holds what the last expiry cycle's calls left, so its size follows the request rate, which moves when other jobs
share the machine; the cache's growth is therefore also given per call ended within the cycle before each sample,
which a leak raises and a change of rate does not.
"""

from __future__ import annotations

import bisect
import os
import shutil
import tempfile
import threading
import time
from pathlib import Path

from export.benchmarks.demo_load import call_figures
from export.benchmarks.demo_server import cache_usage, demo_process, process_rss_bytes
from serving_demo import EXAMPLES_DIR

DEFAULT_IMAGE = EXAMPLES_DIR / "astronaut.jpg"
API_NAME = "/analyze"
MEASURES = ("rss_bytes", "cache_bytes", "cache_files", "cache_dirs")
CACHE_MEASURES = MEASURES[1:]
_STAMP_BITS = 24  # the call number, as a row of black or white 8x8 squares in the photo's top-left corner


class DistinctPhotos:
    """Copies of one photo that differ from each other: call ``i`` gets ``i`` stamped in the top-left corner.

    Args:
        image: The photo (any format OpenCV reads), at least 192 x 8 pixels.

    Raises:
        OSError: if ``image`` cannot be read as an image.
    """

    def __init__(self, image: str | Path):
        import cv2

        self.pixels = cv2.imread(str(image), cv2.IMREAD_COLOR)
        if self.pixels is None:
            raise OSError(f"cannot read {image} as an image")

    def write(self, number: int, path: str | Path) -> Path:
        """Write copy ``number`` (taken modulo 2**24) to ``path`` as a JPEG and return ``path``."""
        import cv2

        pixels = self.pixels.copy()
        for bit in range(_STAMP_BITS):
            pixels[0:8, bit * 8 : bit * 8 + 8] = 255 if (number >> bit) & 1 else 0
        ok, encoded = cv2.imencode(".jpg", pixels, [cv2.IMWRITE_JPEG_QUALITY, 90])
        if not ok:
            raise OSError("the photo could not be encoded as JPEG")
        Path(path).write_bytes(encoded.tobytes())
        return Path(path)


def growth_after_warmup(
    samples: list[dict], measures: tuple[str, ...] = MEASURES, per_recent_request: bool = False
) -> dict[str, float | None]:
    """Growth of each measure over ``samples`` (those after warm-up): last quarter's mean vs first quarter's, in %.

    Args:
        samples: The samples after warm-up, in order.
        measures: The keys to compare.
        per_recent_request: Divide each value by the sample's ``recent_requests`` (the calls that ended within
            one cache expiry cycle before it) first. What the cache holds at steady state is proportional to the
            request rate, which varies on a shared machine; a leak grows this ratio, a change of rate does not.

    Returns:
        ``{measure: percent}``; None where there are fewer than two samples or the first quarter's mean is 0.
    """
    if len(samples) < 2:
        return {m: None for m in measures}
    window = max(1, len(samples) // 4)

    def value(sample: dict, measure: str) -> float:
        return sample[measure] / max(1, sample["recent_requests"]) if per_recent_request else sample[measure]

    growth: dict[str, float | None] = {}
    for measure in measures:
        first = sum(value(s, measure) for s in samples[:window]) / window
        last = sum(value(s, measure) for s in samples[-window:]) / window
        growth[measure] = round((last - first) / first * 100, 2) if first else None
    return growth


def run_soak(
    requests: int = 10_000,
    clients: int = 4,
    sample_every: int | None = None,
    warmup: int | None = None,
    cache_expiry: int = 30,
    image: str | Path = DEFAULT_IMAGE,
    server_options: list[str] | None = None,
    settle: bool = True,
    timeout: float = 120,
    rate: float | None = None,
) -> dict:
    """Start a demo process, send it ``requests`` distinct ``analyze`` calls from ``clients`` clients, and sample it.

    Args:
        requests: Calls in all, shared between the clients.
        clients: Concurrent clients, each a ``gradio_client.Client`` in its own thread.
        sample_every: Calls between two samples (default: a fiftieth of ``requests``, at least 1).
        warmup: Calls before growth is measured (default: a fifth of ``requests``); warm-up also lasts at least
            one full cache expiry cycle.
        cache_expiry: The server's ``--cache-expiry`` in seconds.
        image: The photo the calls send, stamped with each call's number.
        server_options: More ``fer-demo`` options (``--artifacts``, ``--backend``, ``--detector``).
        settle: After the calls, wait until everything they cached has expired (twice the expiry cycle, since an
            emptied folder is removed one expiry after its last file) and take the ``settled`` sample.
        timeout: Seconds allowed for each call.
        rate: Calls started per second at most, in all (default: as fast as the clients go). Below what the
            server can serve, the rate stays steady, and so does the cache's size at steady state.

    Returns:
        A dict: ``requests``, ``clients``, ``rate``, ``sample_every``, ``warmup_requests``, ``warmup_s``,
        ``cache_expiry_s``, ``cleanup_every_s``, ``image``, ``server`` (its ``/healthz`` answer), ``ok``, ``failures``,
        ``failure_messages``, ``wall_s``, ``requests_per_sec``, ``p50_ms``, ``p95_ms``, ``baseline`` (a sample
        before the first call), ``samples`` (each: ``requests`` done, ``elapsed_s``, ``recent_requests`` (calls
        ended within the last expiry cycle), ``rss_bytes``, ``cache_bytes``, ``cache_files``, ``cache_dirs``),
        ``settled`` (or None), ``peak`` (the largest value of each measure over the samples), ``growth_pct``
        (``growth_after_warmup`` of the samples after warm-up), ``growth_pct_per_recent_request`` (the same for the
        cache measures, per recent call) and ``growth_method``.

    Raises:
        ValueError: if ``requests``, ``clients``, ``sample_every`` or ``cache_expiry`` is below 1, or ``rate`` is
            not above 0.
        OSError: if ``image`` cannot be read.
        RuntimeError: if the demo does not start.
    """
    from serving_demo.cache_expiry import CacheExpiry

    if min(requests, clients, cache_expiry) < 1 or (sample_every is not None and sample_every < 1):
        raise ValueError("requests, clients, sample_every and cache_expiry must be at least 1")
    if rate is not None and rate <= 0:
        raise ValueError(f"rate must be above 0, not {rate}")
    os.environ["GRADIO_ANALYTICS_ENABLED"] = "False"  # before gradio_client is imported
    os.environ.setdefault("HF_HUB_OFFLINE", "1")
    os.environ.setdefault("HF_HUB_DISABLE_TELEMETRY", "1")
    from gradio_client import Client, handle_file

    sample_every = sample_every or max(1, requests // 50)
    warmup = requests // 5 if warmup is None else warmup
    cycle_s = cache_expiry + CacheExpiry(cache_expiry).every_s
    photos = DistinctPhotos(image)
    latencies: list[float] = []
    failures: list[str] = []
    samples: list[dict] = []
    finished: list[float] = []  # when each call ended
    lock = threading.Lock()
    state = {"next": 0, "done": 0}

    with tempfile.TemporaryDirectory(prefix="fer-soak-") as work:
        work_dir = Path(work)
        with demo_process(work_dir / "cache", cache_expiry, server_options, log_path=work_dir / "server.log") as (
            process,
            url,
            health,
        ):
            clock = {"start": time.perf_counter()}  # reset when the clients start together

            def sample(done: int) -> dict:
                now = time.perf_counter()
                with lock:
                    recent = len(finished) - bisect.bisect_left(finished, now - cycle_s)
                return {
                    "requests": done,
                    "elapsed_s": round(now - clock["start"], 2),
                    "recent_requests": recent,
                    "rss_bytes": process_rss_bytes(process.pid),
                    **cache_usage(work_dir / "cache"),
                }

            baseline = sample(0)
            start = threading.Barrier(clients + 1, action=lambda: clock.update(start=time.perf_counter()))

            def worker(number: int) -> None:
                client_dir = work_dir / f"client{number}"
                client_dir.mkdir()
                try:
                    client = Client(
                        url,
                        verbose=False,
                        download_files=str(client_dir / "downloads"),
                        httpx_kwargs={"timeout": timeout},
                        analytics_enabled=False,
                    )
                except Exception as e:  # noqa: BLE001 - reported; the other clients take its calls
                    with lock:
                        failures.append(f"client setup: {type(e).__name__}: {e}")
                    return
                finally:
                    start.wait()
                try:
                    while True:
                        with lock:
                            index = state["next"]
                            state["next"] += 1
                        if index >= requests:
                            return
                        if rate:  # call number i starts no earlier than i / rate seconds after the start
                            time.sleep(max(0.0, clock["start"] + index / rate - time.perf_counter()))
                        photo = photos.write(index, client_dir / "photo.jpg")
                        called = time.perf_counter()
                        try:
                            result = client.submit(handle_file(str(photo)), api_name=API_NAME).result(timeout=timeout)
                            problem = _result_problem(result, client_dir / "downloads")
                        except Exception as e:  # noqa: BLE001 - counted, not raised: the soak goes on
                            problem = f"{type(e).__name__}: {str(e).strip() or repr(e)}"
                        elapsed_ms = (time.perf_counter() - called) * 1000
                        with lock:
                            if problem:
                                failures.append(problem)
                            else:
                                latencies.append(elapsed_ms)
                            state["done"] += 1
                            done = state["done"]
                            finished.append(time.perf_counter())  # under the lock: in order
                        if done % sample_every == 0 or done == requests:
                            taken = sample(done)
                            with lock:
                                samples.append(taken)
                finally:
                    client.close()

            threads = [threading.Thread(target=worker, args=(i,), daemon=True) for i in range(clients)]
            for thread in threads:
                thread.start()
            start.wait()
            for thread in threads:
                thread.join()
            wall_s = time.perf_counter() - clock["start"]
            settled = None
            if settle:
                time.sleep(2 * cycle_s + 1)
                settled = sample(state["done"])

    samples.sort(key=lambda s: s["requests"])
    after = [s for s in samples if s["requests"] >= warmup and s["elapsed_s"] >= cycle_s]
    return {
        "requests": requests,
        "clients": clients,
        "rate": rate,
        "sample_every": sample_every,
        "warmup_requests": after[0]["requests"] if after else None,
        "warmup_s": after[0]["elapsed_s"] if after else None,
        "cache_expiry_s": cache_expiry,
        "cleanup_every_s": CacheExpiry(cache_expiry).every_s,
        "image": str(image),
        "server": health,
        **call_figures(latencies, failures, requests, wall_s),
        "baseline": baseline,
        "samples": samples,
        "settled": settled,
        "peak": {m: max(s[m] for s in samples) for m in MEASURES} if samples else None,
        "growth_pct": growth_after_warmup(after),
        "growth_pct_per_recent_request": growth_after_warmup(after, CACHE_MEASURES, per_recent_request=True),
        "growth_method": "mean of the last quarter of the post-warm-up samples vs the mean of their first quarter; "
        "per recent request: each cache value divided first by the calls that ended within one expiry cycle before",
    }


def _result_problem(result, downloads: Path) -> str | None:
    """What is wrong with one ``analyze`` result, or None; removes the downloaded annotated photo either way."""
    if not isinstance(result, (tuple, list)) or len(result) < 4:
        return f"unexpected result: {result!r:.200}"
    annotated, _label, faces, _readout = result[:4]
    try:
        if not annotated or not os.path.isfile(annotated) or os.path.getsize(annotated) == 0:
            return f"no annotated photo downloaded: {annotated!r:.200}"
        if not isinstance(faces, dict) or "faces" not in faces:
            return f"faces output is not the analysis JSON: {faces!r:.200}"
        return None
    finally:
        if annotated and Path(annotated).parent.parent == downloads:
            shutil.rmtree(Path(annotated).parent, ignore_errors=True)


def format_table(result: dict) -> str:
    """The samples as a text table (MiB for memory and disk; ``recent``: calls ended within the last expiry cycle),
    then the growth after warm-up and any failures."""
    mib = 1024 * 1024
    header = (
        f"{'requests':>9}  {'elapsed s':>9}  {'recent':>6}  {'RSS MiB':>8}  {'cache MiB':>9}  {'files':>6}  "
        f"{'folders':>7}"
    )
    rows = [header]
    named = [("start", result["baseline"])] + [("", s) for s in result["samples"]]
    if result["settled"]:
        named.append(("settled", result["settled"]))
    for name, s in named:
        rows.append(
            f"{name or s['requests']:>9}  {s['elapsed_s']:>9.1f}  {s['recent_requests']:>6}  "
            f"{s['rss_bytes'] / mib:>8.1f}  {s['cache_bytes'] / mib:>9.2f}  {s['cache_files']:>6}  {s['cache_dirs']:>7}"
        )

    def pct(growth: dict, measure: str) -> str:
        return "-" if growth[measure] is None else f"{growth[measure]:+.1f} %"

    growth, per_call = result["growth_pct"], result["growth_pct_per_recent_request"]
    rows.append(
        f"growth after warm-up ({result['warmup_requests']} requests, {result['warmup_s']} s): "
        f"RSS {pct(growth, 'rss_bytes')}, cache disk {pct(growth, 'cache_bytes')}, "
        f"files {pct(growth, 'cache_files')}, folders {pct(growth, 'cache_dirs')}"
    )
    rows.append(
        f"  per recent request: cache disk {pct(per_call, 'cache_bytes')}, files {pct(per_call, 'cache_files')}, "
        f"folders {pct(per_call, 'cache_dirs')}"
    )
    rows.append(
        f"{result['ok']} ok, {result['failures']} failed, {result['requests_per_sec']} req/s, "
        f"p50 {result['p50_ms']} ms, p95 {result['p95_ms']} ms; cache expiry {result['cache_expiry_s']} s "
        f"(clean-up every {result['cleanup_every_s']} s)"
    )
    rows += [f"  failure: {message}" for message in result["failure_messages"]]
    return "\n".join(rows)
