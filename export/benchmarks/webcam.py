"""How many annotated webcam frames per second reach the browser: the demo in headless Chromium with a fake camera.

    python -m export.cli.webcam_bench --seconds 10 --runs 3 --json webcam.json

Starts the demo in this process (or uses ``--url``), opens it in Debian's Chromium with Chromium's fake camera
playing a 30 fps video of a real face, starts the webcam stream and counts the annotated frames that arrive in
the page (a MutationObserver on ``#webcam-output``), not the server's own readout. Does it ``--runs`` times, each
in a fresh browser against the same demo, and reports every run and the median of each figure
(``measure_webcam_runs``). Prints a table, writes JSON. Needs Playwright and ``/usr/bin/chromium`` (``make test``
installs both).
"""

from __future__ import annotations

import re
import statistics
import tempfile
import time
from pathlib import Path

CHROMIUM = "/usr/bin/chromium"
CAMERA_FPS = 30
COUNT_ARRIVALS = """() => {
  window.__arrivals = [];
  const target = document.querySelector('#webcam-output');
  new MutationObserver(() => {
    const img = document.querySelector('#webcam-annotated');
    if (img && img.src !== window.__lastSrc) { window.__lastSrc = img.src; window.__arrivals.push(performance.now()); }
  }).observe(target, {subtree: true, childList: true, attributes: true, attributeFilter: ['src']});
}"""


def write_y4m(path: str | Path, rgb, frames: int = 60, fps: int = CAMERA_FPS) -> Path:
    """A raw YUV4MPEG2 video of an RGB image panning a few pixels per frame: what Chromium's fake camera plays.

    Args:
        path: Where to write the video.
        rgb: An (H, W, 3) uint8 image with even sides.
        frames: Frames in the video (Chromium loops it).
        fps: Frame rate in the header, which Chromium's fake camera follows.

    Returns:
        ``path``.
    """
    import cv2
    import numpy as np

    height, width = rgb.shape[:2]
    with open(path, "wb") as f:
        f.write(f"YUV4MPEG2 W{width} H{height} F{fps}:1 Ip A1:1 C420jpeg\n".encode())
        for i in range(frames):
            shifted = np.roll(rgb, round(8 * np.sin(2 * np.pi * i / frames)), axis=1)  # a head moving to and fro
            # The frame number in a corner: consecutive frames always differ, so every answer is a new image.
            cv2.putText(shifted, str(i), (8, height - 12), cv2.FONT_HERSHEY_SIMPLEX, 0.8, (255, 255, 255), 2)
            i420 = cv2.cvtColor(cv2.cvtColor(shifted, cv2.COLOR_RGB2BGR), cv2.COLOR_BGR2YUV_I420)
            f.write(b"FRAME\n" + i420.tobytes())
    return Path(path)


def camera_frame():
    """A 640x480 RGB frame with a real face (the demo's astronaut example photo)."""
    import cv2
    import numpy as np

    from serving_demo import EXAMPLES_DIR
    from serving_demo.image_io import load_image

    frame = np.full((480, 640, 3), 90, np.uint8)
    frame[:, 64:576] = cv2.resize(load_image(EXAMPLES_DIR / "astronaut.jpg"), (512, 480), interpolation=cv2.INTER_AREA)
    return frame


def launch_browser(playwright, video: Path, chromium: str = CHROMIUM):
    """Headless Chromium whose camera plays ``video``, with camera permission granted and no network extras."""
    return playwright.chromium.launch(
        executable_path=chromium,
        args=[
            "--no-sandbox",
            "--disable-gpu",
            "--no-first-run",
            "--disable-background-networking",
            "--disable-component-update",
            "--disable-sync",
            "--disable-quic",
            "--use-fake-device-for-media-stream",
            "--use-fake-ui-for-media-stream",
            f"--use-file-for-fake-video-capture={video}",
        ],
    )


def start_webcam(page) -> None:
    """Open the Webcam tab and start streaming; returns once the first annotated frame is shown."""
    page.get_by_role("tab", name="Webcam").click()
    page.get_by_text("Click to Access Webcam").click()
    page.locator("#camera button[aria-label='capture photo']").click()  # starts streaming
    page.wait_for_selector("#webcam-annotated", timeout=60_000)


