"""The pipeline as Kubeflow Pipelines components: run locally through ``kfp.local``, or compiled to YAML.

Each component is two lines that call ``orchestration.stages.run_stage``: the logic lives in the library, and the
same definition runs in local subprocesses (``run_local``) and compiles to the YAML that Kubeflow Pipelines and
Vertex AI Pipelines run (``compile_pipeline``), where the container image and the resources are parameters.

Stages pass the settings and their results to each other as JSON text (see ``stages.run_stage``); files live
under the settings' ``root``, which on a cluster must be storage every step sees (a mounted volume, or
``/gcs/<bucket>/...`` on Vertex AI). KFP's own caching is off: stages are reused by the fingerprints of their inputs
(``orchestration.stage_cache``), which see a changed file under an unchanged path.
"""

# No `from __future__ import annotations`: KFP reads the components' annotations as types.

import json
from collections.abc import Callable
from pathlib import Path
from typing import NamedTuple

from kfp import compiler, dsl
from kfp.dsl import Markdown, Metrics, Output
from kfp.dsl.python_component import PythonComponent

from orchestration.settings import DEFAULT_IMAGE, PipelineSettings
from orchestration.stage_results import LineageResult

PIPELINE_NAME = "fer-pipeline"


def data_component(settings: str, run_id: str, job_name: str) -> NamedTuple(
    "DataOutputs", [("run_id", str), ("result", str)]
):  # noqa: UP006
    """Prepare and validate the data (statistics, schema, drift); name the run."""
    from collections import namedtuple

    from orchestration.stages import run_stage

    run_id = run_id or job_name  # a run submitted to a cluster without an id is named after its KFP job
    return namedtuple("DataOutputs", ["run_id", "result"])(run_id, run_stage("data", settings, run_id))


def train_component(settings: str, run_id: str, data: str) -> str:
    """Train the preset with its overrides (after a Keras Tuner search if asked)."""
    from orchestration.stages import run_stage

    return run_stage("train", settings, run_id, data=data)


def export_component(settings: str, run_id: str, data: str, train: str) -> str:
    """Export SavedModel, .keras and four TFLite files behind the parity gate."""
    from orchestration.stages import run_stage

    return run_stage("export", settings, run_id, data=data, train=train)


def evaluate_component(settings: str, run_id: str, data: str, export: str, metrics: Output[Metrics]) -> str:
    """Evaluate the export and the baseline on the same faces; bless or not."""
    import json

    from orchestration.stage_results import EvaluationResult
    from orchestration.stages import run_stage

    output = run_stage("evaluate", settings, run_id, data=data, export=export)
    result = EvaluationResult.from_dict(json.loads(output))
    for name, evaluation in (
        ("candidate", result.candidate),
        ("candidate_int8", result.candidate_int8),
        ("baseline", result.baseline),
    ):
        metrics.log_metric(f"{name}_accuracy", evaluation.metrics["accuracy"])
        metrics.log_metric(f"{name}_macro_f1", evaluation.metrics["macro_f1"])
    metrics.log_metric("blessed", float(result.blessing.blessed))
    return output


def bench_component(settings: str, run_id: str, data: str, export: str) -> str:
    """Benchmark every backend of the export."""
    from orchestration.stages import run_stage

    return run_stage("bench", settings, run_id, data=data, export=export)


def card_component(
    settings: str, run_id: str, data: str, train: str, export: str, evaluation: str, bench: str,
    card: Output[Markdown],
) -> str:  # fmt: skip
    """Write the run's model card (markdown and figures)."""
    import json
    from pathlib import Path

    from orchestration.stage_results import CardResult
    from orchestration.stages import run_stage

    output = run_stage(
        "card", settings, run_id, data=data, train=train, export=export, evaluation=evaluation, bench=bench
    )
    # The KFP UI shows this copy; the figures stay beside the file under the pipeline root.
    Path(card.path).write_text(Path(CardResult.from_dict(json.loads(output)).card).read_text())
    return output


def push_component(
    settings: str, run_id: str, data: str, train: str, export: str, evaluation: str, bench: str, card: str
) -> str:  # fmt: skip
    """Push a blessed model as the next version, in TensorFlow Serving's layout."""
    from orchestration.stages import run_stage

    return run_stage(
        "push", settings, run_id, data=data, train=train, export=export, evaluation=evaluation, bench=bench, card=card
    )


def lineage_component(
    settings: str, run_id: str, data: str, train: str, export: str, evaluation: str, bench: str, push: str
) -> str:  # fmt: skip
    """Record the run's lineage."""
    from orchestration.stages import run_stage

    return run_stage(
        "lineage",
        settings,
        run_id,
        data=data,
        train=train,
        export=export,
        evaluation=evaluation,
        bench=bench,
        push=push,
    )


#: The components' functions, in the pipeline's order.
COMPONENT_FUNCTIONS = (
    data_component, train_component, export_component, evaluate_component,
    bench_component, card_component, push_component, lineage_component,
)  # fmt: skip


