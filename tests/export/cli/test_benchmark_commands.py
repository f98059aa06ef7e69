"""The benchmark commands of ``export/cli``: bad input is one line and status 2, before anything heavy starts."""

import pytest

from export.cli import demo_load, training_throughput, webcam_bench


@pytest.mark.parametrize(
    ("command", "argv", "message"),
    [
        (demo_load, ["--clients", "0"], "--clients and --requests must be at least 1"),
        (demo_load, ["--url", "http://127.0.0.1:9/", "--image", "/no/such.jpg", "--requests", "1"], "/no/such.jpg"),
        (webcam_bench, ["--artifacts", "/no/such/export", "--seconds", "0.1"], "/no/such/export"),
        (webcam_bench, ["--runs", "0"], "--runs must be at least 1"),
    ],
)
def test_bad_input_is_one_line_and_status_2(capsys, command, argv, message):
    assert command.main(argv) == 2
    err = capsys.readouterr().err
    assert err.startswith(f"{command.PROG}: error: ") and message in err and "Traceback" not in err


def test_every_benchmark_command_answers_help(capsys):
    for command in (demo_load, training_throughput, webcam_bench):
        with pytest.raises(SystemExit) as exit_info:
            command.main(["--help"])
        assert exit_info.value.code == 0
        assert capsys.readouterr().out.startswith(f"usage: {command.PROG} ")
