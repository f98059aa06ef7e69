"""The demo under concurrent API clients: every call succeeds and every annotated image arrives whole.

Identical results used to share one cache file that Gradio rewrote in place (truncate, then write)
while other requests were still downloading it: 1-2 % of calls under 16 clients ended short
(``peer closed connection without sending complete message body``) or got an empty image.
"""

import threading
import time
from pathlib import Path

import numpy as np
import pytest

from serving_demo import EXAMPLES_DIR

PHOTO = EXAMPLES_DIR / "two_astronauts.jpg"


def test_annotated_jpeg_is_never_seen_partly_written(tmp_path):
    from serving_demo.app import save_annotated_jpeg

    # Noise compresses badly: a JPEG of several 64 KiB read chunks, as the file route streams it.
    image = np.random.default_rng(0).integers(0, 256, (600, 800, 3), dtype=np.uint8)
    path = save_annotated_jpeg(image, str(tmp_path), "salt")
    expected = Path(path).read_bytes()
    assert len(expected) > 4 * 64 * 1024
    stop, errors = threading.Event(), []

    def rewrite():
        try:
            while not stop.is_set():
                assert save_annotated_jpeg(image, str(tmp_path), "salt") == path  # same content, same file
        except Exception as e:  # noqa: BLE001 - reported by the assertion below
            errors.append(e)

    writers = [threading.Thread(target=rewrite) for _ in range(3)]
    for writer in writers:
        writer.start()
    reads, partial = 0, []
    deadline = time.perf_counter() + 1.5
    while time.perf_counter() < deadline:
        data = Path(path).read_bytes()
        reads += 1
        if data != expected:
            partial.append(len(data))
    stop.set()
    for writer in writers:
        writer.join()
    assert errors == []
    assert reads > 10 and partial == [], f"{len(partial)} of {reads} reads saw a partial file: {partial[:5]} bytes"
    assert [p.name for p in Path(path).parent.iterdir()] == ["annotated.jpg"]  # no staging file left behind
    assert save_annotated_jpeg(image, str(tmp_path), "other salt") != path  # the path depends on a secret too


def test_the_load_test_catches_truncated_and_wrong_images(tmp_path):
    from export.benchmarks.demo_load import check_complete_image, image_size

    size = image_size(PHOTO)
    data = PHOTO.read_bytes()
    assert check_complete_image(PHOTO, size) is None
    (tmp_path / "empty.jpg").write_bytes(b"")
    (tmp_path / "half.jpg").write_bytes(data[: len(data) // 2])
    (tmp_path / "no_eoi.jpg").write_bytes(data[:-2])
    for name in ("empty.jpg", "half.jpg", "no_eoi.jpg"):
        assert check_complete_image(tmp_path / name, size) is not None, name
    assert "expected" in check_complete_image(PHOTO, (size[0] + 1, size[1]))


@pytest.mark.slow  # about 40 s on 2 CPU cores: 160 calls, each an upload, a detection and a download
def test_concurrent_clients_all_get_complete_annotated_images(demo_url):
    from export.benchmarks.demo_load import run_load_test

    result = run_load_test(demo_url, PHOTO, clients=16, requests_per_client=10, timeout=120)
    assert result["failures"] == 0, result["failure_messages"]
    assert result["ok"] == result["requests"] == 160  # every result decoded whole, at the photo's size
