"""The parity gate: every exported artifact must give the Keras model's answers on real images."""

from __future__ import annotations

from dataclasses import asdict, dataclass

import numpy as np

# How many real faces an export uses by default (fer-export and fer-pipeline): the gate's validation faces,
# and the training faces that calibrate the int8 model.
DEFAULT_PARITY_EXAMPLES = 1000
DEFAULT_REPRESENTATIVE_EXAMPLES = 500


@dataclass(frozen=True)
class ParityThresholds:
    """What an artifact must meet against the Keras model."""

    float_min_agreement: float = 0.999  # top-1 agreement of float artifacts (float16 included)
    float_max_abs_diff: float = 1e-3  # largest |delta probability| of float32 artifacts
    # float16 rounds every weight to 11 significant bits (relative error up to 4.9e-4);
    # through seven layers that moves probabilities by a few 1e-3 on a trained model
    # (6.5e-3 measured on the test model), so 1e-3 cannot hold for it. It keeps the
    # float top-1 rule and gets its own bound on the probabilities.
    float16_max_abs_diff: float = 1e-2
    int8_min_agreement: float = 0.98  # top-1 agreement of int8 artifacts
    int8_max_accuracy_drop: float = 0.01  # accuracy lost by int8 artifacts (1 point)
    # Two classes the Keras model rates within this of each other are a tie: an artifact that picks either agrees.
    # An int8 model's output moves in steps of 1/256 (0.0039) and its probabilities differ from the float model's
    # by a few 1e-3, so on a face the float model cannot decide, which of the two int8 picks is chance, not a
    # quantization error. On a trained model such faces are rare (about 1 in 100); on a model that guesses (the
    # tests' few-step smoke runs) they are most faces, and a gate that counted them failed at random.
    tie_margin: float = 0.01


def compare_to_reference(
    reference: np.ndarray, probs: np.ndarray, labels: np.ndarray, kind: str, thresholds: ParityThresholds
) -> dict:
    """Parity of one artifact's probabilities with the reference's on the same images.

    Args:
        reference, probs: (N, K) probabilities of the Keras model and of the artifact (K classes).
        labels: (N,) true labels, indices into the model's K classes.
        kind: ``"float"``, ``"float16"`` or ``"int8"``: which thresholds apply.
        thresholds: The gate.

    Returns:
        ``kind``, ``top1_agreement``, ``max_abs_diff``, ``accuracy``, ``reference_accuracy``,
        ``accuracy_drop``, ``ties`` (faces where the artifact picked another class than the reference, one the
        reference rates within ``thresholds.tie_margin`` of its top class), ``top1_agreement_up_to_ties`` and
        ``accuracy_drop_up_to_ties`` (those faces counted as agreeing), ``passed`` and ``failures`` (one sentence
        per threshold missed, saying by how much). The gate reads the figures up to ties.
    """
    reference_top, artifact_top = reference.argmax(1), probs.argmax(1)
    rows = np.arange(len(reference))
    tied = reference[rows, reference_top] - reference[rows, artifact_top] < thresholds.tie_margin
    resolved = np.where(tied, reference_top, artifact_top)  # the artifact's answers, ties read as the reference's
    agreement = float(np.mean(reference_top == artifact_top))
    max_abs = float(np.abs(reference - probs).max())
    accuracy = float(np.mean(artifact_top == labels))
    reference_accuracy = float(np.mean(reference_top == labels))
    drop = reference_accuracy - accuracy
    gated_agreement = float(np.mean(resolved == reference_top))
    gated_drop = reference_accuracy - float(np.mean(resolved == labels))
    if kind == "int8":
        min_agreement, max_abs_allowed, max_drop = (
            thresholds.int8_min_agreement,
            None,
            thresholds.int8_max_accuracy_drop,
        )
    elif kind in ("float", "float16"):
        min_agreement, max_drop = thresholds.float_min_agreement, None
        max_abs_allowed = thresholds.float16_max_abs_diff if kind == "float16" else thresholds.float_max_abs_diff
    else:
        raise ValueError(f"Unknown artifact kind {kind!r}; use float, float16 or int8")
    failures = []
    if gated_agreement < min_agreement:
        failures.append(f"top-1 agreement {gated_agreement:.2%} up to ties < {min_agreement:.2%}")
    if max_abs_allowed is not None and max_abs > max_abs_allowed:
        failures.append(f"max |delta prob| {max_abs:.2e} > {max_abs_allowed:.0e}")
    if max_drop is not None and gated_drop > max_drop:
        failures.append(f"accuracy drop {gated_drop * 100:.2f} points up to ties > {max_drop * 100:.2f}")
    return {
        "kind": kind,
        "top1_agreement": agreement,
        "max_abs_diff": max_abs,
        "accuracy": accuracy,
        "reference_accuracy": reference_accuracy,
        "accuracy_drop": drop,
        "ties": int(np.sum(tied & (reference_top != artifact_top))),
        "top1_agreement_up_to_ties": gated_agreement,
        "accuracy_drop_up_to_ties": gated_drop,
        "passed": not failures,
        "failures": failures,
    }


