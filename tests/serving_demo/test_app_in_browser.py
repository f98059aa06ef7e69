"""The demo in a real browser: headless Debian Chromium driven by Playwright, with a fake camera
that plays a video made from a real photo."""

import os
import tempfile
import time
from pathlib import Path

import pytest

from export.benchmarks.webcam import CHROMIUM, camera_frame, launch_browser, start_webcam, write_y4m
from model_zoo.constants import CLASS_NAMES
from serving_demo import EXAMPLES_DIR as EXAMPLES

pytestmark = pytest.mark.browser  # a real Chromium; `pytest -m browser` or `make test`

SCREENSHOTS = Path(os.environ.get("FER_SCREENSHOT_DIR", tempfile.gettempdir())) / "fer-demo-screenshots"


@pytest.fixture(scope="module")
def page(demo_url, tmp_path_factory):
    from playwright.sync_api import sync_playwright

    assert Path(CHROMIUM).exists(), "Debian chromium is needed for the browser test: apt-get install chromium"
    video = write_y4m(tmp_path_factory.mktemp("camera") / "face.y4m", camera_frame(), frames=20, fps=10)
    SCREENSHOTS.mkdir(parents=True, exist_ok=True)
    with sync_playwright() as p:
        browser = launch_browser(p, video)
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


def test_the_detector_selector_applies_to_the_photo(page):
    readout = page.locator("#upload-readout")
    readout.filter(has_text="blazeface").wait_for(timeout=30_000)  # the default detector
    page.locator("#detector").get_by_text("haar-photo", exact=True).click()
    readout.filter(has_text="haar-photo").wait_for(timeout=30_000)
    assert "2 faces" in readout.inner_text()
    page.locator("#detector").get_by_text("blazeface", exact=True).click()
    readout.filter(has_text="· blazeface ·").wait_for(timeout=30_000)


def test_webcam_streams_annotated_frames_and_stores_none(page):
    cache = Path(os.environ.get("GRADIO_TEMP_DIR", Path(tempfile.gettempdir()) / "gradio"))
    files_before = {p for p in cache.rglob("*") if p.is_file()} if cache.exists() else set()
    start_webcam(page)
    stats = page.locator("#webcam-stats")
    stats.filter(has_text="1 face").wait_for(timeout=30_000)
    sources = set()
    deadline = time.time() + 20
    while len(sources) < 3 and time.time() < deadline:  # several distinct frames arrive, not just one
        sources.add(page.locator("#webcam-annotated").get_attribute("src"))
        time.sleep(0.3)
    assert len(sources) >= 3
    text = stats.inner_text()
    assert "fps" in text and "tflite-int8" in text and "blazeface" in text
    assert "detect" in text and "classify" in text  # the detector's and the classifier's time
    page.locator("#smoothing input").uncheck()  # smoothing off: frames keep coming
    seen = page.locator("#webcam-annotated").get_attribute("src")
    page.wait_for_function("src => document.querySelector('#webcam-annotated').src !== src", arg=seen, timeout=30_000)
    page.locator("#smoothing input").check()
    page.locator("#tracking input").uncheck()  # tracking off: every frame searched whole, frames keep coming
    seen = page.locator("#webcam-annotated").get_attribute("src")
    page.wait_for_function("src => document.querySelector('#webcam-annotated').src !== src", arg=seen, timeout=30_000)
    stats.filter(has_text="1 face").wait_for(timeout=30_000)
    page.locator("#tracking input").check()
    page.screenshot(path=str(SCREENSHOTS / "webcam.png"), full_page=True)
    page.locator("#camera button[aria-label='capture photo']").click()  # stop
    files_after = {p for p in cache.rglob("*") if p.is_file()} if cache.exists() else set()
    assert files_after - files_before == set(), "webcam frames were written to disk"
