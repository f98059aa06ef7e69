"""The model options every recognizer command shares."""

import argparse

import pytest

from model_zoo.artifacts import BACKENDS, DEFAULT_BACKEND
from serving_demo.command_line import add_model_options
from serving_demo.detectors import DEFAULT_DETECTOR, DETECTORS


def _parser(**kwargs) -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="fer-x")
    add_model_options(parser, **kwargs)
    return parser


def test_defaults_and_choices_come_from_the_backend_and_detector_tables():
    args = _parser().parse_args([])
    assert (args.artifacts, args.backend, args.detector) == (None, DEFAULT_BACKEND, DEFAULT_DETECTOR)
    args = _parser().parse_args(["--artifacts", "a", "--backend", BACKENDS[0], "--detector", list(DETECTORS)[-1]])
    assert (args.artifacts, args.backend, args.detector) == ("a", BACKENDS[0], list(DETECTORS)[-1])
    actions = _parser(note="the page can switch it")._option_string_actions
    for flag, names in (("--backend", BACKENDS), ("--detector", DETECTORS)):
        assert all(name in actions[flag].help for name in names) and "the page can switch it" in actions[flag].help


def test_without_defaults_an_option_left_out_is_none_and_options_can_be_left_off():
    args = _parser(defaults=False).parse_args([])
    assert args.backend is None and args.detector is None
    args = _parser(backend=False).parse_args(["--detector", "haar"])
    assert not hasattr(args, "backend") and args.detector == "haar"


@pytest.mark.parametrize("argv", [["--backend", "onnx"], ["--detector", "mtcnn"]])
def test_names_off_the_lists_are_refused(capsys, argv):
    with pytest.raises(SystemExit) as exit_info:
        _parser().parse_args(argv)
    assert exit_info.value.code == 2 and "invalid choice" in capsys.readouterr().err
