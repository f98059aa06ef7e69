"""Concurrent load test of the demo's ``analyze`` endpoint, as API clients would drive it.

    python -m export.cli.demo_load                       # starts the demo in-process on a free port
    python -m export.cli.demo_load --url http://127.0.0.1:7860/ --clients 32 --requests 10
    python -m export.cli.demo_load --json load.json

Every client is its own ``gradio_client.Client`` in its own thread and sends the same photo
``--requests`` times. A call counts as a success only when the annotated image it returns was
downloaded completely: it decodes to the end and has the photo's size. A truncated download
(the server closing the connection early, or a short file) is a failure, as is any error.
Exits with status 1 when any call failed.
"""

from __future__ import annotations

import io
import os
import tempfile
import threading
import time
from pathlib import Path

from serving_demo import EXAMPLES_DIR  # light: serving_demo/__init__ imports only pathlib

DEFAULT_IMAGE = EXAMPLES_DIR / "two_astronauts.jpg"
API_NAME = "/analyze"
MAX_MESSAGES = 5  # distinct failure messages kept in the result


def _quiet_hub_environment() -> None:
    """No analytics, telemetry or hub look-ups from gradio_client (set before it is imported)."""
    os.environ["GRADIO_ANALYTICS_ENABLED"] = "False"
    os.environ.setdefault("HF_HUB_OFFLINE", "1")
    os.environ.setdefault("HF_HUB_DISABLE_TELEMETRY", "1")


def percentile(values: list[float], q: float) -> float | None:
    """The ``q``-th percentile (0-100) of ``values`` by linear interpolation, or None if empty."""
    if not values:
        return None
    ordered = sorted(values)
    position = (len(ordered) - 1) * q / 100
    low = int(position)
    high = min(low + 1, len(ordered) - 1)
    return ordered[low] + (ordered[high] - ordered[low]) * (position - low)


def image_size(path: str | Path) -> tuple[int, int]:
    """The (width, height) of the image at ``path`` as the demo sees it (EXIF orientation applied).

    Raises:
        OSError: if the file cannot be read or decoded.
    """
    from PIL import Image, ImageOps

    with Image.open(path) as im:
        return ImageOps.exif_transpose(im).size


def check_complete_image(path: str | Path, expected_size: tuple[int, int]) -> str | None:
    """Whether the file at ``path`` is a complete image of ``expected_size``.

    Args:
        path: A downloaded image.
        expected_size: Its expected (width, height).

    Returns:
        None if the image is complete, else what is wrong with it.
    """
    import cv2
    import numpy as np
    from PIL import Image, ImageFile

    try:
        data = Path(path).read_bytes()
    except OSError as e:
        return f"annotated image unreadable: {e}"
    if not data:
        return "annotated image is an empty file"
    if ImageFile.LOAD_TRUNCATED_IMAGES:  # someone relaxed PIL globally; decoding alone would not tell
        return "PIL.ImageFile.LOAD_TRUNCATED_IMAGES is set; cannot check for truncation"
    try:
        with Image.open(io.BytesIO(data)) as im:
            im.load()  # raises OSError on a truncated file
            size, fmt = im.size, im.format
    except Exception as e:  # noqa: BLE001 - any decoding error means an incomplete file
        return f"annotated image does not decode ({len(data)} bytes): {type(e).__name__}: {e}"
    if fmt == "JPEG" and not data.rstrip(b"\x00").endswith(b"\xff\xd9"):
        return f"annotated JPEG has no end-of-image marker ({len(data)} bytes)"
    if cv2.imdecode(np.frombuffer(data, np.uint8), cv2.IMREAD_UNCHANGED) is None:
        return f"annotated image does not decode with OpenCV ({len(data)} bytes)"
    if tuple(size) != tuple(expected_size):
        return f"annotated image is {size[0]}x{size[1]}, expected {expected_size[0]}x{expected_size[1]}"
    return None


def _check_result(result, expected_size: tuple[int, int]) -> str | None:
    """What is wrong with one ``analyze`` result (annotated, label, faces, readout), or None."""
    if not isinstance(result, (tuple, list)) or len(result) < 4:
        return f"unexpected result: {result!r:.200}"
    annotated, _label, faces, readout = result[:4]
    if not annotated or not os.path.isfile(annotated):
        return f"no annotated image file: {annotated!r:.200}"
    problem = check_complete_image(annotated, expected_size)
    if problem:
        return problem
    if not isinstance(faces, dict) or "faces" not in faces:
        return f"faces output is not the analysis JSON: {faces!r:.200}"
    if not isinstance(readout, str) or not readout:
        return "empty readout"
    return None


def _endpoint_args(client, image_file, backend: str | None, detector: str | None) -> list:
    """Positional arguments for ``analyze``: the photo, then backend and detector only where given.

    A parameter left out takes the endpoint's default. ``detector`` needs the three-input endpoint.

    Raises:
        ValueError: if ``detector`` is given but the endpoint has no third input.
    """
    args = [image_file]
    if backend is None and detector is None:
        return args
    parameters = client.view_api(print_info=False, return_format="dict")["named_endpoints"][API_NAME]["parameters"]
    if backend is None:  # needed positionally before detector: the endpoint's own default
        backend = parameters[1].get("parameter_default")
    args.append(backend)
    if detector is not None:
        if len(parameters) < 3:
            raise ValueError(f"the {API_NAME} endpoint of this server has no detector input")
        args.append(detector)
    return args


def _describe(error: BaseException) -> str:
    message = str(error).strip() or repr(error)
    return f"{type(error).__name__}: {message}"


