"""``fer-pipeline``: the training pipeline as Kubeflow Pipelines components, run locally by default.

Layers inside (each imports only those below it):
  cli            ``fer-pipeline`` (run, compile, status): parses arguments before any heavy import
  kfp_pipeline   the KFP components and pipeline; local runs through ``kfp.local``; compiling to YAML
  stages         one function per stage, calling the project's library (what each component runs)
  model_card     the model card of a run, in markdown with figures
  stage_cache    stage directories keyed by their inputs' fingerprints, done markers, per-stage progress
  settings       the pipeline's settings: one dataclass, written into every run
"""
