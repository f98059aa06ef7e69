"""The demo in a real browser: headless Debian Chromium driven by Playwright, with a fake camera
that plays a video made from a real photo."""

import os
import tempfile
import time
from pathlib import Path

import cv2
import numpy as np
import pytest

from model_zoo.constants import CLASS_NAMES
from serving_demo import EXAMPLES_DIR as EXAMPLES
from tests.images import frame_640x480

pytestmark = pytest.mark.browser  # a real Chromium; `pytest -m browser` or `make test`

CHROMIUM = "/usr/bin/chromium"
SCREENSHOTS = Path(os.environ.get("FER_SCREENSHOT_DIR", tempfile.gettempdir())) / "fer-demo-screenshots"


def write_y4m(path: Path, rgb, frames: int = 20, fps: int = 10) -> Path:
    """A raw YUV4MPEG2 video of an RGB image panning a few pixels per frame: what Chromium's fake camera plays."""
    height, width = rgb.shape[:2]
    with open(path, "wb") as f:
        f.write(f"YUV4MPEG2 W{width} H{height} F{fps}:1 Ip A1:1 C420jpeg\n".encode())
        for i in range(frames):
            shifted = np.roll(rgb, 4 * (i - frames // 2), axis=1)  # a moving head, so frames differ
            i420 = cv2.cvtColor(cv2.cvtColor(shifted, cv2.COLOR_RGB2BGR), cv2.COLOR_BGR2YUV_I420)
            f.write(b"FRAME\n" + i420.tobytes())
    return path


@pytest.fixture(scope="module")
def page(demo_url, tmp_path_factory):
    from playwright.sync_api import sync_playwright

    assert Path(CHROMIUM).exists(), "Debian chromium is needed for the browser test: apt-get install chromium"
    video = write_y4m(tmp_path_factory.mktemp("camera") / "face.y4m", frame_640x480())
    SCREENSHOTS.mkdir(parents=True, exist_ok=True)
    with sync_playwright() as p:
        browser = p.chromium.launch(
            executable_path=CHROMIUM,
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
        context = browser.new_context(viewport={"width": 1280, "height": 900}, permissions=["camera"])
        page = context.new_page()
        page.goto(demo_url)
        page.wait_for_selector("#photo", timeout=30_000)
        yield page
        browser.close()


def test_upload_shows_annotated_photo_label_and_latency(page):
    page.set_input_files("#photo input[type=file]", str(EXAMPLES / "two_astronauts.jpg"))
    page.wait_for_selector("#annotated img", timeout=30_000)
    readout = page.locator("#upload-readout")
    readout.filter(has_text="2 faces").wait_for(timeout=30_000)
    assert "tflite-int8" in readout.inner_text()
    label_text = page.locator("#label").inner_text()
    assert any(name in label_text for name in CLASS_NAMES)
    page.screenshot(path=str(SCREENSHOTS / "upload.png"), full_page=True)


def test_switching_backend_changes_the_latency_readout(page):
    before = page.locator("#upload-readout").inner_text()
    page.locator("#backend").get_by_text("tflite-fp32", exact=True).click()
    page.locator("#upload-readout").filter(has_text="tflite-fp32").wait_for(timeout=30_000)
    after = page.locator("#upload-readout").inner_text()
    assert after != before and "2 faces" in after
    page.locator("#backend").get_by_text("tflite-int8", exact=True).click()
    page.locator("#upload-readout").filter(has_text="tflite-int8").wait_for(timeout=30_000)


def test_webcam_streams_annotated_frames_and_stores_none(page):
    cache = Path(os.environ.get("GRADIO_TEMP_DIR", Path(tempfile.gettempdir()) / "gradio"))
    files_before = {p for p in cache.rglob("*") if p.is_file()} if cache.exists() else set()
    page.get_by_role("tab", name="Webcam").click()
    page.get_by_text("Click to Access Webcam").click()
    page.locator("#camera button[aria-label='capture photo']").click()  # starts streaming
    page.wait_for_selector("#webcam-annotated", timeout=30_000)
    stats = page.locator("#webcam-stats")
    stats.filter(has_text="1 face").wait_for(timeout=30_000)
    sources = set()
    deadline = time.time() + 20
    while len(sources) < 3 and time.time() < deadline:  # several distinct frames arrive, not just one
        sources.add(page.locator("#webcam-annotated").get_attribute("src"))
        time.sleep(0.3)
    assert len(sources) >= 3
    assert "fps" in stats.inner_text() and "tflite-int8" in stats.inner_text()
    page.screenshot(path=str(SCREENSHOTS / "webcam.png"), full_page=True)
    page.locator("#camera button[aria-label='capture photo']").click()  # stop
    files_after = {p for p in cache.rglob("*") if p.is_file()} if cache.exists() else set()
    assert files_after - files_before == set(), "webcam frames were written to disk"
