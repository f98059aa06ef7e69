"""The demo started in the background on a free port, as benchmarks drive it."""

import urllib.request

import pytest

from serving_demo.local_server import demo_at, free_port


def test_a_free_port_can_be_bound():
    import socket

    port = free_port()
    with socket.socket() as s:
        s.bind(("127.0.0.1", port))


def test_demo_at_serves_a_demo_for_the_block_then_closes_it(exported):
    with demo_at(None, exported.out_dir) as url:
        assert url.startswith("http://127.0.0.1:")
        with urllib.request.urlopen(url, timeout=30) as response:
            assert response.status == 200
    with pytest.raises(OSError):
        urllib.request.urlopen(url, timeout=5)
    with demo_at("http://example.invalid/") as given:  # a running demo's URL is used as it is
        assert given == "http://example.invalid/"


def test_demo_at_refuses_missing_artifacts(tmp_path):
    with pytest.raises(FileNotFoundError):
        with demo_at(None, tmp_path / "nothing"):
            pass
