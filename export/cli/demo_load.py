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
import sys

from export.cli import add_demo_call_options, report
from fer_runtime.command_line import CommandError, run_command
from serving_demo.local_server import demo_at

PROG = "python -m export.cli.demo_load"


def build_parser() -> argparse.ArgumentParser:
    """The load test's argument parser."""
    from export.benchmarks.demo_load import DEFAULT_IMAGE

    parser = argparse.ArgumentParser(
        prog=PROG, description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--url", help="a running demo's URL (default: start the demo in this process on a free port)")
    parser.add_argument("--clients", type=int, default=16, help="concurrent clients (default: %(default)s)")
    parser.add_argument("--requests", type=int, default=20, help="calls per client (default: %(default)s)")
    add_demo_call_options(
        parser,
        DEFAULT_IMAGE,
        timeout=60,
        model_note="sent with each call; --artifacts is the in-process demo's model",
    )
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
        report(format_table(result), result, args.json)
        return 1 if result["failures"] else 0

    return run_command(PROG, work, errors=(OSError,))


if __name__ == "__main__":
    sys.exit(main())
