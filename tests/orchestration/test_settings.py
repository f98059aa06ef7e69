"""The pipeline's settings: the training's labels reach every stage, and their paths travel as the data's do."""

from __future__ import annotations

import shlex

from model_zoo.constants import CLASS_NAMES, FERPLUS_CLASS_NAMES
from orchestration.cli import build_parser, settings_from_args
from orchestration.settings import PipelineSettings
from tests.orchestration.pipeline_runs import invoke


def _settings(*argv: str) -> PipelineSettings:
    args = vars(build_parser().parse_args(list(argv)))
    del args["run_id"]
    return settings_from_args(args)


def test_labels_and_the_fer_plus_file_reach_the_training_and_the_data_checks(tmp_path, monkeypatch):
    settings = _settings("--preset", "smoke", "--data", "d/fer2013.csv", "--labels", "ferplus-soft",
                         "--ferplus", "votes/fer2013new.csv")  # fmt: skip
    assert settings.overrides == {"data": "d/fer2013.csv", "labels": "ferplus-soft", "ferplus": "votes/fer2013new.csv"}
    config = settings.check()
    assert config.labels == "ferplus-soft" and config.ferplus == "votes/fer2013new.csv" and config.soft_targets
    assert settings.schema().classes == FERPLUS_CLASS_NAMES  # the data checks count contempt too
    assert _settings("--data", "d/fer2013.csv").schema().classes == CLASS_NAMES
    # The FER+ file is a path like the data: made absolute for a run, and one a cluster refuses relative.
    assert settings.relative_paths() == ["root", "push_dir", "data", "ferplus"]
    monkeypatch.chdir(tmp_path)
    assert settings.with_absolute_paths().overrides["ferplus"] == str(tmp_path / "votes" / "fer2013new.csv")
    # The recorded command gives the same settings.
    assert _settings(*shlex.split(settings.command())[1:]) == settings


def test_fer_plus_settings_are_checked_before_anything_runs(tmp_path, fer_csv):
    root = tmp_path / "root"
    code, _, err = invoke("--root", str(root), "--data", str(fer_csv), "--ferplus", "votes.csv")
    assert code == 2 and "is the FER+ file of the FER+ label modes" in err
    code, _, err = invoke("--root", str(root), "--data", str(fer_csv), "--labels", "ferplus-majority")
    assert code == 2 and "there is no fer2013new.csv beside" in err  # before the data stage, not in it
    # The search takes the labels (fer-tune --labels), so with --tuner the FER+ file is checked as without.
    code, _, err = invoke("--root", str(root), "--data", str(fer_csv), "--labels", "ferplus-majority", "--tuner",
                          "random")  # fmt: skip
    assert code == 2 and "there is no fer2013new.csv beside" in err
    code, _, err = invoke("--root", str(root), "--data", str(fer_csv), "--label-smoothing", "0.1", "--tuner", "random")
    assert code == 2 and "With --tuner, the search and the preset decide label_smoothing" in err
    assert not root.exists()
