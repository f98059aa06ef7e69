"""Face detection, the emotion recognizer and the Gradio demo."""

from pathlib import Path

EXAMPLES_DIR = Path(__file__).resolve().parent / "examples"  # photos with faces, shipped with the package
