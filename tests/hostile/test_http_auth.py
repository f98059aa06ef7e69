"""The demo served with a login (``--auth-file``), probed without one: every Gradio 6 route that carries the app, its
API or its files answers 401 or 403 (``/config``, ``/gradio_api/info``, ``/gradio_api/upload``, ``/gradio_api/queue/
join``, ``/gradio_api/call/analyze``, ``/gradio_api/file=...`` and the rest), an upload refused for want of a login
stores nothing, forged, stale and foreign cookies and hostile login forms are refused; every probe of
``test_http_probes`` without a login is refused the same way. Logged in, the same calls work; ``/healthz`` answers
without a login throughout.
"""

from __future__ import annotations

import os

import httpx
import pytest

from tests.hostile.demo_http import (
    BACKEND,
    TIMEOUT,
    USERS,
    analyze,
    assert_serving,
    call,
    file_data,
    fn_index,
    raw_get,
    upload,
)
from tests.hostile.hostile_files import photo_jpeg
from tests.hostile.test_http_probes import FORGED, REFUSED, TRAVERSALS, deep_json, upload_folder

UNAUTHORISED = (401, 403)


@pytest.fixture(scope="module")
def results(auth_server) -> dict:
    """What a logged-in user left in the cache (their upload's path and the annotated photo's), and the names of
    the demo's API endpoints."""
    with auth_server.client() as client:
        photo = upload(client, "mine.jpg", photo_jpeg())
        answer = call(client, [file_data(photo), BACKEND, "blazeface"])
        config = client.get("config").json()
    assert answer.event == "complete", answer
    api_names = sorted({d["api_name"] for d in config["dependencies"] if d.get("api_name")})
    assert "analyze" in api_names
    return {"photo": photo, "annotated": answer.data[0]["path"], "api_names": api_names}


def protected_requests(results: dict) -> list[tuple[str, str, dict]]:
    """(method, path, request arguments) of every route that needs the login, each as a logged-in caller would
    send it."""
    data = {"data": [file_data(results["photo"]), BACKEND, "blazeface"]}
    join = {**data, "fn_index": 0, "session_hash": "hostile"}
    files = {"files": ("photo.jpg", photo_jpeg(), "image/jpeg")}
    return [
        ("GET", "config", {}),
        ("GET", "config/", {}),
        ("GET", "gradio_api/info", {}),
        ("GET", "gradio_api/info/?all_endpoints=true", {}),
        ("GET", "gradio_api/openapi.json", {}),
        ("POST", "gradio_api/upload", {"files": files}),
        ("GET", "gradio_api/upload_progress?upload_id=x", {}),
        ("POST", "gradio_api/queue/join", {"json": join}),
        ("GET", "gradio_api/queue/data?session_hash=hostile", {}),
        ("POST", "gradio_api/call/analyze", {"json": data}),
        ("POST", "gradio_api/call/analyze/", {"json": data}),
        ("GET", "gradio_api/call/analyze/some-event", {}),
        ("POST", "gradio_api/call/v2/analyze", {"json": {"image": file_data(results["photo"])}}),
        ("POST", "gradio_api/run/analyze", {"json": data}),
        ("POST", "gradio_api/api/analyze", {"json": data}),
        ("GET", f"gradio_api/file={results['photo']}", {}),
        ("HEAD", f"gradio_api/file={results['photo']}", {}),
        ("GET", f"gradio_api/file={results['annotated']}", {}),
        ("GET", f"gradio_api/file/{results['annotated']}", {}),
        ("GET", "gradio_api/file=/etc/passwd", {}),
        ("GET", "gradio_api/proxy=http://127.0.0.1:1/x.jpg", {}),
        ("POST", "gradio_api/process_recording", {"files": files}),
        ("GET", "gradio_api/deep_link", {}),
        ("GET", "gradio_api/dev/reload", {}),
        ("GET", "monitoring", {}),
        ("GET", "monitoring/summary", {}),
        *(("POST", f"gradio_api/call/{name}", {"json": data}) for name in results["api_names"]),
    ]


def test_every_route_with_the_app_its_api_or_its_files_answers_401_or_403_without_login(auth_server, results):
    answers = {}
    with auth_server.client(logged_in=False) as client:
        for method, path, arguments in protected_requests(results):
            answers[f"{method} {path}"] = client.request(method, path, **arguments).status_code
    assert {request: status for request, status in answers.items() if status not in UNAUTHORISED} == {}
    assert_serving(auth_server)


def test_an_upload_refused_for_want_of_a_login_stores_nothing(auth_server):
    marker = f"hostile-no-login-{os.getpid()}".encode()
    with auth_server.client(logged_in=False) as client:
        response = client.post("gradio_api/upload", files={"files": ("x.jpg", marker + photo_jpeg(), "image/jpeg")})
        big = client.post("gradio_api/upload", files={"files": ("big.png", marker + bytes(64 << 20), "image/png")})
    assert response.status_code == 401 and big.status_code in (401, 413)
    for top, _, names in os.walk(upload_folder()):
        for name in names:
            with open(os.path.join(top, name), "rb") as f:
                assert f.read(len(marker)) != marker, os.path.join(top, name)


