"""How many annotated webcam frames per second reach the browser (``export.benchmarks.webcam``).

    python -m export.cli.webcam_bench --seconds 10 --runs 3 --json webcam.json

Starts the demo in this process (or uses ``--url``), opens it in Debian's Chromium with Chromium's fake camera
playing a 30 fps video of a real face, starts the webcam stream and counts the annotated frames that arrive in
the page. Runs ``--runs`` times, each in a fresh browser against the same demo, and reports every run and the
median of each figure (the JSON keeps one run's keys for the medians and adds ``runs``). Prints a table, writes
JSON. Needs Playwright and ``/usr/bin/chromium`` (``make test`` installs both).
"""

from __future__ import annotations

import argparse
import sys

from export.cli import add_json_option, report
from fer_runtime.command_line import CommandError, run_command
from serving_demo.command_line import add_model_options
from serving_demo.local_server import demo_at

PROG = "python -m export.cli.webcam_bench"


def build_parser() -> argparse.ArgumentParser:
    """The webcam benchmark's argument parser."""
    parser = argparse.ArgumentParser(
        prog=PROG, description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--url", help="a running demo (default: start one in this process on the shipped model)")
    add_model_options(parser, backend=False, defaults=False, note="selected in the page")
    parser.add_argument("--seconds", type=float, default=10.0, help="how long to count frames (default: 10)")
    parser.add_argument(
        "--runs",
        type=int,
        default=3,
        help="runs, each in a fresh browser against the same demo; the table and JSON give each and the median "
        "(default: %(default)s)",
    )
    add_json_option(parser)
    return parser


def main(argv: list[str] | None = None) -> int:
    """Measure the webcam frame rate ``--runs`` times and print each run and the median; 0, or 2 on an error."""
    args = build_parser().parse_args(argv)

    def work() -> None:
        from export.benchmarks.webcam import format_table, measure_webcam_runs

        if args.runs < 1:
            raise CommandError("--runs must be at least 1")
        with demo_at(args.url, args.artifacts) as url:
            result = measure_webcam_runs(url, args.runs, args.seconds, args.detector)
        report(format_table(result), result, args.json)

    return run_command(PROG, work)


if __name__ == "__main__":
    sys.exit(main())