def measure_webcam_fps(url: str, seconds: float = 10.0, detector: str | None = None, chromium: str = CHROMIUM) -> dict:
    """Annotated frames per second arriving in the page while a 30 fps fake camera streams.

    Args:
        url: The demo's address.
        seconds: How long to count, after the first frame and a second of warm-up.
        detector: Select this face detector in the page first (default: the page's).
        chromium: The Chromium executable.

    Returns:
        ``frames``, ``seconds``, ``fps_arriving``, ``interval_ms_p50``/``p95`` (between arrivals), ``camera_fps``,
        the page's last readout (``stats``) and the ``detect_ms`` and ``classify_ms`` it shows.

    Raises:
        FileNotFoundError: if Chromium is missing.
    """
    from playwright.sync_api import sync_playwright

    if not Path(chromium).exists():
        raise FileNotFoundError(f"{chromium} is missing: apt-get install chromium")
    import numpy as np

    with tempfile.TemporaryDirectory() as tmp, sync_playwright() as p:
        video = write_y4m(Path(tmp) / "face.y4m", camera_frame())
        browser = launch_browser(p, video, chromium)
        try:
            page = browser.new_context(viewport={"width": 1280, "height": 900}, permissions=["camera"]).new_page()
            page.goto(url)
            page.wait_for_selector("#photo", timeout=60_000)
            if detector:
                page.locator("#detector").get_by_text(detector, exact=True).click()
            start_webcam(page)
            time.sleep(1.0)  # warm-up: the first frames load the backend and the detector
            page.evaluate(COUNT_ARRIVALS)
            time.sleep(seconds)
            arrivals = page.evaluate("window.__arrivals")
            stats = page.locator("#webcam-stats").inner_text().strip().splitlines()[-1]  # not Gradio's timer
            page.locator("#camera button[aria-label='capture photo']").click()  # stop
        finally:
            browser.close()
    intervals = np.diff(arrivals) if len(arrivals) > 1 else np.array([np.nan])
    span = (arrivals[-1] - arrivals[0]) / 1000 if len(arrivals) > 1 else seconds
    timings = dict(re.findall(r"(detect|classify) ([\d.]+) ms", stats))
    return {
        "frames": len(arrivals),
        "seconds": round(span, 3),
        "fps_arriving": round((len(arrivals) - 1) / span, 2) if len(arrivals) > 1 else 0.0,
        "interval_ms_p50": round(float(np.median(intervals)), 2),
        "interval_ms_p95": round(float(np.percentile(intervals, 95)), 2),
        "camera_fps": CAMERA_FPS,
        "stats": stats,
        "detect_ms": float(timings["detect"]) if "detect" in timings else None,
        "classify_ms": float(timings["classify"]) if "classify" in timings else None,
    }


#: The per-run figures whose median the result reports under the same keys as one run's.
MEDIAN_FIELDS = (
    "frames", "seconds", "fps_arriving", "interval_ms_p50", "interval_ms_p95", "detect_ms", "classify_ms",
)  # fmt: skip


def measure_webcam_runs(
    url: str, runs: int = 3, seconds: float = 10.0, detector: str | None = None, chromium: str = CHROMIUM
) -> dict:
    """``measure_webcam_fps`` ``runs`` times, one after the other, each in a fresh browser against the same demo.

    Args:
        url: The demo's address.
        runs: How many runs.
        seconds, detector, chromium: As for ``measure_webcam_fps``.

    Returns:
        ``aggregate_runs`` of the runs: the medians under one run's keys, and ``runs``.

    Raises:
        ValueError: if ``runs`` is below 1.
        FileNotFoundError: if Chromium is missing.
    """
    if runs < 1:
        raise ValueError(f"runs must be at least 1, got {runs}")
    return aggregate_runs([measure_webcam_fps(url, seconds, detector, chromium) for _ in range(runs)])


def _median(values: list) -> float | int | None:
    present = [v for v in values if v is not None]
    if not present:
        return None
    middle = statistics.median(present)
    return int(middle) if all(isinstance(v, int) for v in present) and middle == int(middle) else round(middle, 2)


def aggregate_runs(runs: list[dict]) -> dict:
    """The median of every figure over several runs of ``measure_webcam_fps``, and the runs themselves.

    Args:
        runs: One ``measure_webcam_fps`` result per run, in order.

    Returns:
        One run's keys (so readers of a single run's JSON read the medians): each of ``MEDIAN_FIELDS`` the median
        over the runs (runs without the figure left out; None if none has it), ``camera_fps``, and ``stats``:
        the page readout of the run whose frame rate is the median (the lower middle one for an even count);
        plus ``runs`` (the list given) and ``median_of`` (their number).

    Raises:
        ValueError: if ``runs`` is empty.
    """
    if not runs:
        raise ValueError("no webcam runs to aggregate")
    middle_run = sorted(runs, key=lambda r: r["fps_arriving"])[(len(runs) - 1) // 2]
    return (
        {key: _median([r.get(key) for r in runs]) for key in MEDIAN_FIELDS}
        | {"camera_fps": runs[0].get("camera_fps", CAMERA_FPS), "stats": middle_run.get("stats", "")}
        | {"median_of": len(runs), "runs": list(runs)}
    )


def _table_row(label: str, r: dict) -> str:
    return (
        f"{label:<8}{r['frames']:>7}{r['seconds']:>9.2f}{r['fps_arriving']:>13.2f}{r['interval_ms_p50']:>9.1f}"
        f"{r['interval_ms_p95']:>9.1f}{r['detect_ms'] or 0:>11.2f}{r['classify_ms'] or 0:>13.2f}"
    )


def format_table(result: dict) -> str:
    """The webcam measurement as a small text table: one row per run and their median (or the single run), with
    the camera and the page's own readout under it."""
    runs = result.get("runs") or [result]
    header = (
        f"{'run':<8}{'frames':>7}{'seconds':>9}{'fps in page':>13}{'p50 ms':>9}{'p95 ms':>9}{'detect ms':>11}"
        f"{'classify ms':>13}"
    )
    lines = [header] + [_table_row(str(i), r) for i, r in enumerate(runs, 1)]
    if "runs" in result:
        lines += ["-" * len(header), _table_row("median", result)]
    readout = "page readout (median run)" if "runs" in result else "page readout"
    lines.append(f"camera: {CAMERA_FPS} fps fake device; {readout}: {result['stats']}")
    return "\n".join(lines)