def test_logged_in_the_same_calls_work(auth_server, results):
    with auth_server.client() as client:
        assert client.get("config").status_code == 200
        assert "/analyze" in client.get("gradio_api/info").json()["named_endpoints"]
        for key in ("photo", "annotated"):
            response = client.get(f"gradio_api/file={results[key]}")
            assert response.status_code == 200 and response.content[:2] == b"\xff\xd8", key  # JPEGs
        answer = analyze(client, "again.jpg", photo_jpeg())
        assert answer.event == "complete" and len(answer.data[2]["faces"]) == 1
        data = [file_data(results["photo"]), BACKEND, "blazeface"]
        join = {"data": data, "fn_index": fn_index(client), "session_hash": "mine"}
        assert client.post("gradio_api/queue/join", json=join).status_code == 200
        with client.stream("GET", "gradio_api/queue/data?session_hash=mine") as stream:
            assert any("process_completed" in line for line in stream.iter_lines())


def test_the_health_check_answers_without_login(auth_server):
    assert httpx.get(auth_server.url + "healthz", timeout=TIMEOUT).status_code == 200
    assert httpx.head(auth_server.url + "healthz", timeout=TIMEOUT).status_code == 200
    page = httpx.get(auth_server.url, timeout=TIMEOUT)
    assert page.status_code == 200 and "Every frontal face" not in page.text  # the login form, not the demo


def test_forged_stale_and_foreign_cookies_are_refused(auth_server, results):
    file_route = f"gradio_api/file={results['photo']}"
    with httpx.Client(base_url=auth_server.url, timeout=TIMEOUT) as client:
        # bob's session: logging out ends every session of its user, and the suite's checker is alice's
        assert client.post("login", data=dict(zip(("username", "password"), USERS[1]))).status_code == 200
        names = list(client.cookies.keys())
        assert names and all(name.startswith("access-token") for name in names)
        token = next(iter(client.cookies.values()))
        assert client.get(file_route).status_code == 200
        client.get("logout", follow_redirects=False)
    forged = {name: "A" * len(token) for name in names}
    stale = dict.fromkeys(names, token)  # the token of a session that logged out
    foreign = {name.replace(name.rsplit("-", 1)[-1], "0" * 8): token for name in names}
    for cookies in (forged, stale, foreign, {"access-token": token}):
        with httpx.Client(base_url=auth_server.url, timeout=TIMEOUT, cookies=cookies) as client:
            assert client.get(file_route).status_code == 401, cookies
            assert client.get("config").status_code == 401, cookies
    assert_serving(auth_server)


@pytest.mark.parametrize(
    "form",
    [
        {"username": USERS[0][0], "password": "wrong"},
        {"username": USERS[1][0], "password": USERS[0][1]},  # another user's password
        {"username": USERS[1][0], "password": USERS[1][1] + " "},
        {"username": USERS[1][0].upper(), "password": USERS[1][1]},
        {"username": USERS[1][0] + "\x00", "password": USERS[1][1]},
        {"username": "' OR 1=1 --", "password": "' OR 1=1 --"},
        {"username": USERS[1][0], "password": "x" * (1 << 20)},
        {"username": "", "password": ""},
        {"username": USERS[1][0]},
        {},
    ],
    ids=["wrong", "other-users", "padded", "upper-case", "nul", "injection", "1mb", "empty", "no-password", "nothing"],
)
def test_hostile_logins_are_refused(auth_server, form):
    with httpx.Client(base_url=auth_server.url, timeout=TIMEOUT) as client:
        response = client.post("login", data=form)
        assert response.status_code in (400, 422), (response.status_code, response.text[:200])
        assert not client.cookies and client.get("config").status_code == 401
    assert_serving(auth_server)


def test_a_json_login_is_refused(auth_server):
    response = httpx.post(auth_server.url + "login", json={"username": USERS[1][0], "password": USERS[1][1]})
    assert response.status_code == 422 and not response.cookies


@pytest.mark.parametrize("probe", sorted(TRAVERSALS))
def test_file_route_probes_without_login_are_refused(auth_server, probe):
    path = TRAVERSALS[probe]
    status, body = raw_get(auth_server.url, path)
    assert status in (UNAUTHORISED if path.startswith("/gradio_api/") else (*UNAUTHORISED, *REFUSED)), status
    assert b"root:" not in body


def test_api_probes_without_login_are_refused(auth_server):
    statuses = {}
    with auth_server.client(logged_in=False) as client:
        for probe, payload in FORGED.items():
            statuses[probe] = call(client, [payload, BACKEND, "blazeface"]).status
        for depth in (100_000, 900):
            response = client.post(
                "gradio_api/call/analyze", content=deep_json(depth), headers={"Content-Type": "application/json"}
            )
            statuses[f"deep-{depth}"] = response.status_code
    # A body too deep to parse may be refused for that before the login is checked: 400, never 200.
    allowed = {probe: (*UNAUTHORISED, 400) if probe.startswith("deep") else UNAUTHORISED for probe in statuses}
    assert {probe: status for probe, status in statuses.items() if status not in allowed[probe]} == {}
    assert_serving(auth_server)
