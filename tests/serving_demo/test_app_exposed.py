"""The demo as ``fer-demo`` serves it (``launch_demo``) on 127.0.0.1: login, health check, queue limit, banner.

Real Gradio servers on free loopback ports, driven over HTTP with httpx and gradio_client; the shipped model.
"""

import os
import threading
from collections.abc import Iterator
from contextlib import contextmanager

import httpx
import pytest
from PIL import Image

from model_zoo.constants import read_labels
from model_zoo.pretrained import pretrained_artifacts_dir
from serving_demo import EXAMPLES_DIR

os.environ.setdefault("HF_HUB_OFFLINE", "1")
os.environ.setdefault("HF_HUB_DISABLE_TELEMETRY", "1")

from gradio_client import Client, handle_file  # noqa: E402
from gradio_client.exceptions import AuthenticationError  # noqa: E402

PHOTO = str(EXAMPLES_DIR / "astronaut.jpg")
USERS = [("alice", "correct horse:battery"), ("bob", "s3cret")]


def serve(queue_size=None, logins=None, no_auth_banner=False):
    """``fer-demo``'s app and launch on a free port: returns ``(demo, url)``."""
    from serving_demo.app import QUEUE_SIZE, build_demo, launch_demo
    from serving_demo.local_server import free_port
    from serving_demo.recognizer import EmotionRecognizer

    recognizer = EmotionRecognizer()  # the shipped model
    demo = build_demo(recognizer, queue_size=queue_size or QUEUE_SIZE, no_auth_banner=no_auth_banner)
    port = free_port()
    launch_demo(demo, recognizer, port=port, logins=logins, prevent_thread_lock=True, quiet=True)
    return demo, f"http://127.0.0.1:{port}/"


@pytest.fixture(scope="module")
def protected(tmp_path_factory):
    """A demo whose logins come from a real auth file, as ``--auth-file`` reads it."""
    from serving_demo.auth import read_logins

    auth_file = tmp_path_factory.mktemp("auth") / "logins.txt"
    auth_file.write_text("# who may use the demo\n" + "".join(f"{u}:{p}\n" for u, p in USERS))
    demo, url = serve(logins=read_logins(auth_file, {}))
    yield demo, url
    demo.close()


@pytest.fixture(scope="module")
def open_demo():
    """A demo served with --no-auth's banner and room for one waiting request."""
    demo, url = serve(queue_size=1, no_auth_banner=True)
    yield url
    demo.close()


def cached_example_path(demo) -> str:
    """The path of an example photo's copy in Gradio's cache: a file the file route serves."""
    paths = [p for block in demo.blocks.values() for p in getattr(block, "keep_in_cache", ())]
    assert paths and all(os.path.isfile(p) for p in paths)
    return paths[0]


@contextmanager
def logged_in(url: str, user: str, password: str) -> Iterator[httpx.Client]:
    """An HTTP client holding the cookie of Gradio's login form."""
    with httpx.Client(base_url=url, timeout=30) as client:
        response = client.post("login", data={"username": user, "password": password})
        assert response.status_code == 200, response.text
        yield client


def test_without_login_the_page_shows_only_the_login_form(protected):
    _, url = protected
    page = httpx.get(url, timeout=30)
    assert page.status_code == 200
    assert '"auth_required":true' in page.text.replace(" ", "")
    assert "Every frontal face" not in page.text  # the page's content comes only after the login


@pytest.mark.parametrize(
    "method,path",
    [
        ("GET", "config"),
        ("GET", "gradio_api/info"),
        ("GET", "gradio_api/openapi.json"),
        ("POST", "gradio_api/upload"),
        ("POST", "gradio_api/queue/join"),
        ("POST", "gradio_api/call/analyze"),
        ("GET", "gradio_api/queue/data?session_hash=x"),
        ("GET", "monitoring"),
    ],
)
def test_api_routes_refuse_a_caller_without_login(protected, method, path):
    _, url = protected
    response = httpx.request(method, url + path, timeout=30, json={} if method == "POST" else None)
    assert response.status_code in (401, 403), (path, response.status_code, response.text[:200])


def test_cached_files_are_served_only_after_login(protected):
    demo, url = protected
    file_url = f"gradio_api/file={cached_example_path(demo)}"
    assert httpx.get(url + file_url, timeout=30).status_code == 401
    with logged_in(url, *USERS[1]) as client:
        response = client.get(file_url)
        assert response.status_code == 200 and response.content[:2] == b"\xff\xd8"  # the JPEG itself
        assert client.get("config").status_code == 200
    with httpx.Client(base_url=url, timeout=30) as client:
        assert client.post("login", data={"username": "bob", "password": "wrong"}).status_code == 400
        assert client.get(file_url).status_code == 401


def test_gradio_client_needs_the_right_credentials(protected):
    _, url = protected
    with pytest.raises(AuthenticationError):
        Client(url, verbose=False)
    with pytest.raises(ValueError, match="Could not login"):
        Client(url, verbose=False, auth=("alice", "wrong"))
    client = Client(url, verbose=False, auth=USERS[0])  # a password with a space and a colon
    annotated, label, faces, readout = client.predict(handle_file(PHOTO), "tflite-int8", api_name="/analyze")
    assert os.path.getsize(annotated) > 0 and len(faces["faces"]) == 1 and "tflite-int8" in readout