def parity_report(
    reference: np.ndarray,
    artifact_probs: dict[str, np.ndarray],
    labels: np.ndarray,
    kinds: dict[str, str] | None = None,
    thresholds: ParityThresholds | None = None,
    errors: dict[str, str] | None = None,
) -> dict:
    """The parity report over several artifacts.

    Args:
        reference: (N, K) probabilities of the Keras model (K classes).
        artifact_probs: ``{artifact name: (N, K) probabilities}`` on the same images.
        labels: (N,) true labels, indices into the model's K classes.
        kinds: ``{artifact name: "float" | "float16" | "int8"}``; unnamed artifacts are ``"float"``.
        thresholds: The gate; defaults to ``ParityThresholds()``.
        errors: ``{artifact name: why}`` for artifacts whose runtime refused to run them: each fails the gate,
            with that reason and no figures.

    Returns:
        ``{"passed", "n", "thresholds", "artifacts": {name: compare_to_reference(...)}}``.
    """
    thresholds = thresholds or ParityThresholds()
    results = {
        name: compare_to_reference(reference, probs, labels, (kinds or {}).get(name, "float"), thresholds)
        for name, probs in artifact_probs.items()
    }
    for name, why in (errors or {}).items():
        results[name] = {"kind": (kinds or {}).get(name, "float"), "passed": False,
                         "failures": [f"its runtime could not run it: {why}"]}  # fmt: skip
    return {
        "passed": all(r["passed"] for r in results.values()),
        "n": int(len(labels)),
        "reference_accuracy": float(np.mean(reference.argmax(1) == labels)),
        "thresholds": asdict(thresholds),
        "artifacts": results,
    }


def format_parity_report(report: dict) -> str:
    """A table of the parity report, one line per artifact, failures spelled out."""
    lines = [
        f"Parity against the Keras model on {report['n']} images (Keras accuracy {report['reference_accuracy']:.4f}):",
        f"{'artifact':<22} {'top-1 agree':>11} {'ties':>5} {'max |dp|':>10} {'accuracy':>9} {'drop (pt)':>9}  result",
    ]
    for name, r in report["artifacts"].items():
        verdict = "ok" if r["passed"] else "FAILED: " + "; ".join(r["failures"])
        if "top1_agreement" not in r:  # never ran
            lines.append(f"{name:<22} {'-':>11} {'-':>5} {'-':>10} {'-':>9} {'-':>9}  {verdict}")
            continue
        lines.append(
            f"{name:<22} {r['top1_agreement']:>11.2%} {r['ties']:>5} {r['max_abs_diff']:>10.2e} "
            f"{r['accuracy']:>9.4f} {r['accuracy_drop'] * 100:>9.2f}  {verdict}"
        )
    lines.append("PARITY GATE PASSED" if report["passed"] else "PARITY GATE FAILED")
    return "\n".join(lines)
