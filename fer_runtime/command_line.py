"""What every console script shares: one line and exit status 2 for bad input, instead of a traceback.

Parsing stays in each command's ``build_parser``; this module only turns the errors that bad input raises
into the message users read. It imports nothing heavy, so ``--help`` stays instant.
"""

from __future__ import annotations

import sys
from collections.abc import Callable

#: Exit status of a command stopped by bad input (argparse uses the same for bad arguments).
EXIT_BAD_INPUT = 2
#: Exit status of a command stopped by Ctrl-C (128 + SIGINT, as shells report it); the run can be resumed.
EXIT_INTERRUPTED = 130

#: What bad input raises in this project's library functions: a missing or existing file, a wrong value.
#: Library errors of their own (``RunDirError``, ``MissingDataError``, ...) subclass one of these.
INPUT_ERRORS: tuple[type[BaseException], ...] = (FileNotFoundError, FileExistsError, NotADirectoryError, ValueError)


class CommandError(Exception):
    """Bad input found by a command itself; its message is the one line the user reads."""


def error_line(prog: str, error: BaseException) -> str:
    """``"prog: error: message"``, with a ``KeyError``'s message unquoted, on one line (see ``one_line``)."""
    message = error.args[0] if isinstance(error, KeyError) and error.args else error
    return f"{prog}: error: {one_line(str(message))}"


def one_line(text: str) -> str:
    """``text`` with every character that is not printable (newlines, tabs, lone surrogates of undecodable file
    names) written as its Python escape: a file name cannot break a message into lines or forge one."""
    if text.isprintable():
        return text
    return "".join(c if c.isprintable() else repr(c)[1:-1] for c in text)


def run_command(prog: str, work: Callable[[], int | None], errors: tuple[type[BaseException], ...] = ()) -> int:
    """Run a command's ``work`` and turn bad input into one line on stderr and ``EXIT_BAD_INPUT``.

    Args:
        prog: The command's name, first on the error line.
        work: The command's body; returns its exit status (``None`` counts as 0).
        errors: Exception types that mean bad input besides ``INPUT_ERRORS``, ``KeyError`` and ``CommandError``.

    Returns:
        ``work``'s exit status, or ``EXIT_BAD_INPUT`` when it raised one of those errors.
    """
    try:
        status = work()
    except (*INPUT_ERRORS, KeyError, CommandError, *errors) as e:
        print(error_line(prog, e), file=sys.stderr)
        return EXIT_BAD_INPUT
    return 0 if status is None else int(status)
