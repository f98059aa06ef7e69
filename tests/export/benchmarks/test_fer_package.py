"""The ``fer`` package's row of ``fer-bench``: finding its interpreter, reading its output, the ratio and the table.

Nothing here needs ``fer``: the subprocesses are stand-in scripts. ``tests/export/cli/test_bench.py`` runs the
whole row through ``fer-bench`` with a stand-in interpreter.
"""

import importlib.util
import sys

import pytest

from export.benchmarks import fer_package
from export.benchmarks.fer_package import (
    INSTALL_HINT,
    FerPackageUnavailable,
    fer_package_record,
    find_fer_python,
    format_fer_package,
    parse_last_json,
    run_fer_package,
    run_script,
)

FER_OUT = {"ms": 123.456, "faces": 1, "version": "25.10.3"}
OURS_OUT = {"ms": 10.0, "faces": 1, "backend": "tflite-int8", "detector": "blazeface"}


def record(**changes) -> dict:
    fer = FER_OUT | changes.pop("fer", {})
    ours = OURS_OUT | changes.pop("ours", {})
    return fer_package_record(fer, ours, threads=2, iterations=20, warmup=3, fer_python="/venv/bin/python")


def test_the_record_has_both_times_and_their_ratio():
    r = record()
    assert r["frame"] == "640x480" and r["fer_version"] == "25.10.3"
    assert r["fer_ms"] == 123.46 and r["ours_ms"] == 10.0 and r["speedup"] == 12.35
    assert r["faces"] == {"fer": 1, "ours": 1}
    assert (r["threads"], r["iterations"], r["warmup"]) == (2, 20, 3)
    assert (r["ours_backend"], r["ours_detector"], r["fer_python"]) == ("tflite-int8", "blazeface", "/venv/bin/python")


@pytest.mark.parametrize("fer_ms, ours_ms", [(100.0, 0.0), (0.0, 10.0), (-1.0, 10.0)])
def test_a_time_that_is_not_positive_is_refused(fer_ms, ours_ms):
    with pytest.raises(ValueError, match="positive"):
        record(fer={"ms": fer_ms}, ours={"ms": ours_ms})


def test_the_table_shows_both_rows_side_by_side_the_ratio_and_the_threads():
    table = format_fer_package(record())
    lines = table.splitlines()
    fer_row = next(line for line in lines if line.startswith("fer 25.10.3: FER(mtcnn=False).detect_emotions"))
    ours_row = next(line for line in lines if line.startswith("ours: EmotionRecognizer().analyze (tflite-int8, "))
    assert fer_row.split()[-2:] == ["123.46", "1"] and ours_row.split()[-2:] == ["10.00", "1"]
    assert "ours is 12.3x as fast as fer's detect_emotions (median of 20 calls after 3 warm-up" in table
    assert "threads: both pinned to 2" in table
    assert "note:" not in table


def test_the_table_says_when_the_two_found_different_faces():
    assert "note: fer found 0 face(s), ours 1" in format_fer_package(record(fer={"faces": 0}))


def test_the_json_printed_last_is_read_past_what_libraries_print_first():
    assert parse_last_json('TensorFlow says hello\n{"ms": 1.5, "faces": 1}\n\n') == {"ms": 1.5, "faces": 1}


@pytest.mark.parametrize(
    "stdout, message", [("", "printed nothing"), ("hello\n", "no JSON"), ("[1, 2]\n", "no JSON object")]
)
def test_output_without_a_json_object_last_is_refused(stdout, message):
    with pytest.raises(ValueError, match=message):
        parse_last_json(stdout)


def test_a_fer_python_that_does_not_exist_is_one_line_with_the_way_to_get_one():
    with pytest.raises(FerPackageUnavailable) as info:
        find_fer_python("/no/such/python")
    message = str(info.value)
    assert "--fer-python /no/such/python does not exist" in message and INSTALL_HINT in message
    assert "\n" not in message


def test_a_fer_python_on_path_is_found_by_name():
    assert find_fer_python("sh").endswith("/sh")


def test_without_fer_python_this_interpreter_is_used_only_if_it_has_fer(monkeypatch):
    monkeypatch.setattr(importlib.util, "find_spec", lambda name: None)
    with pytest.raises(FerPackageUnavailable, match=f"`fer` is not installed for {sys.executable}"):
        find_fer_python(None)
    monkeypatch.setattr(importlib.util, "find_spec", lambda name: object() if name == "fer" else None)
    assert find_fer_python(None) == sys.executable


def test_run_fer_package_without_fer_measures_nothing(monkeypatch):
    def no_run(*args, **kwargs):
        raise AssertionError("nothing may run without an interpreter with fer")

    monkeypatch.setattr(fer_package, "run_script", no_run)
    with pytest.raises(FerPackageUnavailable, match="/no/such/python"):
        run_fer_package(None, "/no/such/python", iterations=1)


@pytest.mark.parametrize("iterations, warmup, threads", [(0, 3, 2), (1, -1, 2), (1, 3, 0)])
def test_run_fer_package_refuses_bad_counts(iterations, warmup, threads):
    with pytest.raises(ValueError):
        run_fer_package(None, "/no/such/python", iterations, warmup, threads)


def test_the_fer_script_is_valid_python_that_pins_fers_interpreter():
    compile(fer_package.FER_SCRIPT, "FER_SCRIPT", "exec")
    assert 'kwargs.setdefault("num_threads", threads)' in fer_package.FER_SCRIPT


def test_run_script_reads_the_json_and_says_why_a_script_failed(tmp_path):
    env = {"PATH": "/usr/bin:/bin"}
    assert run_script(sys.executable, "print('noise'); print('{\"ms\": 2}')", [], env, str(tmp_path), 60) == {"ms": 2}
    failing = "import sys; print('first', file=sys.stderr); sys.exit('ModuleNotFoundError: No module named fer')"
    with pytest.raises(RuntimeError, match=r"failed \(exit status 1\): ModuleNotFoundError: No module named fer"):
        run_script(sys.executable, failing, [], env, str(tmp_path), 60)
    with pytest.raises(RuntimeError, match="printed no JSON last"):
        run_script(sys.executable, "print('no json')", [], env, str(tmp_path), 60)
    with pytest.raises(RuntimeError, match="did not start"):
        run_script(str(tmp_path / "missing"), "", [], env, str(tmp_path), 60)
