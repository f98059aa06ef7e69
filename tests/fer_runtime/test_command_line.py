"""Bad input ends a command with one line and exit status 2; other errors are not swallowed."""

import pytest

from fer_runtime.command_line import EXIT_BAD_INPUT, CommandError, error_line, run_command


class RunBroken(RuntimeError):
    pass


@pytest.mark.parametrize(
    ("error", "line"),
    [
        (FileNotFoundError("no model at x"), "fer-x: error: no model at x"),
        (ValueError("Unknown backend 'onnx'"), "fer-x: error: Unknown backend 'onnx'"),
        (KeyError("no split 'test'"), "fer-x: error: no split 'test'"),  # a KeyError's message, unquoted
        (CommandError("give --data"), "fer-x: error: give --data"),
        (RunBroken("run dir holds another run"), "fer-x: error: run dir holds another run"),  # named by the caller
    ],
)
def test_bad_input_gives_one_line_and_status_2(capsys, error, line):
    def work():
        raise error

    assert run_command("fer-x", work, errors=(RunBroken,)) == EXIT_BAD_INPUT
    captured = capsys.readouterr()
    assert captured.err == line + "\n" and captured.out == ""


def test_the_status_of_the_work_is_returned_and_none_counts_as_0():
    assert run_command("fer-x", lambda: 1) == 1
    assert run_command("fer-x", lambda: None) == 0


def test_other_errors_are_not_turned_into_bad_input():
    def work():
        raise RuntimeError("a bug")

    with pytest.raises(RuntimeError, match="a bug"):
        run_command("fer-x", work)
    assert error_line("p", KeyError("k")) == "p: error: k"
