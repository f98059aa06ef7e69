"""Soak test of the demo: memory and cache growth under sustained use (``export.benchmarks.soak``).

    python -m export.cli.soak --requests 10000 --json soak.json
    python -m export.cli.soak --requests 10000 --rate 2 --json soak.json   # a steady 2 calls/s
    python -m export.cli.soak --requests 600 --clients 2 --cache-expiry 10 --backend tflite-fp32

Starts ``fer-demo`` as its own process with its own cache directory, sends ``--requests`` distinct ``analyze``
calls from ``--clients`` clients, samples the server's resident memory and its cache directory's disk use, files
and folders every ``--sample-every`` calls, prints a table with the growth after warm-up in percent, and waits
for the cache to expire once more at the end. Exits with status 1 when any call failed.
"""

from __future__ import annotations

import argparse
import sys

from export.cli import add_demo_call_options, report
from fer_runtime.command_line import CommandError, run_command

PROG = "python -m export.cli.soak"


def build_parser() -> argparse.ArgumentParser:
    """The soak test's argument parser."""
    from export.benchmarks.soak import DEFAULT_IMAGE

    parser = argparse.ArgumentParser(
        prog=PROG, description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--requests", type=int, default=10_000, help="analyze calls in all (default: %(default)s)")
    parser.add_argument("--clients", type=int, default=4, help="concurrent clients (default: %(default)s)")
    parser.add_argument(
        "--rate",
        type=float,
        metavar="PER_S",
        help="start at most this many calls a second, in all: below the server's capacity the rate stays steady, "
        "and so does the cache's steady size (default: as fast as the clients go)",
    )
    parser.add_argument(
        "--sample-every", type=int, metavar="K", help="calls between two samples (default: a fiftieth of --requests)"
    )
    parser.add_argument(
        "--warmup",
        type=int,
        metavar="N",
        help="calls before growth is measured (default: a fifth of --requests; at least one cache expiry cycle)",
    )
    parser.add_argument(
        "--cache-expiry",
        type=int,
        default=30,
        metavar="SECONDS",
        help="the demo's --cache-expiry: short, so the cache reaches its steady size early (default: %(default)s)",
    )
    parser.add_argument(
        "--no-settle", action="store_true", help="skip the final wait for the cache to expire and the last sample"
    )
    add_demo_call_options(parser, DEFAULT_IMAGE, timeout=120, model_note="passed to the demo")
    return parser


def main(argv: list[str] | None = None) -> int:
    """Run one soak test and print it; 0 if every call succeeded, 1 if any failed, 2 on bad input."""
    args = build_parser().parse_args(argv)

    def work() -> int:
        from export.benchmarks.soak import format_table, run_soak

        if min(args.requests, args.clients, args.cache_expiry) < 1 or (args.sample_every or 1) < 1:
            raise CommandError("--requests, --clients, --sample-every and --cache-expiry must be at least 1")
        if args.rate is not None and args.rate <= 0:
            raise CommandError(f"--rate must be above 0, not {args.rate}")
        model = {"--artifacts": args.artifacts, "--backend": args.backend, "--detector": args.detector}
        server_options = [part for flag, value in model.items() if value for part in (flag, str(value))]
        result = run_soak(
            requests=args.requests,
            clients=args.clients,
            sample_every=args.sample_every,
            warmup=args.warmup,
            cache_expiry=args.cache_expiry,
            image=args.image,
            server_options=server_options,
            settle=not args.no_settle,
            timeout=args.timeout,
            rate=args.rate,
        )
        report(format_table(result), result, args.json)
        return 1 if result["failures"] else 0

    return run_command(PROG, work, errors=(OSError, RuntimeError))


if __name__ == "__main__":
    sys.exit(main())
