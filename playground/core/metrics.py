"""Validation metrics computed from predictions.

Precision / recall / F1 come straight from the confusion matrix (a few lines of numpy, so the
per-epoch report needs no second pass over the data and no extra dependency).
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np


def confusion_matrix(targets, predictions, num_classes: int) -> np.ndarray:
    """``cm[true, predicted]`` counts as int64."""
    t = np.asarray(targets, dtype=np.int64).ravel()
    p = np.asarray(predictions, dtype=np.int64).ravel()
    return np.bincount(t * num_classes + p, minlength=num_classes ** 2).reshape(
        num_classes, num_classes)


@dataclass(frozen=True)
class Report:
    precision: np.ndarray
    recall: np.ndarray
    f1: np.ndarray
    support: np.ndarray
    accuracy: float
    macro_f1: float


def report_from_confusion(cm: np.ndarray) -> Report:
    cm = np.asarray(cm, dtype=np.float64)
    tp = np.diag(cm)
    predicted = cm.sum(axis=0)
    actual = cm.sum(axis=1)
    with np.errstate(divide="ignore", invalid="ignore"):
        precision = np.where(predicted > 0, tp / predicted, 0.0)
        recall = np.where(actual > 0, tp / actual, 0.0)
        f1 = np.where(precision + recall > 0, 2 * precision * recall / (precision + recall), 0.0)
    total = cm.sum()
    accuracy = float(tp.sum() / total) if total else 0.0
    present = actual > 0
    macro = float(f1[present].mean()) if present.any() else 0.0
    return Report(precision, recall, f1, actual.astype(np.int64), accuracy, macro)


def top_k(probabilities, labels, k: int = 5) -> list[tuple[str, float]]:
    """The ``k`` most probable labels of one probability vector, most probable first."""
    probs = np.asarray(probabilities, dtype=np.float64).ravel()
    order = np.argsort(-probs)[: max(1, min(k, probs.size))]
    return [(str(labels[i]), float(probs[i])) for i in order]
