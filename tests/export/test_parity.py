import numpy as np
import pytest

from export.parity import ParityThresholds, format_parity_report, parity_report

LABELS = np.arange(1000) % 7
REFERENCE = np.full((1000, 7), 0.05)
REFERENCE[np.arange(1000), LABELS] = 0.7  # always right, confidently


def _moved(delta: float, flipped: int = 0) -> np.ndarray:
    probs = REFERENCE + delta * np.sign(np.sin(np.arange(7000).reshape(1000, 7)))
    probs[:flipped] = np.roll(REFERENCE[:flipped], 1, axis=1)  # these faces change class (and become wrong)
    return probs


@pytest.mark.parametrize(
    "kind,delta,flipped,passes",
    [
        ("float", 5e-4, 0, True),
        ("float", 2e-3, 0, False),  # probabilities moved too far
        ("float", 0.0, 2, False),  # 99.8 % agreement < 99.9 %
        ("float16", 5e-3, 0, True),
        ("float16", 2e-2, 0, False),
        ("int8", 0.1, 15, True),  # 98.5 % agreement, 1.5 points lost (2 allowed here)
        ("int8", 0.1, 25, False),  # 97.5 % agreement
    ],
)
def test_each_kind_has_its_thresholds(kind, delta, flipped, passes):
    thresholds = ParityThresholds(int8_max_accuracy_drop=0.02)
    report = parity_report(REFERENCE, {"artifact": _moved(delta, flipped)}, LABELS, {"artifact": kind}, thresholds)
    assert report["passed"] is passes, report["artifacts"]["artifact"]["failures"]
    assert report["artifacts"]["artifact"]["kind"] == kind


def test_int8_accuracy_drop_and_the_report_text():
    report = parity_report(REFERENCE, {"tflite-int8": _moved(0.0, 15)}, LABELS, {"tflite-int8": "int8"})
    result = report["artifacts"]["tflite-int8"]
    assert result["top1_agreement"] == pytest.approx(0.985) and result["accuracy_drop"] == pytest.approx(0.015)
    assert result["failures"] == ["accuracy drop 1.50 points up to ties > 1.00"]
    text = format_parity_report(report)
    assert "FAILED: accuracy drop 1.50 points up to ties > 1.00" in text and "PARITY GATE FAILED" in text


def test_a_face_the_reference_cannot_decide_agrees_whichever_class_the_artifact_picks():
    reference = np.full((100, 7), 0.1)
    reference[:, 0] = 0.2
    reference[:10, 1] = 0.195  # ten faces the reference barely decides: classes 0 and 1 within 0.005
    probs = reference.copy()
    probs[:10, 1] = 0.205  # the artifact picks class 1 on those ten: a tie, not a quantization error
    probs[10:12, 2] = 0.3  # and class 2 on two decided faces: disagreements
    labels = np.zeros(100, dtype=int)
    result = parity_report(reference, {"tflite-int8": probs}, labels, {"tflite-int8": "int8"})["artifacts"][
        "tflite-int8"
    ]
    assert result["top1_agreement"] == pytest.approx(0.88) and result["ties"] == 10
    assert result["top1_agreement_up_to_ties"] == pytest.approx(0.98) and result["passed"] is False  # 2 pt lost
    assert result["accuracy_drop"] == pytest.approx(0.12) and result["accuracy_drop_up_to_ties"] == pytest.approx(0.02)
    assert result["failures"] == ["accuracy drop 2.00 points up to ties > 1.00"]
    strict = parity_report(reference, {"a": probs}, labels, {"a": "int8"}, ParityThresholds(tie_margin=0.0))
    assert strict["artifacts"]["a"]["ties"] == 0 and strict["artifacts"]["a"]["top1_agreement_up_to_ties"] == 0.88


def test_unknown_kind_is_an_error():
    with pytest.raises(ValueError, match="Unknown artifact kind"):
        parity_report(REFERENCE, {"a": REFERENCE}, LABELS, {"a": "int4"})