@pytest.mark.parametrize("fixture", ["protected", "open_demo"])
def test_health_check_answers_without_login_and_reveals_nothing_sensitive(request, fixture):
    served = request.getfixturevalue(fixture)
    url = served[1] if isinstance(served, tuple) else served
    response = httpx.get(url + "healthz", timeout=30)
    assert response.status_code == 200 and response.headers["content-type"] == "application/json"
    assert response.json() == {
        "status": "ok",
        "model": "seed_cnn",
        "backend": "tflite-int8",
        "detector": "blazeface",
        "classes": len(read_labels(pretrained_artifacts_dir())),  # the default model's
    }
    assert "/" not in response.text and "alice" not in response.text  # no paths, no users
    assert httpx.head(url + "healthz", timeout=30).status_code == 200


def test_what_is_not_needed_is_off(protected):
    demo, url = protected
    with logged_in(url, *USERS[0]) as client:
        config = client.get("config").json()
        assert client.get("monitoring").status_code == 403  # the monitoring dashboard
    assert config["footer_links"] == []  # no link to the API docs page or the settings
    assert config["run_history"] is False and config["mcp_server"] is False and config["pwa"] is False
    assert demo.ssr_mode is False


def test_the_no_auth_banner_is_on_the_page(open_demo, protected):
    config = httpx.get(open_demo + "config", timeout=30).json()
    banners = [c for c in config["components"] if c.get("props", {}).get("elem_id") == "no-auth-banner"]
    assert len(banners) == 1 and "--no-auth" in banners[0]["props"]["value"]
    with logged_in(protected[1], *USERS[0]) as client:
        config = client.get("config").json()
    assert not [c for c in config["components"] if c.get("props", {}).get("elem_id") == "no-auth-banner"]


@pytest.fixture(scope="module")
def slow_photo(tmp_path_factory):
    """Small to upload, slow to decode and scale down: requests that stay in the queue a while."""
    path = tmp_path_factory.mktemp("slow") / "large_flat.png"
    Image.new("L", (4000, 4000), 128).save(path)
    return path


def test_a_flood_is_told_the_demo_is_busy_and_to_retry(open_demo, slow_photo):
    from gradio_client.utils import QueueError

    client = Client(open_demo, verbose=False)
    jobs = [client.submit(handle_file(str(slow_photo)), "tflite-int8", api_name="/analyze") for _ in range(16)]
    busy, served, other = [], 0, []
    for job in jobs:
        try:
            job.result(timeout=300)
            served += 1
        except QueueError as e:
            busy.append(str(e))
        except Exception as e:  # noqa: BLE001 - listed in the assertion
            other.append(repr(e))
    assert other == []
    assert busy and set(busy) == {"Queue is full! Please try again."}, busy
    assert served >= 2  # one running, one waiting at least
    # The flood over, the demo serves again at once.
    _, _, faces, _ = client.predict(handle_file(PHOTO), "tflite-int8", api_name="/analyze")
    assert len(faces["faces"]) == 1


def test_the_queue_limit_answers_raw_http_with_503(open_demo, slow_photo):
    """What a client other than gradio_client gets: HTTP 503 and Gradio's "Queue is full" detail."""
    config = httpx.get(open_demo + "config", timeout=30).json()
    fn_index = next(d["id"] for d in config["dependencies"] if d.get("api_name") == "analyze")
    with open(slow_photo, "rb") as f:
        uploaded = httpx.post(open_demo + "gradio_api/upload", files={"files": f}, timeout=30).json()[0]
    statuses, lock = [], threading.Lock()

    def join(number: int) -> None:
        body = {
            "data": [{"path": uploaded, "meta": {"_type": "gradio.FileData"}}, "tflite-int8", "blazeface"],
            "fn_index": fn_index,
            "session_hash": f"flood{number}",
        }
        response = httpx.post(open_demo + "gradio_api/queue/join", json=body, timeout=30)
        with lock:
            statuses.append((response.status_code, response.text))
        if response.status_code == 200:  # accepted: read its result, so that nothing still runs after the test
            url = open_demo + f"gradio_api/queue/data?session_hash=flood{number}"
            with httpx.stream("GET", url, timeout=120) as stream:
                for line in stream.iter_lines():
                    if "process_completed" in line:
                        break

    threads = [threading.Thread(target=join, args=(i,)) for i in range(24)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    full = [text for status, text in statuses if status == 503]
    assert full and all("Queue is full" in text for text in full), statuses[:3]


@pytest.fixture(scope="module")
def browser():
    from playwright.sync_api import sync_playwright

    from export.benchmarks.webcam import CHROMIUM

    assert os.path.exists(CHROMIUM), "Debian chromium is needed for the browser test: apt-get install chromium"
    with sync_playwright() as p:
        chromium = p.chromium.launch(executable_path=CHROMIUM, args=["--no-sandbox", "--disable-gpu"])
        yield chromium
        chromium.close()


@pytest.mark.browser
def test_in_a_browser_the_login_comes_first_then_the_demo(protected, browser):
    page = browser.new_page()
    page.goto(protected[1])
    page.get_by_text("Log in with a user of the demo's auth file.").wait_for(timeout=30_000)
    assert page.locator("#photo").count() == 0
    page.get_by_label("username").fill(USERS[1][0])
    page.get_by_label("password").fill(USERS[1][1])
    page.get_by_role("button", name="Login").click()
    page.wait_for_selector("#photo", timeout=30_000)
    assert page.locator("#no-auth-banner").count() == 0
    page.close()


@pytest.mark.browser
def test_in_a_browser_the_no_auth_banner_shows_above_the_demo(open_demo, browser):
    page = browser.new_page()
    page.goto(open_demo)
    banner = page.locator("#no-auth-banner [role=alert]")
    banner.wait_for(timeout=30_000)
    assert banner.is_visible() and "--no-auth" in banner.inner_text()
    assert banner.bounding_box()["y"] < page.locator("#photo").bounding_box()["y"]
    page.close()
