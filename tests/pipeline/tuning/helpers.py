"""What the fer-tune tests share: the command line of a tiny search."""

from pathlib import Path


def cli_args(project: Path, fer_csv, data_dir, *extra: str) -> list[str]:
    """fer-tune's arguments for a 1-epoch search of seed_cnn_tiny on 96 generated faces, then ``extra``."""
    return [
        "--project-dir",
        str(project),
        "--data",
        str(fer_csv),
        "--data-dir",
        str(data_dir),
        "--model",
        "seed_cnn_tiny",
        "--epochs",
        "1",
        "--batch-size",
        "32",
        "--max-train-examples",
        "96",
        "--verbose",
        "0",
        *extra,
    ]
