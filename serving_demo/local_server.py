"""The demo started in this process on a free loopback port: what benchmarks and tests drive.

``fer-demo`` itself blocks in ``launch``; benchmarks (``export.benchmarks``) and the tests need it in the
background, on a port nobody else holds, and closed afterwards.
"""

from __future__ import annotations

import socket
from collections.abc import Iterator
from contextlib import contextmanager


def free_port() -> int:
    """A TCP port on 127.0.0.1 that is free right now."""
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def start_demo(artifacts: str | None = None, backend: str | None = None, max_file_size: str | None = None):
    """Start ``fer-demo`` in this process on a free 127.0.0.1 port, in the background.

    Args:
        artifacts: A ``fer-export`` directory (default: the shipped pretrained model).
        backend: The initial backend (default: the recognizer's default).
        max_file_size: Largest upload accepted (default: the demo's ``MAX_FILE_SIZE``).

    Returns:
        ``(demo, url)``; call ``demo.close()`` when done.

    Raises:
        FileNotFoundError, ValueError: as ``EmotionRecognizer`` does for missing artifacts or an unknown backend.
    """
    from serving_demo.app import MAX_FILE_SIZE, build_demo
    from serving_demo.recognizer import EmotionRecognizer

    recognizer = EmotionRecognizer(artifacts, **({"backend": backend} if backend else {}))
    recognizer.predictor()  # load the backend now, not in the first timed call
    demo = build_demo(recognizer)
    port = free_port()
    demo.launch(
        server_name="127.0.0.1",
        server_port=port,
        prevent_thread_lock=True,
        quiet=True,
        max_file_size=max_file_size or MAX_FILE_SIZE,
    )
    return demo, f"http://127.0.0.1:{port}/"


@contextmanager
def demo_at(url: str | None, artifacts: str | None = None, backend: str | None = None) -> Iterator[str]:
    """``url`` itself, or, when it is None, the URL of a demo started with ``start_demo(artifacts, backend)`` for the
    block and closed after it: what a benchmark that may drive a running demo or its own needs.

    Raises:
        FileNotFoundError, ValueError: as ``start_demo``.
    """
    if url:
        yield url
        return
    demo, started_url = start_demo(artifacts, backend)
    try:
        yield started_url
    finally:
        demo.close()
