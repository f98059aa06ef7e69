"""``fer-models``: the shipped models, by name; any tool's ``--artifacts`` (``--model``, ``--baseline``) takes a name.

fer-models                      # the table: name, labels, classes, figures on FER2013's PublicTest
fer-models seed_cnn_fer2013     # one model: its folder, card, figures and how it was made
fer-models --json               # the table as JSON
"""

from __future__ import annotations

import argparse
import json
import sys

from model_zoo.pretrained import CARD_FILE, SHIPPED_ROOT, ShippedModel, shipped_models


def build_parser() -> argparse.ArgumentParser:
    """The ``fer-models`` argument parser."""
    parser = argparse.ArgumentParser(
        prog="fer-models", description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("name", nargs="?", help="show this shipped model only")
    parser.add_argument("--json", action="store_true", help="print JSON instead of a table")
    return parser


def model_record(model: ShippedModel) -> dict:
    """A shipped model as a JSON-ready dict (what ``fer-models --json`` prints)."""
    card = model.path / CARD_FILE
    return {
        "name": model.name,
        "default": model.is_default,
        "path": str(model.path),
        "labels": model.labels,
        "classes": list(model.class_names),
        "summary": model.summary,
        "figures": model.figures,
        "card": str(card) if card.is_file() else None,
        "made_by": model.made_by,
    }


def format_models(models: dict[str, ShippedModel]) -> str:
    """The table of shipped models: one line each, the default marked with ``*``, then each one's summary."""
    if not models:
        return f"No shipped model is installed under {SHIPPED_ROOT}."
    lines = [f"{'name':<24} {'labels':<17} {'classes':>7}  figures (FER2013 PublicTest)"]
    for model in models.values():
        figures = ", ".join(f"{k} {v:.1%}" for k, v in model.figures.items()) or "-"
        name = model.name + (" *" if model.is_default else "")
        lines.append(f"{name:<24} {model.labels:<17} {len(model.class_names):>7}  {figures}")
    lines.append("* the default: used when a tool is given no model")
    lines += [f"{model.name}: {model.summary}" for model in models.values() if model.summary]
    return "\n".join(lines)


def main(argv: list[str] | None = None) -> int:
    """Console entry point of ``fer-models``; 0, or 2 for an unknown name."""
    args = build_parser().parse_args(argv)
    try:
        models = shipped_models()
    except ValueError as e:  # a malformed labels.txt in a shipped folder
        print(f"fer-models: error: {e}", file=sys.stderr)
        return 2
    if args.name is not None:
        if args.name not in models:
            names = ", ".join(models) or "none installed"
            print(f"fer-models: error: no shipped model is called {args.name!r} ({names})", file=sys.stderr)
            return 2
        models = {args.name: models[args.name]}
    if args.json:
        print(json.dumps([model_record(m) for m in models.values()], indent=2))
    elif args.name is not None:
        print("\n".join(f"{key}: {value}" for key, value in model_record(models[args.name]).items()))
    else:
        print(format_models(models))
    return 0


if __name__ == "__main__":
    sys.exit(main())
