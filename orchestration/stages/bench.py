"""The bench stage: ``fer-bench`` on the export (latency, throughput, size, memory and accuracy of each backend)."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from orchestration.settings import PipelineSettings
from orchestration.stage_results import BenchResult, DataResult, ExportResult
from orchestration.stages.common import cached_result, write_json


def bench_stage(settings: PipelineSettings, run_id: str, data: DataResult, export: ExportResult) -> BenchResult:
    """``fer-bench`` on the export: latency, throughput, size, memory and accuracy of each backend.

    Args:
        settings: The run's settings (the backends, threads, iterations and faces of the benchmark).
        run_id: The run's id.
        data: The data stage's result (the benchmark's faces are from its evaluation split, with the training's
            labels: the accuracy is against the labels the model was trained on).
        export: The export stage's result (what is measured).

    Returns:
        One row per backend, and the paths of the rows as JSON, as a table and as a figure.
    """
    config = settings.check()

    def compute(directory: Path) -> dict[str, Any]:
        from export.benchmarks.backends import format_table, load_bench_inputs, plot_results, run_bench

        faces, labels = load_bench_inputs(
            config.data,
            data.evaluation_split(),
            settings.bench_faces,
            config.data_dir,
            skip_bad_rows=config.skip_bad_rows,
            labels=config.labels,
            ferplus=config.ferplus,
        )
        results = run_bench(
            export.export_dir,
            faces,
            labels,
            settings.backends(),
            (settings.bench_threads,),
            iterations=settings.bench_iterations,
            warmup=max(5, settings.bench_iterations // 10),
            batch_runs=10,
            e2e_iterations=0,
        )
        write_json(directory / "bench.json", {"faces": int(len(faces)), "results": results})
        (directory / "bench.txt").write_text(format_table(results) + "\n")
        plot_results(results, directory / "bench.png")
        return {
            "results": results,
            "json": str(directory / "bench.json"),
            "table": str(directory / "bench.txt"),
            "plot": str(directory / "bench.png"),
        }

    inputs = {
        "model": export.model_sha256,
        "export": export.key,
        "data": data.fingerprint,
        "backends": settings.backends(),
        "threads": settings.bench_threads,
        "iterations": settings.bench_iterations,
        "faces": settings.bench_faces,
    }

    def summary(result: BenchResult) -> str:
        return ", ".join(f"{row['backend']} {row['latency_ms_p50']:.3f} ms" for row in result.results)

    return cached_result(BenchResult, settings, run_id, "bench", inputs, compute, summary)