def build_components(image: str = DEFAULT_IMAGE) -> dict[str, PythonComponent]:
    """The pipeline's components, built on ``image``.

    Args:
        image: The container image every step runs in (ignored by local runs).

    Returns:
        Component name (KFP's: the function's, with dashes) -> component, in the pipeline's order; each
        component's description is its function's docstring.
    """
    built = (dsl.component(f, base_image=image, install_kfp_package=False) for f in COMPONENT_FUNCTIONS)
    return {component.name: component for component in built}


def build_pipeline(
    image: str = DEFAULT_IMAGE,
    cpu: str | None = None,
    memory: str | None = None,
    accelerator: str = "nvidia.com/gpu",
    gpus: int = 0,
) -> Callable:
    """The pipeline function, its components built on ``image``.

    Args:
        image: The container image every step runs in (ignored by local runs).
        cpu, memory: Limits of every step, in Kubernetes' units ("8", "32G"); None: the cluster's default.
        accelerator: The accelerator type of the training step with ``gpus``: Kubeflow's "nvidia.com/gpu", or a type
            of Vertex AI's ("NVIDIA_TESLA_T4").
        gpus: Accelerators of the training step (0: none).

    Returns:
        A KFP pipeline taking ``settings`` (``PipelineSettings.to_dict()`` as JSON) and ``run_id``, returning the
        lineage stage's result.
    """

    data_op, train_op, export_op, evaluate_op, bench_op, card_op, push_op, lineage_op = build_components(image).values()

    def configure(task, name: str, accelerated: bool = False):
        task.set_display_name(name).set_caching_options(False)
        if cpu:
            task.set_cpu_limit(cpu)
        if memory:
            task.set_memory_limit(memory)
        if accelerated and gpus:
            task.set_accelerator_type(accelerator).set_accelerator_limit(gpus)
        return task

    @dsl.pipeline(name=PIPELINE_NAME, description="FER2013: validate, train, export, evaluate and bless, push")
    def fer_pipeline(settings: str, run_id: str) -> str:
        data = configure(data_op(settings=settings, run_id=run_id, job_name=dsl.PIPELINE_JOB_NAME_PLACEHOLDER), "data")
        rid, data_result = data.outputs["run_id"], data.outputs["result"]
        # Steps with an artifact besides their result (evaluate: metrics, card: markdown) name it: outputs["Output"].
        train = configure(train_op(settings=settings, run_id=rid, data=data_result), "train", accelerated=True)
        export = configure(export_op(settings=settings, run_id=rid, data=data_result, train=train.output), "export")
        evaluation = configure(
            evaluate_op(settings=settings, run_id=rid, data=data_result, export=export.outputs["Output"]),
            "evaluate and bless",
        )
        bench = configure(bench_op(settings=settings, run_id=rid, data=data_result, export=export.output), "bench")
        upstream = dict(
            data=data_result, train=train.output, export=export.output,
            evaluation=evaluation.outputs["Output"], bench=bench.output,
        )  # fmt: skip
        card = configure(card_op(settings=settings, run_id=rid, **upstream), "model card")
        push = configure(push_op(settings=settings, run_id=rid, card=card.outputs["Output"], **upstream), "push")
        lineage = configure(lineage_op(settings=settings, run_id=rid, push=push.output, **upstream), "lineage")
        return lineage.output

    return fer_pipeline


def run_local(settings: PipelineSettings, run_id: str) -> LineageResult:
    """Run the pipeline in local subprocesses of this Python environment (``kfp.local.SubprocessRunner``).

    Args:
        settings: The run's settings; KFP's own outputs go to ``<root>/kfp``.
        run_id: The run's id (its directory is ``<root>/runs/<run_id>``).

    Returns:
        The lineage stage's result: the lineage's path, whether the candidate was blessed, and what the push did.

    Raises:
        RuntimeError: if a stage failed (KFP's message; the run's progress log says which and why).
    """
    import warnings

    from kfp import local

    # Display names are for a cluster's UI, and the image for its steps: the local runner warns that it ignores them.
    warnings.filterwarnings("ignore", message=".*have no effect in the current local runner")
    warnings.filterwarnings("ignore", message=".*non-Python base image")
    local.init(
        runner=local.SubprocessRunner(use_venv=False),
        pipeline_root=str(Path(settings.root).resolve() / "kfp"),
        raise_on_error=True,
    )
    task = build_pipeline()(settings=json.dumps(settings.to_dict()), run_id=run_id)
    return LineageResult.from_dict(json.loads(task.output))


def compile_pipeline(output: str | Path, settings: PipelineSettings, **resources: str | int | None) -> Path:
    """Write the pipeline as KFP YAML, ``settings`` as the default of its ``settings`` parameter.

    Args:
        output: The YAML file to write.
        settings: The settings a run gets unless it passes others (``PipelineSettings.for_cluster``).
        resources: ``image``, ``cpu``, ``memory``, ``accelerator``, ``gpus`` (see ``build_pipeline``).

    Returns:
        ``output``, as a path.
    """
    parameters = {"settings": json.dumps(settings.to_dict()), "run_id": ""}
    compiler.Compiler().compile(build_pipeline(**resources), str(output), pipeline_parameters=parameters)
    return Path(output)
