"""Hostile HTTP requests to the demo as ``fer-demo`` serves it, without a login and logged in: file-route traversal
(raw, ``../``, URL-encoded, double-encoded, NUL, backslashes, a planted link), URLs for the server to fetch, forged
``FileData`` payloads (paths outside the cache, URLs, no ``meta``), selector values off the list, wrong numbers and
types of inputs, unknown endpoints and function indices, a 64 MB upload, 1,001 files in one upload, upload names
that climb out, unusable images (a decompression bomb, a text bomb, empty, truncated, text, a video), a 100,000-deep
JSON body.

Each probe gets a clear refusal (an HTTP 4xx, or the ``analyze`` call's error event with the reason), reveals no
file, and the demo still answers ``/healthz`` and a normal ``analyze`` call afterwards (``assert_serving``).
"""

from __future__ import annotations

import os
import re

import httpx
import pytest

from model_zoo.artifacts import artifact_path
from tests.hostile.demo_http import (
    BACKEND,
    FILE_DATA,
    analyze,
    assert_serving,
    call,
    file_data,
    fn_index,
    raw_get,
    upload,
)
from tests.hostile.hostile_files import hostile_images, photo_jpeg, small_mp4, wide_png

HOSTILE = hostile_images()
REFUSED = (400, 403, 404, 405, 413, 422)
SECRETS = (b"root:x:0:0", b"root:*:0:0", b"HOME=", b"PATH=", b"TFL3", b"# fer-pipeline")


def upload_folder() -> str:
    import gradio as gr

    return gr.utils.get_upload_folder()


def cookie_header(client: httpx.Client) -> dict:
    cookies = "; ".join(f"{name}={value}" for name, value in client.cookies.items())
    return {"Cookie": cookies} if cookies else {}


def traversal_paths() -> dict[str, str]:
    """Raw request paths that try to read files outside Gradio's cache: id -> path."""
    upload, cwd = upload_folder(), os.getcwd()
    from model_zoo.pretrained import pretrained_artifacts_dir

    model = artifact_path(pretrained_artifacts_dir(), BACKEND)
    up = "../" * 12
    return {
        "absolute": "/gradio_api/file=/etc/passwd",
        "dot-dot": f"/gradio_api/file={up}etc/passwd",
        "encoded-slashes": "/gradio_api/file=%2Fetc%2Fpasswd",
        "encoded-dot-dot": "/gradio_api/file=" + "..%2F" * 12 + "etc%2Fpasswd",
        "encoded-dots": "/gradio_api/file=" + "%2e%2e/" * 12 + "etc/passwd",
        "double-encoded": "/gradio_api/file=" + "%252e%252e%252f" * 12 + "etc%252fpasswd",
        "cache-then-up": f"/gradio_api/file={upload}/{up}etc/passwd",
        "cache-then-encoded-up": f"/gradio_api/file={upload}/" + "..%2f" * 12 + "etc%2fpasswd",
        "nul-byte": "/gradio_api/file=/etc/passwd%00.jpg",
        "backslashes": "/gradio_api/file=" + "..%5c" * 12 + "etc%5cpasswd",
        "proc-environ": "/gradio_api/file=/proc/self/environ",
        "proc-cmdline": "/gradio_api/file=/proc/self/cmdline",
        "working-directory": f"/gradio_api/file={cwd}/README.md",
        "model-file": f"/gradio_api/file={model}",
        "cache-folder-itself": f"/gradio_api/file={upload}",
        "old-file-route": "/gradio_api/file/etc/passwd",
        "old-file-route-absolute": "/gradio_api/file//etc/passwd",
        "file-url": "/gradio_api/file=file:///etc/passwd",
        "fetch-loopback": "/gradio_api/file=http://127.0.0.1:1/x.jpg",
        "fetch-metadata-service": "/gradio_api/file=http://169.254.169.254/latest/meta-data/",
        "proxy-loopback": "/gradio_api/proxy=http://127.0.0.1:1/x.jpg",
        "unprefixed-file-route": "/file=/etc/passwd",
        "assets-dot-dot": f"/assets/{up}etc/passwd",
        "assets-encoded": "/assets/" + "%2e%2e/" * 12 + "etc/passwd",
        "static-encoded": "/static/" + "..%2f" * 12 + "etc%2fpasswd",
        "svelte-dot-dot": f"/svelte/{up}etc/passwd",
    }


