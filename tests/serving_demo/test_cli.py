import os

import pytest

from model_zoo import pretrained
from serving_demo import cli


def test_private_by_default():
    args = cli.build_parser().parse_args([])
    assert args.host == "127.0.0.1" and args.share is False and args.max_file_size == "20mb"
    assert os.environ["GRADIO_ANALYTICS_ENABLED"] == "False"  # set before Gradio is imported
    assert os.environ["HF_HUB_OFFLINE"] == "1"


def test_without_a_model_it_says_how_to_get_one(tmp_path, monkeypatch, capsys):
    monkeypatch.setattr(pretrained, "PRETRAINED_DIR", tmp_path / "none")
    assert cli.main([]) == 2
    err = capsys.readouterr().err
    assert "No pretrained model is installed" in err and "fer-train" in err and "fer-export" in err
    assert cli.main(["--artifacts", str(tmp_path / "missing")]) == 2
    assert "run fer-export first" in capsys.readouterr().err


def test_unknown_backend_is_refused_at_start(exported, capsys):
    with pytest.raises(SystemExit) as exit_info:
        cli.main(["--artifacts", str(exported.out_dir), "--backend", "onnx"])
    assert exit_info.value.code == 2
    assert "invalid choice: 'onnx'" in capsys.readouterr().err


def test_missing_artifacts_are_one_line_and_status_2(tmp_path, capsys):
    assert cli.main(["--artifacts", str(tmp_path / "nothing")]) == 2
    err = capsys.readouterr().err
    assert err.startswith("fer-demo: error: ") and "nothing" in err and "Traceback" not in err
