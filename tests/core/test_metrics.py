"""Confusion matrix and per-class report, checked against scikit-learn; top-k ordering."""

from __future__ import annotations

import numpy as np
import pytest
from sklearn.metrics import accuracy_score, f1_score, precision_recall_fscore_support
from sklearn.metrics import confusion_matrix as sk_confusion_matrix

from playground.core.metrics import confusion_matrix, report_from_confusion, top_k

# 4 classes; class 3 is never predicted (precision 0 by convention), class 2 is perfect.
TARGETS = [0, 0, 0, 1, 1, 1, 1, 2, 2, 3, 3, 3]
PREDS = [0, 1, 0, 1, 1, 0, 1, 2, 2, 0, 1, 1]


def test_confusion_matrix_by_hand():
    cm = confusion_matrix(TARGETS, PREDS, 4)
    expected = np.array([[2, 1, 0, 0],
                         [1, 3, 0, 0],
                         [0, 0, 2, 0],
                         [1, 2, 0, 0]])
    assert cm.dtype == np.int64 and cm.shape == (4, 4)
    np.testing.assert_array_equal(cm, expected)
    np.testing.assert_array_equal(cm, sk_confusion_matrix(TARGETS, PREDS, labels=range(4)))
    assert cm.sum() == len(TARGETS)


def test_confusion_matrix_accepts_arrays_and_absent_classes():
    cm = confusion_matrix(np.array([[0], [0]]), np.array([0, 0]), 3)
    np.testing.assert_array_equal(cm, [[2, 0, 0], [0, 0, 0], [0, 0, 0]])


def test_report_matches_sklearn():
    rep = report_from_confusion(confusion_matrix(TARGETS, PREDS, 4))
    p, r, f, s = precision_recall_fscore_support(TARGETS, PREDS, labels=range(4), zero_division=0)
    np.testing.assert_allclose(rep.precision, p)
    np.testing.assert_allclose(rep.recall, r)
    np.testing.assert_allclose(rep.f1, f)
    np.testing.assert_array_equal(rep.support, s)
    assert rep.support.dtype == np.int64
    assert rep.accuracy == pytest.approx(accuracy_score(TARGETS, PREDS))
    assert rep.macro_f1 == pytest.approx(f1_score(TARGETS, PREDS, average="macro",
                                                  zero_division=0))
    # the hand-computed values, too
    assert rep.precision[1] == pytest.approx(3 / 6) and rep.recall[1] == pytest.approx(3 / 4)
    assert rep.precision[3] == 0.0 and rep.f1[3] == 0.0 and rep.f1[2] == 1.0


def test_macro_f1_ignores_classes_absent_from_targets():
    targets, preds = [0, 0, 1, 1], [0, 0, 1, 0]
    rep = report_from_confusion(confusion_matrix(targets, preds, 3))  # class 2 never occurs
    expected = f1_score(targets, preds, labels=[0, 1], average="macro")
    assert rep.macro_f1 == pytest.approx(expected)
    assert rep.support.tolist() == [2, 2, 0] and rep.recall[2] == 0.0


def test_report_of_empty_matrix():
    rep = report_from_confusion(np.zeros((3, 3), dtype=np.int64))
    assert rep.accuracy == 0.0 and rep.macro_f1 == 0.0
    assert rep.precision.tolist() == [0.0, 0.0, 0.0]


def test_top_k_ordering():
    labels = ["cat", "dog", "emu", "fox"]
    probs = np.array([0.1, 0.6, 0.05, 0.25])
    out = top_k(probs, labels, k=3)
    assert [name for name, _ in out] == ["dog", "fox", "cat"]
    assert [p for _, p in out] == pytest.approx([0.6, 0.25, 0.1])
    assert all(isinstance(name, str) and isinstance(p, float) for name, p in out)
    assert len(top_k(probs, labels, k=10)) == 4  # k larger than the classes
    assert top_k(probs, labels, k=0) == [("dog", pytest.approx(0.6))]  # at least one
    assert top_k([[0.2, 0.8]], ["a", "b"], k=2)[0][0] == "b"  # a (1, C) row is fine