TRAVERSALS = traversal_paths()


@pytest.mark.parametrize("probe", sorted(TRAVERSALS))
def test_the_file_routes_serve_nothing_outside_the_cache(served, probe):
    with served.client() as client:
        status, body = raw_get(served.url, TRAVERSALS[probe], cookie_header(client))
    assert status in REFUSED, (status, body[:200])
    assert not any(secret in body for secret in SECRETS), body[:200]
    assert_serving(served)


def test_a_link_planted_in_the_cache_is_not_followed_out_of_it(served, request):
    link = os.path.join(upload_folder(), f"hostile-{request.node.callspec.id}-{os.getpid()}.txt")
    os.symlink("/etc/passwd", link)
    try:
        with served.client() as client:
            status, body = raw_get(served.url, f"/gradio_api/file={link}", cookie_header(client))
    finally:
        os.unlink(link)
    assert status == 403 and b"root:" not in body, (status, body[:200])


def forged_payloads() -> dict[str, object]:
    """``analyze``'s first input, forged: id -> payload."""
    upload = upload_folder()
    from model_zoo.pretrained import pretrained_artifacts_dir

    return {
        "etc-passwd": file_data("/etc/passwd"),
        "cache-then-up": file_data(f"{upload}/../../../../etc/passwd"),
        "working-directory": file_data(os.path.abspath("README.md")),
        "model-file": file_data(str(artifact_path(pretrained_artifacts_dir(), BACKEND))),
        "proc-environ": file_data("/proc/self/environ"),
        "cache-folder-itself": file_data(upload),
        "relative-path": file_data("README.md"),
        "nul-byte": file_data("/etc/passwd\x00.jpg"),
        "loopback-url": file_data("http://127.0.0.1:1/x.jpg"),
        "metadata-url": file_data("http://169.254.169.254/latest/meta-data/x.jpg"),
        "url-field": {"path": "x.jpg", "url": "http://127.0.0.1:1/x.jpg", "meta": FILE_DATA},
        "stream": file_data("/etc/passwd", is_stream=True),
        "no-meta": {"path": "/etc/passwd"},
        "wrong-meta": {"path": "/etc/passwd", "meta": {"_type": "gradio.Other"}},
        "in-a-list": [file_data("/etc/passwd")],
        "empty-list": [],
        "bare-string": "/etc/passwd",
        "number": 12345,
        "nested": {"path": {"path": "/etc/passwd", "meta": FILE_DATA}, "meta": FILE_DATA},
    }


FORGED = forged_payloads()
#: Gradio's reasons for refusing them: a file not uploaded, a URL to a private address, no FileData, another type.
FORGED_REASONS = "not uploaded by a user|failed validation|validation error for FileData|Invalid file type|null byte"


@pytest.mark.parametrize("probe", sorted(FORGED))
def test_forged_file_payloads_are_refused(served, probe):
    with served.client() as client:
        answer = call(client, [FORGED[probe], BACKEND, "blazeface"])
    assert answer.status in REFUSED or (answer.event == "error" and re.search(FORGED_REASONS, answer.error)), answer
    assert "root:" not in str(answer) and "HOME=" not in str(answer)
    assert_serving(served)


SELECTIONS = {
    "backend-unknown": ("onnx", "blazeface"),
    "backend-path": ("../../etc/passwd", "blazeface"),
    "backend-padded": (BACKEND + " ", "blazeface"),
    "backend-number": (3, "blazeface"),
    "backend-list": ([BACKEND], "blazeface"),
    "backend-dict": ({"value": BACKEND}, "blazeface"),
    "backend-10kb": ("x" * 10_000, "blazeface"),
    "detector-unknown": (BACKEND, "mtcnn"),
    "detector-nul": (BACKEND, "haar\x00"),
    "detector-number": (BACKEND, 0),
    "detector-list": (BACKEND, ["haar"]),
}


