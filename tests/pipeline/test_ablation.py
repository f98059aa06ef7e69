"""Ablation tables (``fer-ablation``): runs scored alike, their settings against the first, their CPU hours."""

from __future__ import annotations

import csv
import json
import subprocess
import sys

import pytest

from pipeline.ablation import ablation_table, format_ablation_table, run_cpu_hours
from pipeline.cli.ablation import main
from tests.fer_fixtures import ROOT


def test_a_table_scores_every_run_on_the_same_faces_and_names_what_changed(soft_run, smoke_run, ferplus_csv, data_dir):
    table = ablation_table([soft_run, smoke_run], ferplus_csv, "validation", data_dir)
    soft, seven = table["rows"]
    assert soft["settings"] == [] and soft["run"] == str(soft_run)
    # The 7-class FER2013 run against the 8-class FER+ baseline: the label mode and the class weights differ.
    assert "labels: 'ferplus-soft' -> 'fer2013'" in seven["settings"]
    assert any(s.startswith("class_weight:") for s in seven["settings"])
    assert not any(s.startswith(("data:", "data_dir:", "verbose:")) for s in seven["settings"])
    for row in table["rows"]:
        for figure in ("ferplus_majority", "ferplus_7_emotions", "fer2013"):
            assert 0.0 <= row[figure] <= 1.0
        assert row["epochs"] == 2 and 1 <= row["best_epoch"] <= 2 and row["cpu_hours"] > 0
    assert soft["soft_label_cross_entropy"] > 0 and seven["soft_label_cross_entropy"] is None  # it has no Contempt
    with open(soft_run / "history.csv", newline="") as f:
        seconds = sorted(float(r["epoch_seconds"]) for r in csv.DictReader(f))
    host = json.loads((soft_run / "run_info.json").read_text())["host"]
    cores = host["intra_op_threads"] or host["cpu_count"]  # 0 threads: TensorFlow's default, every core
    assert run_cpu_hours(soft_run) == pytest.approx(sum(seconds) / 2 * 2 * cores / 3600)  # the median of 2, twice
    text = format_ablation_table(table)
    assert "| soft | baseline |" in text and "| smoke | " in text and "of 2 |" in text


def test_the_command_writes_the_table_and_refuses_what_is_not_a_run(soft_run, ferplus_csv, data_dir, tmp_path, capsys):
    out = tmp_path / "ablation.json"
    args = ["--data", str(ferplus_csv), "--data-dir", str(data_dir)]
    assert main([str(soft_run), *args, "--json", str(out), "--markdown", str(tmp_path / "a.md")]) == 0
    assert json.loads(out.read_text())["rows"][0]["run"] == str(soft_run)
    assert "| soft | baseline |" in (tmp_path / "a.md").read_text()
    assert main([str(tmp_path), *args]) == 2
    assert "is not a fer-train run directory (no config.json)" in capsys.readouterr().err


def test_help_answers_without_loading_tensorflow():
    code = (
        "import sys; from pipeline.cli.ablation import build_parser; print(build_parser().format_help()); "
        "print([m for m in ('tensorflow', 'keras') if m in sys.modules])"
    )
    out = subprocess.run([sys.executable, "-c", code], cwd=ROOT, capture_output=True, text=True, check=True)
    assert out.stdout.strip().endswith("[]") and "--markdown" in out.stdout, out.stderr
