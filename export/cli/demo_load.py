"""Concurrent load test of the demo's ``analyze`` endpoint (``export.benchmarks.demo_load``).

    python -m export.cli.demo_load                       # starts the demo in-process on a free port
    python -m export.cli.demo_load --url http://127.0.0.1:7860/ --clients 32 --requests 10
    python -m export.cli.demo_load --json load.json

Every client is its own ``gradio_client.Client`` in its own thread and sends the same photo
``--requests`` times. A call counts as a success only when the annotated image it returns was
downloaded completely. Exits with status 1 when any call failed.
"""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path

from fer_runtime.command_line import CommandError, run_command
from serving_demo import EXAMPLES_DIR
from serving_demo.command_line import add_model_options
from serving_demo.local_server import demo_at

PROG = "python -m export.cli.demo_load"


def build_parser() -> argparse.ArgumentParser:
    """The load test's argument parser."""
    parser = argparse.ArgumentParser(
        prog=PROG, description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--url", help="a running demo's URL (default: start the demo in this process on a free port)")
    default_image = EXAMPLES_DIR / "two_astronauts.jpg"
    parser.add_argument("--image", default=str(default_image), help="the photo to send (default: %(default)s)")
    parser.add_argument("--clients", type=int, default=16, help="concurrent clients (default: %(default)s)")
    parser.add_argument("--requests", type=int, default=20, help="calls per client (default: %(default)s)")
    parser.add_argument("--timeout", type=float, default=60, help="seconds allowed per call (default: %(default)s)")
    add_model_options(parser, defaults=False, note="sent with each call; --artifacts is the in-process demo's model")
    parser.add_argument("--json", metavar="PATH", help="also write the result as JSON to PATH")
    return parser


def main(argv: list[str] | None = None) -> int:
    """Run one load test and print it; 0 if every call succeeded, 1 if any failed, 2 on bad input."""
    args = build_parser().parse_args(argv)

    def work() -> int:
        from export.benchmarks.demo_load import format_table, run_load_test

        if args.clients < 1 or args.requests < 1:
            raise CommandError("--clients and --requests must be at least 1")
        with demo_at(args.url, args.artifacts, args.backend) as url:
            result = run_load_test(
                url, args.image, args.clients, args.requests, args.backend, args.detector, args.timeout
            )
        print(format_table(result))
        if args.json:
            Path(args.json).write_text(json.dumps(result, indent=2) + "\n")
        return 1 if result["failures"] else 0

    return run_command(PROG, work, errors=(OSError,))


if __name__ == "__main__":
    sys.exit(main())