@pytest.mark.parametrize("probe", sorted(SELECTIONS))
def test_selector_values_off_the_list_are_refused(served, probe):
    backend, detector = SELECTIONS[probe]
    with served.client() as client:
        answer = call(client, [file_data(upload(client, "a.jpg", photo_jpeg())), backend, detector])
    assert answer.event == "error" or answer.status in REFUSED, answer
    if answer.event == "error":
        assert "not in the list of choices" in answer.error, answer
    assert_serving(served)


@pytest.mark.parametrize(
    "body",
    [
        {"data": []},
        {"data": [None]},
        {"data": [None, BACKEND, "blazeface"]},
        {"data": ["x"] * 50},
        {"data": "not a list"},
        {"data": None},
        {},
        {"data": [None, BACKEND, "blazeface"], "fn_index": 999999},
        {"data": [None, BACKEND, "blazeface"], "session_hash": "../../etc"},
    ],
    ids=["no-inputs", "one-input", "no-photo", "fifty-inputs", "string", "null", "no-data", "fn-index", "session"],
)
def test_wrong_numbers_and_types_of_inputs_are_refused(served, body):
    with served.client() as client:
        answer = call(client, None, body=body)
    assert answer.event == "error" or answer.status in REFUSED, answer
    if answer.event == "error":
        assert re.search(
            "Choose a photo|enough input values|too many input values|not in the list|validation error", answer.error
        )
    assert_serving(served)


@pytest.mark.parametrize(
    "route,body",
    [
        ("gradio_api/call/no_such_endpoint", {"data": []}),
        ("gradio_api/queue/join", {"data": [], "fn_index": 999999, "session_hash": "hostile"}),
        ("gradio_api/queue/join", {"data": [], "fn_index": -1, "session_hash": "hostile"}),
        ("gradio_api/queue/join", {"data": [], "fn_index": 2**63, "session_hash": "hostile"}),
        ("gradio_api/queue/join", {"data": [], "fn_index": "x", "session_hash": "hostile"}),
        ("gradio_api/queue/join", {"data": [], "fn_index": 0}),
    ],
    ids=["unknown-endpoint", "fn-index-999999", "fn-index-minus-1", "fn-index-2**63", "fn-index-text", "no-session"],
)
def test_unknown_endpoints_and_function_indices_are_refused(served, route, body):
    """An endpoint or function the demo does not have is a client's mistake: 4xx, not a server error (with a
    traceback in the server's log)."""
    with served.client() as client:
        response = client.post(route, json=body)
    assert response.status_code in REFUSED, (response.status_code, response.text[:200])
    assert_serving(served)


def test_a_64_mb_upload_is_refused_and_leaves_nothing_in_the_cache(open_server):
    served = open_server  # the same upload without a login: test_http_auth
    marker = f"hostile-64mb-{os.getpid()}".encode()
    body = marker + bytes(64 * 1024 * 1024 - len(marker))
    with served.client() as client:
        response = client.post("gradio_api/upload", files={"files": ("big.png", body, "image/png")})
    assert response.status_code == 413 and "maximum allowed size" in response.text, response.text[:200]
    left = []
    for top, _, names in os.walk(upload_folder()):
        for name in names:
            path = os.path.join(top, name)
            if os.path.isfile(path) and os.path.getsize(path) >= 1 << 20:
                with open(path, "rb") as f:
                    left += [path] if f.read(len(marker)) == marker else []
    assert left == []
    assert_serving(served)


def test_a_thousand_and_one_files_in_one_upload_are_refused(open_server):
    served = open_server
    files = [("files", (f"{i}.jpg", b"x", "image/jpeg")) for i in range(1001)]
    with served.client() as client:
        response = client.post("gradio_api/upload", files=files)
    assert response.status_code == 400 and "Too many files" in response.text, response.text[:200]
    assert_serving(served)


