"""``fer-pipeline``: the training pipeline as Kubeflow Pipelines components, run locally by default.

Layers inside (each imports only those below it):
  cli            ``fer-pipeline`` (run, compile, status): argument parsing and exit statuses only
  kfp_pipeline   the KFP components and pipeline; local runs through ``kfp.local``; compiling to YAML
  runs           the runs under a root as the command reports them: checks before a run, progress, status
  stages         one module per stage, calling the project's library (what each component runs)
  model_card     the model card of a run, in markdown with figures, section by section
  stage_results  what each stage returns: frozen dataclasses, JSON only between KFP components
  stage_cache    stage directories keyed by their inputs' fingerprints, done markers, per-stage progress
  settings       the pipeline's settings: one dataclass, written into every run
"""
