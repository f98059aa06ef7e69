"""The rule both runners follow for an existing output, and the one line a failed write becomes."""

import errno

import pytest

from serving_demo.analysis.outputs import OutputError, check_owner, failure_reason, settings_difference, writing

MINE = {"runner": "local", "paths": ["photos"], "every": 15}


def test_an_output_is_resumed_only_by_the_command_that_claims_it():
    assert check_owner("out.jsonl", False, None, MINE, overwrite=False) is False  # nothing there: a new run
    assert check_owner("out.jsonl", True, MINE, MINE, overwrite=False) is True  # its own: go on with it
    assert check_owner("out.jsonl", False, MINE, MINE, overwrite=False) is True  # claimed, killed before writing
    with pytest.raises(ValueError) as nobodys:
        check_owner("out.jsonl", True, None, MINE, overwrite=False)
    assert str(nobodys.value) == (
        "out.jsonl exists and is not the output of a fer-analyze run: use --overwrite or another --output"
    )
    other = {**MINE, "runner": "beam", "every": 10}
    with pytest.raises(ValueError) as anothers:
        check_owner("out.jsonl", True, other, MINE, overwrite=False)
    assert str(anothers.value) == (
        "out.jsonl was written by another fer-analyze command (runner: 'beam' there, 'local' here; every: 10 there, "
        "15 here); repeat that command to go on with it, or use --overwrite or another --output"
    )
    with pytest.raises(ValueError, match="another fer-analyze command"):
        check_owner("out.jsonl", False, other, MINE, overwrite=False)  # another's claim, even with no output yet
    assert check_owner("out.jsonl", True, other, MINE, overwrite=True) is False
    assert check_owner("out.jsonl", True, None, MINE, overwrite=True) is False


def test_settings_difference_names_keys_missing_on_either_side():
    assert settings_difference({"a": 1}, {"a": 1, "b": 2}) == "b: None there, 2 here"


def test_the_reason_of_a_failed_write_is_found_inside_beams_wrappers():
    BeamIOError = pytest.importorskip("apache_beam.io.filesystem").BeamIOError
    full = OSError(errno.ENOSPC, "No space left on device")
    assert failure_reason(full) == "No space left on device"
    assert failure_reason(OSError(PermissionError(errno.EACCES, "Permission denied"))) == "Permission denied"
    assert failure_reason(BeamIOError("Rename operation failed", {("a", "b"): full})) == "No space left on device"
    assert failure_reason(RuntimeError("first line\nsecond")) == "first line"


def test_writing_turns_an_os_error_into_one_line_naming_the_file(tmp_path):
    with pytest.raises(OutputError) as failed, writing(str(tmp_path / "out.jsonl")):
        (tmp_path / "missing" / "x").write_text("")
    message = str(failed.value)
    assert message.startswith(f"cannot write {tmp_path / 'out.jsonl'}: No such file or directory; ")
    assert "run the same command again" in message and "\n" not in message
    with pytest.raises(ValueError), writing("out.jsonl"):  # anything else passes unchanged
        raise ValueError("not a write")
