"""The pipeline as KFP components: compiled to YAML for a cluster, every component described."""

from __future__ import annotations

import ast
import inspect
import json

import pytest

from tests.orchestration.pipeline_runs import invoke

IMAGE = "registry.example/fer:1"
OPTIONS = ["--data", "/data/fer2013.csv.gz", "--root", "/gcs/bucket/fer", "--epochs", "5"]


@pytest.fixture(scope="module")
def compiled(tmp_path_factory):
    """``fer-pipeline compile`` with resources: (exit status, stderr, the YAML's path)."""
    output = tmp_path_factory.mktemp("compiled") / "pipeline.yaml"
    code, _, err = invoke("compile", "--output", str(output), "--image", IMAGE, "--cpu", "4", "--memory", "16G",
                          "--gpus", "1", "--accelerator", "NVIDIA_TESLA_T4",
                          *OPTIONS, "--push-dir", "/gcs/bucket/pushed")  # fmt: skip
    return code, err, output


def test_the_compiled_pipeline_loads_with_kfp(compiled, tmp_path):
    import yaml
    from kfp import components

    code, _, err = invoke("compile", "--output", str(tmp_path / "pipeline.yaml"), *OPTIONS)
    assert code == 2 and "--push-dir must be absolute paths on storage every step mounts" in err
    code, err, output = compiled
    assert code == 0, err
    pipeline = components.load_component_from_file(str(output))
    assert pipeline.name == "fer-pipeline"
    assert set(pipeline.component_spec.inputs) == {"settings", "run_id"}
    settings = json.loads(pipeline.component_spec.inputs["settings"].default)
    assert settings["root"] == "/gcs/bucket/fer" and settings["overrides"]["epochs"] == 5
    assert settings["overrides"]["data_dir"] == "/gcs/bucket/fer/tfds"  # prepared once for every step
    spec = yaml.safe_load(output.read_text())
    executors = spec["deploymentSpec"]["executors"]
    assert len(executors) == 8
    assert {e["container"]["image"] for e in executors.values()} == {IMAGE}
    train = executors["exec-train-component"]["container"]["resources"]
    assert (train["accelerator"]["resourceCount"], train["accelerator"]["resourceType"]) == ("1", "NVIDIA_TESLA_T4")
    assert train["resourceCpuLimit"] == "4" and "accelerator" not in executors["exec-export-component"]["container"]


def test_every_compiled_component_has_its_description(compiled, tmp_path):
    """A pipeline's YAML holds each component's function, docstring included, in its executor's command (the IR has
    no description field for a pipeline's components); compiled on its own, a component's YAML holds the docstring as
    its description, which KFP reads back."""
    import yaml
    from kfp import compiler, components

    from orchestration.kfp_pipeline import build_components

    code, err, output = compiled
    assert code == 0, err
    spec = yaml.safe_load(output.read_text())
    built = build_components(IMAGE)
    assert set(spec["components"]) == {f"comp-{name}" for name in built}
    for name, component in built.items():
        description = inspect.getdoc(component.python_func)
        assert description and component.description == description, name
        container = spec["deploymentSpec"]["executors"][spec["components"][f"comp-{name}"]["executorLabel"]]
        function = container["container"]["args"][container["container"]["args"].index("--function_to_execute") + 1]
        source = ast.parse(container["container"]["command"][-1])
        (definition,) = [node for node in source.body if isinstance(node, ast.FunctionDef) and node.name == function]
        assert ast.get_docstring(definition) == description, name
        alone = tmp_path / f"{name}.yaml"
        compiler.Compiler().compile(component, str(alone))
        assert f"# Description: {description}\n" in alone.read_text()
        assert components.load_component_from_file(str(alone)).description == description, name
