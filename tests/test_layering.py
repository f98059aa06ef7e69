"""The layering the packages promise: light entry points, TFLite serving without TensorFlow, downward imports.

The test process itself has TensorFlow loaded (other tests train models), so every check of
what a program imports runs in a fresh interpreter.
"""

from __future__ import annotations

import argparse
import importlib
import os
import subprocess
import sys
import tomllib
from pathlib import Path

import pytest

from model_zoo import list_models
from serving_demo import EXAMPLES_DIR

ROOT = Path(__file__).resolve().parents[1]
SCRIPTS = tomllib.loads((ROOT / "pyproject.toml").read_text())["project"]["scripts"]
HEAVY = ("tensorflow", "keras", "tf_keras", "tensorflow_datasets", "keras_tuner", "gradio")


def _run(args: list[str], **kwargs) -> subprocess.CompletedProcess:
    env = {**os.environ, "PYTHONPATH": str(ROOT), "TF_CPP_MIN_LOG_LEVEL": "2"}
    return subprocess.run(args, cwd=ROOT, env=env, capture_output=True, text=True, timeout=120, **kwargs)


def _heavy_modules(names) -> list[str]:
    return sorted({name for name in names if name.split(".")[0] in HEAVY})


_SERVE_WITH_TFLITE = """
import json, sys
import model_zoo
from model_zoo import artifacts, constants
models = model_zoo.list_models()
from serving_demo.recognizer import EmotionRecognizer
recognizer = EmotionRecognizer(sys.argv[1], backend="tflite-int8")
analysis = recognizer.analyze(sys.argv[2])
print(json.dumps({"faces": len(analysis.faces), "backend": analysis.backend, "models": models,
                  "modules": sorted(sys.modules)}))
"""


def test_tflite_serving_never_imports_tensorflow_or_keras(exported):
    import json

    done = _run([sys.executable, "-c", _SERVE_WITH_TFLITE, str(exported.out_dir), str(EXAMPLES_DIR / "astronaut.jpg")])
    assert done.returncode == 0, done.stderr[-3000:]
    result = json.loads(done.stdout.strip().splitlines()[-1])
    assert result["faces"] == 1 and result["backend"] == "tflite-int8"
    assert "seed_cnn" in result["models"]  # listing the models builds none
    assert "ai_edge_litert" in {m.split(".")[0] for m in result["modules"]}  # it did run TFLite
    assert _heavy_modules(result["modules"]) == []


@pytest.mark.parametrize("script", sorted(SCRIPTS))
def test_every_console_script_answers_help_without_tensorflow(script):
    module, function = SCRIPTS[script].split(":")
    assert callable(getattr(importlib.import_module(module), function)), SCRIPTS[script]
    done = _run([sys.executable, "-X", "importtime", "-m", module, "--help"])
    assert done.returncode == 0, done.stderr[-3000:]
    assert done.stdout.startswith(f"usage: {script} "), done.stdout[:200]
    # -X importtime writes one line per imported module: "import time: self | cumulative | name".
    imported = [line.rsplit("|", 1)[-1].strip() for line in done.stderr.splitlines() if line.startswith("import time:")]
    assert len(imported) > 50  # the listing is there
    assert _heavy_modules(imported) == [], script


def test_every_fer_train_option_states_its_default():
    from pipeline.cli.train import build_parser

    parser = build_parser()
    options = [a for a in parser._actions if not isinstance(a, argparse._HelpAction)]
    assert len(options) > 30  # --preset, --run-dir and one per TrainConfig field
    for action in options:
        assert action.help and "default" in action.help, action.option_strings
    help_text = parser.format_help()
    epochs = "(default: 25; preset ship: 80, ferplus: 60, smoke: 2, ferplus-distilled: 60, ship-"
    assert "--epochs N" in help_text and epochs in " ".join(help_text.split())


def test_fer_train_offers_exactly_the_registered_models(capsys):
    from pipeline.cli.train import build_parser

    parser = build_parser()
    (model,) = [a for a in parser._actions if a.dest == "model"]
    assert list(model.choices) == list_models()
    with pytest.raises(SystemExit):
        parser.parse_args(["--model", "resnet9000"])
    assert "invalid choice: 'resnet9000'" in capsys.readouterr().err


def test_packages_import_downward_only():
    """The import-linter contract of pyproject.toml ([tool.importlinter]) holds."""
    lint_imports = Path(sys.executable).parent / "lint-imports"
    assert lint_imports.is_file(), "pip install import-linter (the test extra)"
    done = _run([str(lint_imports), "--no-cache"])
    assert done.returncode == 0, done.stdout[-3000:] + done.stderr[-1000:]
    assert "Packages import downward only KEPT" in done.stdout