@pytest.mark.parametrize(
    "name", ["../../../../../../tmp/hostile-escape.jpg", "..", "/etc/cron.d/x.jpg", "a/../../b.jpg"]
)
def test_upload_names_cannot_climb_out_of_the_cache(served, name):
    escaped = "/tmp/hostile-escape.jpg"
    if os.path.exists(escaped):
        os.unlink(escaped)
    with served.client() as client:
        response = client.post("gradio_api/upload", files={"files": (name, photo_jpeg(), "image/jpeg")})
        assert response.status_code in (200, 400), response.text[:200]
        if response.status_code == 200:
            (path,) = response.json()
            assert os.path.realpath(path).startswith(os.path.realpath(upload_folder()) + os.sep), path
            answer = call(client, [file_data(path), BACKEND, "blazeface"])
            assert answer.event == "complete", answer
    assert not os.path.exists(escaped) and not os.path.exists("/etc/cron.d/x.jpg")
    assert_serving(served)


@pytest.mark.parametrize("name", sorted(HOSTILE))
def test_unusable_images_get_their_reason_and_the_demo_keeps_serving(served, name):
    data, reason = HOSTILE[name]
    with served.client() as client:
        answer = analyze(client, name, data)
    assert answer.event == "error" and re.search(reason, answer.error), answer
    assert "Traceback" not in answer.error and "\n" not in answer.error.strip()
    assert_serving(served)


@pytest.mark.parametrize("width,height", [(5000, 1), (1, 5000), (2000, 1)])
def test_a_line_of_pixels_gets_no_face_or_a_reason_not_an_opencv_error(served, width, height):
    with served.client() as client:
        answer = analyze(client, "line.png", wide_png(width, height), detector="haar")
    if answer.event == "complete":
        assert answer.data[2]["faces"] == [] and "No face found" in answer.data[3], answer
    else:
        assert answer.event == "error" and answer.error, answer
        assert "OpenCV" not in answer.error and "cv2" not in answer.error and "Assertion" not in answer.error, answer
    assert_serving(served)


def test_a_video_and_a_script_as_the_photo_are_refused(served):
    with served.client() as client:
        video = analyze(client, "clip.mp4", small_mp4())
        assert video.event == "error" and re.search("Invalid file type|not an image", video.error), video
        script = analyze(client, "<img src=x onerror=alert(1)>.png", b"<script>alert(1)</script>")
        assert script.event == "error" and "not an image that can be decoded" in script.error, script
        assert "<img" not in script.error and "<script" not in script.error  # the name is not echoed as HTML
    assert_serving(served)


def deep_json(depth: int, index: int | None = None) -> bytes:
    """A request body whose ``data`` nests ``depth`` lists (for ``queue/join``, with the function index)."""
    join = b"" if index is None else b', "session_hash": "deep", "fn_index": %d' % index
    return b'{"data": ' + b"[" * depth + b"]" * depth + join + b"}"


@pytest.mark.parametrize("depth", [100_000, 900])
@pytest.mark.parametrize("route", ["gradio_api/call/analyze", "gradio_api/queue/join"])
def test_deeply_nested_json_bodies_are_refused(served, route, depth):
    with served.client() as client:
        body = deep_json(depth, fn_index(client) if route.endswith("join") else None)
        response = client.post(route, content=body, headers={"Content-Type": "application/json"})
        if response.status_code == 200:  # parsed: the call itself must then fail cleanly
            event_id = response.json()["event_id"]
            if route.endswith("analyze"):
                with client.stream("GET", f"{route}/{event_id}") as stream:
                    text = "".join(stream.iter_lines())
                assert "event: error" in text, text[:300]
        else:
            assert response.status_code in REFUSED, (response.status_code, response.text[:200])
    assert_serving(served)


@pytest.mark.parametrize(
    "content,content_type",
    [
        (b"{not json", "application/json"),
        (b"", "application/json"),
        (b"data=1", "application/x-www-form-urlencoded"),
        (b"\xff\xfe\x00", "application/json"),
        (b'"just a string"', "application/json"),
    ],
    ids=["broken-json", "empty", "form", "binary", "string"],
)
def test_malformed_bodies_are_refused(served, content, content_type):
    with served.client() as client:
        for route in ("gradio_api/call/analyze", "gradio_api/queue/join", "gradio_api/upload"):
            response = client.post(route, content=content, headers={"Content-Type": content_type})
            assert response.status_code in REFUSED, (route, response.status_code, response.text[:200])
    assert_serving(served)
