"""The demo's logins: ``user:password`` lines from ``--auth-file``, ``FER_DEMO_AUTH_FILE`` or ``FER_DEMO_AUTH``.

A password never goes on the command line (it would show in ``ps`` and in shell history): it comes from a file
(``--auth-file FILE``, or the path in ``FER_DEMO_AUTH_FILE``) or, for containers whose secrets arrive as
environment variables, from the lines themselves in ``FER_DEMO_AUTH``. One ``user:password`` per line; blank lines
and lines starting with ``#`` are skipped; the password is everything after the first colon. Error messages name
the source and the line number, never the line.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path

#: Environment variable holding the path of an auth file (what ``--auth-file`` gives on the command line).
AUTH_FILE_ENV = "FER_DEMO_AUTH_FILE"
#: Environment variable holding ``user:password`` lines themselves (one or more, separated by newlines).
AUTH_ENV = "FER_DEMO_AUTH"


@dataclass(frozen=True)
class Logins:
    """The users allowed in and where they were read from.

    Attributes:
        users: ``(user, password)`` pairs, as ``gradio.Blocks.launch(auth=...)`` takes them.
        source: Where they came from, for messages: ``"--auth-file FILE"``, ``"FER_DEMO_AUTH_FILE=FILE"``
            or ``"FER_DEMO_AUTH"``. Never a password.
    """

    users: list[tuple[str, str]]
    source: str


def parse_logins(text: str, source: str) -> list[tuple[str, str]]:
    """The ``(user, password)`` pairs of ``user:password`` lines.

    Args:
        text: The lines. Blank lines and ``#`` comments are skipped; spaces around a line are dropped.
        source: Where the text came from, named in error messages.

    Returns:
        The pairs, in order.

    Raises:
        ValueError: on a line without a colon, an empty user or password, a user listed twice, or no user at
            all; the message gives the source and line number but not the line.
    """
    users: dict[str, str] = {}
    for number, raw in enumerate(text.splitlines(), start=1):
        line = raw.strip()
        if not line or line.startswith("#"):
            continue
        user, colon, password = line.partition(":")
        user = user.strip()
        if not colon or not user or not password:
            raise ValueError(f"{source}, line {number}: expected user:password with neither part empty")
        if user in users:
            raise ValueError(f"{source}, line {number}: user {user!r} is listed twice")
        users[user] = password
    if not users:
        raise ValueError(f"{source} has no user:password line")
    return list(users.items())


def read_logins(auth_file: str | Path | None, environ: Mapping[str, str]) -> Logins | None:
    """The logins the demo is started with, or None when none is configured.

    ``auth_file`` (the ``--auth-file`` option) comes first, then the file named by ``FER_DEMO_AUTH_FILE``, then the
    lines in ``FER_DEMO_AUTH``; setting both environment variables is refused as ambiguous.

    Args:
        auth_file: The ``--auth-file`` path, or None.
        environ: The environment (``os.environ``).

    Returns:
        The users and their source, or None.

    Raises:
        FileNotFoundError: if the auth file does not exist.
        ValueError: if both environment variables are set, the file cannot be read, or its lines are malformed.
    """
    if auth_file is None and environ.get(AUTH_FILE_ENV) and environ.get(AUTH_ENV):
        raise ValueError(f"both {AUTH_FILE_ENV} and {AUTH_ENV} are set; set only one")
    if auth_file is not None:
        path, source = Path(auth_file), f"--auth-file {auth_file}"
    elif environ.get(AUTH_FILE_ENV):
        path, source = Path(environ[AUTH_FILE_ENV]), f"{AUTH_FILE_ENV}={environ[AUTH_FILE_ENV]}"
    elif environ.get(AUTH_ENV):
        return Logins(parse_logins(environ[AUTH_ENV], AUTH_ENV), AUTH_ENV)
    else:
        return None
    if not path.is_file():
        raise FileNotFoundError(f"{source}: no such file")
    try:
        text = path.read_text(encoding="utf-8")
    except (OSError, UnicodeDecodeError) as e:
        raise ValueError(f"{source} cannot be read: {type(e).__name__}") from None
    return Logins(parse_logins(text, source), source)
