"""Driving a started demo over raw HTTP, as a hostile client would: uploads, ``/gradio_api/call/analyze`` and its
server-sent events, raw request paths that no HTTP library normalises, and the check that the demo still serves."""

from __future__ import annotations

import http.client
import json
import time
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from urllib.parse import urlsplit

import httpx

from tests.hostile.hostile_files import photo_jpeg

TIMEOUT = 30
BACKEND = "tflite-int8"  # the shipped model's default: no TensorFlow import in the test process
FILE_DATA = {"_type": "gradio.FileData"}
#: The logins of the demo started with auth: a password with a space and a colon, and a plain one.
USERS = [("alice", "correct horse:battery"), ("bob", "s3cret")]


@dataclass
class Served:
    """A demo started for the suite: its ``url`` and, when it has a login, the ``login`` that opens it."""

    demo: object
    url: str
    login: tuple[str, str] | None = None
    _checker: httpx.Client | None = field(default=None, repr=False)
    _photo: tuple[str, float] | None = field(default=None, repr=False)  # the checker's upload and when

    def new_client(self, logged_in: bool = True) -> httpx.Client:
        """A new HTTP client of the demo, holding the login cookie if the demo has a login and ``logged_in``."""
        client = httpx.Client(base_url=self.url, timeout=TIMEOUT)
        if self.login and logged_in:
            response = client.post("login", data={"username": self.login[0], "password": self.login[1]})
            assert response.status_code == 200, response.text
        return client

    @contextmanager
    def client(self, logged_in: bool = True) -> Iterator[httpx.Client]:
        """``new_client`` for the block: each probe gets connections of its own (a 500 closes its connection)."""
        client = self.new_client(logged_in)
        try:
            yield client
        finally:
            client.close()

    def checker(self) -> httpx.Client:
        """The logged-in client that ``assert_serving`` keeps for the session."""
        if self._checker is None:
            self._checker = self.new_client()
        return self._checker

    def photo(self) -> str:
        """The path of the normal photo the checker uploaded (again if the cache may have let it expire)."""
        if self._photo is None or time.monotonic() - self._photo[1] > 120:
            self._photo = upload(self.checker(), "astronaut.jpg", photo_jpeg()), time.monotonic()
        return self._photo[0]

    def close(self) -> None:
        """Close the checker's client and the demo."""
        if self._checker is not None:
            self._checker.close()
        self.demo.close()


def file_data(path: str, **more) -> dict:
    """The ``FileData`` dict an API call carries for a file (what gradio_client sends after an upload)."""
    return {"path": path, "meta": FILE_DATA, **more}


def upload(client: httpx.Client, name: str, data: bytes) -> str:
    """Upload one file through ``/gradio_api/upload``; returns its path in Gradio's cache."""
    response = client.post("gradio_api/upload", files={"files": (name, data, "application/octet-stream")})
    assert response.status_code == 200, (response.status_code, response.text[:300])
    (path,) = response.json()
    return path


@dataclass(frozen=True)
class Answer:
    """What a call of an API endpoint came to: the HTTP status of the call and, once accepted, the event that ended
    it (``complete`` or ``error``) with its data."""

    status: int
    event: str | None = None
    data: object = None
    text: str = ""

    @property
    def error(self) -> str:
        """The message of an ``error`` event ('' if there is none)."""
        if self.event != "error":
            return ""
        if isinstance(self.data, dict):
            return str(self.data.get("error") or "")
        return "" if self.data is None else str(self.data)


def call(client: httpx.Client, data: object, api_name: str = "analyze", body: dict | None = None) -> Answer:
    """POST ``/gradio_api/call/<api_name>`` with ``data`` (or a whole ``body``) and read its events to the end."""
    response = client.post(f"gradio_api/call/{api_name}", json={"data": data} if body is None else body)
    if response.status_code != 200:
        return Answer(response.status_code, text=response.text)
    event_id = response.json()["event_id"]
    event = None
    with client.stream("GET", f"gradio_api/call/{api_name}/{event_id}") as stream:
        for line in stream.iter_lines():
            if line.startswith("event: "):
                event = line.removeprefix("event: ").strip()
            elif line.startswith("data: ") and event in ("complete", "error"):
                return Answer(200, event, json.loads(line.removeprefix("data: ")))
    raise AssertionError(f"the events of {api_name} ended without a result (last event: {event})")


def fn_index(client: httpx.Client, api_name: str = "analyze") -> int:
    """The function index of an API endpoint, from the page's config."""
    config = client.get("config").json()
    return next(d["id"] for d in config["dependencies"] if d.get("api_name") == api_name)


def analyze(client: httpx.Client, name: str, data: bytes, backend: str = BACKEND, detector: str = "blazeface"):
    """Upload a file and analyse it with the ``analyze`` endpoint."""
    return call(client, [file_data(upload(client, name, data)), backend, detector])


def raw_get(url: str, path: str, headers: dict | None = None) -> tuple[int, bytes]:
    """GET ``path`` exactly as written (``../`` and ``%2e`` left alone: httpx would normalise them)."""
    parts = urlsplit(url)
    connection = http.client.HTTPConnection(parts.hostname, parts.port, timeout=TIMEOUT)
    try:
        connection.request("GET", path, headers=headers or {})
        response = connection.getresponse()
        return response.status, response.read()
    finally:
        connection.close()


def assert_serving(served: Served) -> None:
    """The demo still answers its health check and a normal ``analyze`` call (logged in, if it has a login)."""
    client = served.checker()
    health = client.get("healthz")
    assert health.status_code == 200 and health.json()["status"] == "ok", health.text
    answer = call(client, [file_data(served.photo()), BACKEND, "blazeface"])
    assert answer.event == "complete", answer
    annotated, label, faces, readout = answer.data
    assert len(faces["faces"]) == 1 and faces["backend"] == BACKEND and "1 face" in readout
