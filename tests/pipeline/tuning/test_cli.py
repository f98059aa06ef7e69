"""fer-tune's command line: help without TensorFlow, bad input refused before anything is written."""

import dataclasses
import subprocess
import sys

from pipeline.cli.train import main as fer_train_main
from pipeline.tuning import (
    SearchConfig,
    tuning_role,
)
from pipeline.tuning.cli import build_parser, main
from tests.fer_fixtures import ROOT
from tests.pipeline.tuning.helpers import cli_args


def test_fer_tune_help_shows_every_default_without_loading_tensorflow():
    code = (
        "import sys; from pipeline.tuning.cli import build_parser; build_parser().format_help(); "
        "print([m for m in ('tensorflow', 'keras', 'keras_tuner') if m in sys.modules])"
    )
    out = subprocess.run([sys.executable, "-c", code], cwd=ROOT, capture_output=True, text=True, check=True)
    assert out.stdout.strip() == "[]", out.stderr
    actions = [a for a in build_parser()._actions if a.dest != "help"]
    assert {a.dest for a in actions} >= {f.name for f in dataclasses.fields(SearchConfig)}
    for action in actions:
        assert "(default:" in action.help, action.dest
    assert build_parser().parse_args([]).preset == "seed"


def test_bad_input_gives_clear_errors(tmp_path, fer_csv, data_dir, capsys, monkeypatch):
    assert main(["--project-dir", str(tmp_path / "p")]) == 2
    assert "No data given: pass --data" in capsys.readouterr().err
    assert main(cli_args(tmp_path / "p", fer_csv, data_dir, "--max-trials", "0")) == 2
    assert "max_trials must be at least 1, got 0" in capsys.readouterr().err
    assert main(cli_args(tmp_path / "p", fer_csv, data_dir, "--time-budget", "-5")) == 2
    assert "time_budget must be a positive number" in capsys.readouterr().err
    assert main(cli_args(tmp_path / "p", fer_csv, data_dir, "--fixed", "width=1")) == 2
    assert "Cannot fix width: the search space has width_multiplier" in capsys.readouterr().err
    assert main(cli_args(tmp_path / "p", fer_csv, data_dir, "--fixed", "dense_units")) == 2
    assert "--fixed takes NAME=NUMBER" in capsys.readouterr().err
    assert main(cli_args(tmp_path / "p", fer_csv, data_dir, "--fixed", "conv_dropout=5")) == 2
    assert "--fixed conv_dropout=5 is out of range: conv_dropout takes a rate in [0, 1)" in capsys.readouterr().err
    monkeypatch.setenv("KERASTUNER_ORACLE_IP", "127.0.0.1")
    assert main(cli_args(tmp_path / "p", fer_csv, data_dir)) == 2
    assert "KERASTUNER_ORACLE_PORT and KERASTUNER_TUNER_ID are not" in capsys.readouterr().err
    assert (
        tuning_role(
            {"KERASTUNER_ORACLE_IP": "127.0.0.1", "KERASTUNER_ORACLE_PORT": "8000"} | {"KERASTUNER_TUNER_ID": "chief"}
        )
        == "chief"
    )
    assert not (tmp_path / "p").exists()  # nothing written on bad input


def test_ferplus_with_fer2013_labels_is_refused_as_fer_train_refuses_it(tmp_path, fer_csv, data_dir, capsys):
    votes = str(tmp_path / "fer2013new.csv")
    assert fer_train_main(["--data", str(fer_csv), "--ferplus", votes, "--run-dir", str(tmp_path / "run")]) == 2
    fer_train = capsys.readouterr().err.strip().removeprefix("fer-train: error: ")
    assert fer_train.startswith(f"ferplus ({votes}) is the FER+ file of the FER+ label modes")
    for labels in ([], ["--labels", "fer2013"]):
        assert main(cli_args(tmp_path / "p", fer_csv, data_dir, *labels, "--ferplus", votes)) == 2
        assert capsys.readouterr().err.strip() == f"fer-tune: error: {fer_train}"
    assert not (tmp_path / "p").exists() and not (tmp_path / "run").exists()
