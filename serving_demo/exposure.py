"""Who can reach the demo, and whether it may be served that way: no one beyond this machine without a login.

Bound to a loopback address (127.0.0.1, any 127.x.y.z, ``localhost``, ::1) only this machine reaches the demo,
and a login is optional. Any other address (``0.0.0.0``, ``::``, a LAN address, a host name) or a Gradio share link
lets others in: ``fer-demo`` then refuses to start without a login unless ``--no-auth`` says so explicitly, and the
page then carries a banner saying it is open.
"""

from __future__ import annotations

import ipaddress

from fer_runtime.command_line import CommandError

#: Shown at the top of the page when the demo is served with ``--no-auth`` (plain text).
NO_AUTH_BANNER = (
    "Open demo, no login: it was started with --no-auth, so anyone who can reach its address can use it. "
    "Start it with --auth-file FILE to require a login."
)


def is_loopback(host: str) -> bool:
    """Whether binding to ``host`` keeps the demo on this machine (``localhost`` or a loopback IP address)."""
    name = host.strip().strip("[]").lower()
    if name == "localhost":
        return True
    try:
        return ipaddress.ip_address(name).is_loopback
    except ValueError:
        return False  # a host name other than localhost: assume it is reachable from elsewhere


def check_exposure(host: str, share: bool, has_login: bool, no_auth: bool) -> bool:
    """Refuse to serve beyond this machine without a login; say whether the page needs the open-demo banner.

    Args:
        host: The address the server binds to (``--host``).
        share: Whether a Gradio share link is opened (``--share``).
        has_login: Whether a login is configured (``--auth-file``, ``FER_DEMO_AUTH_FILE`` or ``FER_DEMO_AUTH``).
        no_auth: Whether ``--no-auth`` was given.

    Returns:
        True when the page must show ``NO_AUTH_BANNER`` (``--no-auth`` was given), else False.

    Raises:
        CommandError: when the demo would be reachable from other machines without a login and ``--no-auth`` was
            not given (the message says how to add a login), or when ``--no-auth`` comes with a login.
    """
    if no_auth and has_login:
        raise CommandError(
            "--no-auth contradicts the login configured (--auth-file, FER_DEMO_AUTH_FILE or FER_DEMO_AUTH)"
        )
    if no_auth or has_login:
        return no_auth
    if share:
        reach = "--share opens a public link to the demo"
    elif not is_loopback(host):
        reach = f"--host {host} makes the demo reachable from other machines"
    else:
        return False
    raise CommandError(
        f"{reach}, and no login is configured: add --auth-file FILE (lines user:password) "
        "or set FER_DEMO_AUTH_FILE, or pass --no-auth to serve it open on purpose"
    )
