"""Old import paths and ``python -m`` commands that the refactoring moved keep working."""

import pytest

OLD_COMMAND_MODULES = {
    "pipeline.train": "fer-train",
    "pipeline.evaluate": "fer-eval",
    "pipeline.tune": "fer-tune",
    "export.exporter": "fer-export",
    "export.bench": "fer-bench",
}


def test_moved_names_are_the_same_objects_at_their_old_paths():
    import export.layout
    import export.predictors
    import export.tflite_runtime
    import fer_runtime.predictors
    import fer_runtime.tflite_runtime
    from model_zoo.artifacts import FACES_SIGNATURE, TFLITE_VARIANTS

    for name in export.predictors.__all__:
        assert getattr(export.predictors, name) is getattr(fer_runtime.predictors, name), name
    assert export.tflite_runtime.load_tflite_interpreter is fer_runtime.tflite_runtime.load_tflite_interpreter
    assert export.layout.VARIANTS == TFLITE_VARIANTS and export.layout.FACES_SIGNATURE == FACES_SIGNATURE
    assert [export.layout.tflite_filename(v) for v in export.layout.VARIANTS] == [
        "model_float32.tflite",
        "model_float16.tflite",
        "model_dynamic.tflite",
        "model_int8.tflite",
    ]
    assert export.layout.QUANTIZED_VARIANTS == ("dynamic", "int8")


@pytest.mark.parametrize("module", sorted(OLD_COMMAND_MODULES))
def test_old_command_modules_still_run_the_command(module, capsys):
    import importlib

    with pytest.raises(SystemExit) as exit_info:
        importlib.import_module(module).main(["--help"])
    assert exit_info.value.code == 0
    assert capsys.readouterr().out.startswith(f"usage: {OLD_COMMAND_MODULES[module]} ")
