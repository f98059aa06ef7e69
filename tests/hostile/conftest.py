"""Fixtures of the hostile-input suite: the shipped model's recognizer, and one demo per auth mode for the session,
served as ``fer-demo`` serves it (``launch_demo``: login, health check, the 20 MB upload cap) on free loopback ports."""

from __future__ import annotations

import os

import pytest

from tests.hostile.demo_http import USERS, Served

os.environ.setdefault("HF_HUB_OFFLINE", "1")
os.environ.setdefault("HF_HUB_DISABLE_TELEMETRY", "1")


@pytest.fixture(scope="session")
def recognizer():
    """The shipped model, default backend (tflite-int8) and detector: what ``fer-demo`` and ``fer-analyze`` use."""
    from serving_demo.recognizer import EmotionRecognizer

    return EmotionRecognizer()


def serve(recognizer, logins=None) -> Served:
    """``fer-demo``'s app on a free 127.0.0.1 port, launched as the command launches it (default upload cap)."""
    from serving_demo.app import build_demo, launch_demo
    from serving_demo.local_server import free_port

    demo = build_demo(recognizer)
    port = free_port()
    launch_demo(demo, recognizer, port=port, logins=logins, prevent_thread_lock=True, quiet=True)
    return Served(demo, f"http://127.0.0.1:{port}/", logins.users[0] if logins else None)


@pytest.fixture(scope="session")
def open_server(recognizer) -> Served:
    """The demo without a login (as on loopback by default)."""
    served = serve(recognizer)
    yield served
    served.close()


@pytest.fixture(scope="session")
def auth_server(recognizer) -> Served:
    """The demo with a login (as ``--auth-file`` gives it)."""
    from serving_demo.auth import Logins

    served = serve(recognizer, Logins(USERS, "the hostile suite's logins"))
    yield served
    served.close()


@pytest.fixture(params=["open", "logged-in"])
def served(request) -> Served:
    """Each demo in turn: the one without a login, and the one with a login, driven logged in."""
    return request.getfixturevalue("open_server" if request.param == "open" else "auth_server")
