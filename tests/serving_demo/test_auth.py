"""Logins from a file or the environment, and the refusal to serve beyond this machine without one."""

import pytest

from fer_runtime.command_line import CommandError
from serving_demo import cli
from serving_demo.auth import AUTH_ENV, AUTH_FILE_ENV, parse_logins, read_logins
from serving_demo.exposure import check_exposure, is_loopback


def test_user_password_lines_with_comments_and_colons_in_passwords():
    text = "# demo users\n\nalice:s3cret\r\n  bob:pa:ss:word  \n"
    assert parse_logins(text, "f") == [("alice", "s3cret"), ("bob", "pa:ss:word")]


@pytest.mark.parametrize(
    "text,message",
    [
        ("alice\n", "line 1: expected user:password"),
        ("# only a comment\n\n", "has no user:password line"),
        ("alice:\n", "line 1: expected user:password"),
        ("ok:1\n:hunter2\n", "line 2: expected user:password"),
        ("alice:1\nalice:2\n", "line 2: user 'alice' is listed twice"),
    ],
)
def test_malformed_lines_are_refused_without_echoing_them(text, message):
    with pytest.raises(ValueError, match=message) as error:
        parse_logins(text, "logins.txt")
    assert "hunter2" not in str(error.value) and "logins.txt" in str(error.value)


def test_logins_come_from_the_option_then_the_file_variable_then_the_lines_variable(tmp_path):
    option, from_env = tmp_path / "option.txt", tmp_path / "env.txt"
    option.write_text("opt:1\n")
    from_env.write_text("env:2\n")
    assert read_logins(option, {AUTH_FILE_ENV: str(from_env)}).users == [("opt", "1")]
    logins = read_logins(None, {AUTH_FILE_ENV: str(from_env)})
    assert logins.users == [("env", "2")] and logins.source == f"{AUTH_FILE_ENV}={from_env}"
    logins = read_logins(None, {AUTH_ENV: "a:1\nb:2"})
    assert logins.users == [("a", "1"), ("b", "2")] and logins.source == AUTH_ENV and "1" not in logins.source
    assert read_logins(None, {}) is None
    with pytest.raises(ValueError, match="set only one"):
        read_logins(None, {AUTH_FILE_ENV: str(from_env), AUTH_ENV: "a:1"})
    with pytest.raises(FileNotFoundError, match="no such file"):
        read_logins(tmp_path / "missing.txt", {})


@pytest.mark.parametrize("host", ["127.0.0.1", "127.0.0.2", "localhost", "LOCALHOST", "::1", "[::1]"])
def test_loopback_addresses(host):
    assert is_loopback(host)


@pytest.mark.parametrize("host", ["0.0.0.0", "::", "192.168.1.20", "10.0.0.1", "demo.example.org", ""])
def test_addresses_beyond_this_machine(host):
    assert not is_loopback(host)


def test_exposure_policy():
    assert check_exposure("127.0.0.1", share=False, has_login=False, no_auth=False) is False
    assert check_exposure("0.0.0.0", share=False, has_login=True, no_auth=False) is False
    assert check_exposure("127.0.0.1", share=True, has_login=True, no_auth=False) is False
    assert check_exposure("0.0.0.0", share=True, has_login=False, no_auth=True) is True  # open on purpose: banner
    with pytest.raises(CommandError, match="--host 0.0.0.0 makes the demo reachable"):
        check_exposure("0.0.0.0", share=False, has_login=False, no_auth=False)
    with pytest.raises(CommandError, match="--share opens a public link"):
        check_exposure("127.0.0.1", share=True, has_login=False, no_auth=False)
    with pytest.raises(CommandError, match="contradicts"):
        check_exposure("0.0.0.0", share=False, has_login=True, no_auth=True)


@pytest.mark.parametrize("argv", [["--host", "0.0.0.0"], ["--share"], ["--host", "::"]])
def test_serving_beyond_loopback_without_a_login_is_one_line_and_status_2(argv, tmp_path, monkeypatch, capsys):
    monkeypatch.delenv(AUTH_FILE_ENV, raising=False)
    monkeypatch.delenv(AUTH_ENV, raising=False)
    # Missing artifacts too: the refusal comes first, before any model is looked for or loaded.
    assert cli.main(argv + ["--artifacts", str(tmp_path / "none")]) == 2
    err = capsys.readouterr().err
    assert err.startswith("fer-demo: error: ") and err.count("\n") == 1
    assert "no login is configured" in err and "--auth-file FILE" in err and "--no-auth" in err
    assert "FER_DEMO_AUTH_FILE" in err


def test_bad_auth_file_is_one_line_and_status_2(tmp_path, monkeypatch, capsys):
    monkeypatch.delenv(AUTH_FILE_ENV, raising=False)
    monkeypatch.delenv(AUTH_ENV, raising=False)
    assert cli.main(["--auth-file", str(tmp_path / "missing.txt")]) == 2
    assert capsys.readouterr().err == f"fer-demo: error: --auth-file {tmp_path / 'missing.txt'}: no such file\n"
    bad = tmp_path / "bad.txt"
    bad.write_text("alice-without-password\n")
    assert cli.main(["--auth-file", str(bad), "--host", "0.0.0.0"]) == 2
    err = capsys.readouterr().err
    assert "line 1: expected user:password" in err and err.count("\n") == 1
    monkeypatch.setenv(AUTH_ENV, "alice:1")
    assert cli.main(["--no-auth"]) == 2
    assert "--no-auth contradicts the login" in capsys.readouterr().err


def test_no_password_option_and_the_two_login_flags_exclude_each_other(capsys):
    options = {a.dest for a in cli.build_parser()._actions}
    assert not {"auth", "password", "user"} & options
    with pytest.raises(SystemExit) as exit_info:
        cli.build_parser().parse_args(["--auth-file", "f", "--no-auth"])
    assert exit_info.value.code == 2 and "not allowed with argument" in capsys.readouterr().err


def test_queue_size_and_cache_expiry_must_be_positive(monkeypatch, capsys):
    monkeypatch.delenv(AUTH_FILE_ENV, raising=False)
    monkeypatch.delenv(AUTH_ENV, raising=False)
    assert cli.main(["--queue-size", "0"]) == 2
    assert "--queue-size must be at least 1" in capsys.readouterr().err
    assert cli.main(["--cache-expiry", "0"]) == 2
    assert "--cache-expiry must be at least 1" in capsys.readouterr().err
