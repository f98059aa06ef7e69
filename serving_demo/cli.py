"""``fer-demo``: serve the Gradio app of ``serving_demo.app``; every face in a photo or webcam gets an emotion.

    fer-demo                                  # the shipped model, on http://127.0.0.1:7860
    fer-demo --artifacts artifacts/ship --port 8080
    fer-demo --host 0.0.0.0 --auth-file logins.txt   # on the network: a login is required

Privacy: binds to 127.0.0.1 unless ``--host`` says otherwise; beyond this machine (``--host``
other than loopback, or ``--share``) it needs a login (``--auth-file FILE`` of user:password
lines, or FER_DEMO_AUTH_FILE=FILE, or FER_DEMO_AUTH holding the lines) unless ``--no-auth``
says otherwise. Gradio analytics, version checks and hub lookups are off; webcam frames stay
in memory (the annotated frame goes back inline, never through a file); uploads are capped in
size, and uploads and results leave Gradio's cache after ``--cache-expiry`` seconds. A full
queue answers "busy, try again" at once; GET /healthz answers a process manager without login.
"""

from __future__ import annotations

import argparse
import os
import sys

from fer_runtime.command_line import CommandError, run_command
from serving_demo.app import CACHE_EXPIRY_S, MAX_FILE_SIZE, QUEUE_SIZE, build_demo, launch_demo
from serving_demo.auth import AUTH_ENV, AUTH_FILE_ENV, read_logins
from serving_demo.cache_expiry import CacheExpiry
from serving_demo.command_line import add_model_options
from serving_demo.exposure import check_exposure
from serving_demo.recognizer import EmotionRecognizer


def build_parser() -> argparse.ArgumentParser:
    """The ``fer-demo`` argument parser."""
    parser = argparse.ArgumentParser(
        prog="fer-demo", description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    add_model_options(parser, note="the page can switch it")
    parser.add_argument(
        "--host",
        default="127.0.0.1",
        help="address to bind; 0.0.0.0 exposes the demo to your network, which needs a login (default: 127.0.0.1)",
    )
    parser.add_argument("--port", type=int, default=7860, help="port to serve on (default: 7860)")
    parser.add_argument(
        "--share",
        action="store_true",
        help="also open a public Gradio share link, which sends traffic out; needs a login (default: off)",
    )
    login = parser.add_mutually_exclusive_group()
    login.add_argument(
        "--auth-file",
        metavar="FILE",
        help=f"require a login: FILE has user:password lines (# comments allowed). Or set {AUTH_FILE_ENV}=FILE, "
        f"or {AUTH_ENV} to the lines themselves. Needed with --share or a --host beyond loopback. "
        "Never put a password on the command line",
    )
    login.add_argument(
        "--no-auth",
        action="store_true",
        help="serve without a login even beyond this machine (--share, --host 0.0.0.0), on purpose; "
        "the page then shows a banner saying it is open",
    )
    parser.add_argument(
        "--max-file-size", default=MAX_FILE_SIZE, help=f"largest upload accepted (default: {MAX_FILE_SIZE})"
    )
    parser.add_argument(
        "--queue-size",
        type=int,
        default=QUEUE_SIZE,
        metavar="N",
        help="requests that may wait beyond those running; one more is told at once that the demo is busy "
        "and to try again (default: %(default)s)",
    )
    parser.add_argument(
        "--cache-expiry",
        type=int,
        default=CACHE_EXPIRY_S,
        metavar="SECONDS",
        help="delete uploads and results from Gradio's cache this long after they were written; longer than any "
        "request waits, as uploads expire too (default: %(default)s)",
    )
    return parser


def main(argv: list[str] | None = None) -> int:
    """Console entry point of ``fer-demo``; returns the exit status."""
    args = build_parser().parse_args(argv)
    return run_command("fer-demo", lambda: _serve(args))


def _serve(args: argparse.Namespace) -> None:
    # Everything that can refuse the command comes before the model loads.
    logins = read_logins(args.auth_file, os.environ)
    banner = check_exposure(args.host, args.share, has_login=logins is not None, no_auth=args.no_auth)
    if args.queue_size < 1:
        raise CommandError(f"--queue-size must be at least 1, not {args.queue_size}")
    if args.cache_expiry < 1:
        raise CommandError(f"--cache-expiry must be at least 1 second, not {args.cache_expiry}")
    recognizer = EmotionRecognizer(args.artifacts, backend=args.backend, detector=args.detector)
    recognizer.predictor()  # load the initial backend now, not on the first request
    demo = build_demo(
        recognizer,
        queue_size=args.queue_size,
        cache_expiry=CacheExpiry(args.cache_expiry),
        no_auth_banner=banner,
    )
    if logins:
        print(f"fer-demo: login required: {len(logins.users)} user(s) from {logins.source}", file=sys.stderr)
    elif banner:
        print(f"fer-demo: warning: served without a login on {args.host} (--no-auth)", file=sys.stderr)
    launch_demo(
        demo,
        recognizer,
        host=args.host,
        port=args.port,
        share=args.share,
        logins=logins,
        max_file_size=args.max_file_size,
    )


if __name__ == "__main__":
    sys.exit(main())