def run_load_test(
    url: str,
    image: str | Path,
    clients: int = 16,
    requests_per_client: int = 20,
    backend: str | None = None,
    detector: str | None = None,
    timeout: float = 60,
) -> dict:
    """Sends ``clients`` x ``requests_per_client`` concurrent ``analyze`` calls and checks every result.

    Each client is its own ``gradio_client.Client(url)`` in its own thread, downloading into its
    own temporary directory (removed afterwards). The clients connect first and then start together.

    Args:
        url: The demo's root URL, e.g. ``http://127.0.0.1:7860/``.
        image: The photo every call sends.
        clients: Concurrent clients (threads).
        requests_per_client: Calls each client makes, one after the other.
        backend: The backend input; None leaves the endpoint's default.
        detector: The detector input, sent only when not None (for the three-input endpoint).
        timeout: Seconds allowed for each call (HTTP requests and waiting for the result).

    Returns:
        A dict: ``url``, ``image``, ``backend``, ``detector``, ``clients``, ``requests_per_client``,
        ``requests`` (total calls), ``ok``, ``failures``, ``failure_messages`` (up to five distinct
        messages, in order of first occurrence), ``wall_s``, ``requests_per_sec`` (calls, failed
        ones included, per wall-clock second) and ``p50_ms``, ``p95_ms``, ``max_ms`` (latency of the
        successful calls, upload and download included; None if there were none).

    Raises:
        ValueError: if ``clients`` or ``requests_per_client`` is below 1.
        OSError: if ``image`` cannot be read as an image.
    """
    if clients < 1 or requests_per_client < 1:
        raise ValueError("clients and requests_per_client must be at least 1")
    _quiet_hub_environment()
    from gradio_client import Client, handle_file

    image = Path(image)
    expected_size = image_size(image)
    latencies: list[float] = []
    failures: list[str] = []
    lock = threading.Lock()
    start = threading.Barrier(clients + 1)

    def fail(message: str, count: int = 1) -> None:
        with lock:
            failures.extend([message] * count)

    def worker(download_dir: str) -> None:
        client = None
        try:
            try:
                client = Client(
                    url,
                    verbose=False,
                    download_files=download_dir,
                    httpx_kwargs={"timeout": timeout},
                    analytics_enabled=False,
                )
                args = _endpoint_args(client, handle_file(str(image)), backend, detector)
            except Exception as e:  # noqa: BLE001 - reported, not raised: the other clients go on
                fail(f"client setup: {_describe(e)}", requests_per_client)
                return
            finally:
                start.wait()
            for _ in range(requests_per_client):
                began = time.perf_counter()
                try:
                    result = client.submit(*args, api_name=API_NAME).result(timeout=timeout)
                except Exception as e:  # noqa: BLE001
                    fail(_describe(e))
                    continue
                elapsed_ms = (time.perf_counter() - began) * 1000
                problem = _check_result(result, expected_size)
                if problem:
                    fail(problem)
                else:
                    with lock:
                        latencies.append(elapsed_ms)
        finally:
            if client is not None:
                client.close()

    with tempfile.TemporaryDirectory(prefix="fer-load-") as downloads:
        threads = [
            threading.Thread(target=worker, args=(os.path.join(downloads, f"client{i}"),), daemon=True)
            for i in range(clients)
        ]
        for thread in threads:
            thread.start()
        start.wait()  # every client connected (or failed to): start the clock
        began = time.perf_counter()
        for thread in threads:
            thread.join()
        wall_s = time.perf_counter() - began

    total = clients * requests_per_client
    return {
        "url": url,
        "image": str(image),
        "backend": backend,
        "detector": detector,
        "clients": clients,
        "requests_per_client": requests_per_client,
        "requests": total,
        **call_figures(latencies, failures, total, wall_s),
    }


def call_figures(latencies: list[float], failures: list[str], requests: int, wall_s: float) -> dict:
    """The figures of a run of calls: ``ok``, ``failures``, ``failure_messages`` (the first few distinct ones),
    ``wall_s``, ``requests_per_sec``, ``p50_ms``, ``p95_ms`` and ``max_ms``.

    Args:
        latencies: Milliseconds of each call that succeeded.
        failures: A message for each call that failed.
        requests: The calls made in all.
        wall_s: Seconds from the first call's start to the last one's end.
    """
    return {
        "ok": len(latencies),
        "failures": len(failures),
        "failure_messages": list(dict.fromkeys(failures))[:MAX_MESSAGES],
        "wall_s": round(wall_s, 3),
        "requests_per_sec": round(requests / wall_s, 2) if wall_s > 0 else None,
        "p50_ms": _round(percentile(latencies, 50)),
        "p95_ms": _round(percentile(latencies, 95)),
        "max_ms": _round(max(latencies) if latencies else None),
    }


def _round(value: float | None) -> float | None:
    return None if value is None else round(value, 1)


def format_table(result: dict) -> str:
    """A small text table of one ``run_load_test`` result, with the failure messages under it."""

    columns = [
        ("clients", result["clients"], "d"),
        ("requests", result["requests"], "d"),
        ("failures", result["failures"], "d"),
        ("wall s", result["wall_s"], ".2f"),
        ("req/s", result["requests_per_sec"], ".2f"),
        ("p50 ms", result["p50_ms"], ".1f"),
        ("p95 ms", result["p95_ms"], ".1f"),
    ]
    widths = [max(len(name), 8) for name, _, _ in columns]
    header = "  ".join(f"{name:>{w}}" for (name, _, _), w in zip(columns, widths))
    row = "  ".join(f"{'-' if v is None else format(v, f):>{w}}" for (_, v, f), w in zip(columns, widths))
    lines = [header, row]
    lines += [f"  failure: {message}" for message in result["failure_messages"]]
    return "\n".join(lines)
