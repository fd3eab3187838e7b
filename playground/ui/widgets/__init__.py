"""Reusable Qt widgets every tab uses (plots, heatmaps, forms, drop targets, galleries).

Qt and pyqtgraph only: nothing here imports torch, so the window appears before torch loads.

Importing this package installs :func:`~playground.ui.widgets.qtfix.install_refcount_guard`
(a no-op unless this PySide6 drops references to None/True, see ``qtfix``): without it a
live plot aborts the interpreter within a minute on Python 3.11 with PySide6 6.12.
"""

from __future__ import annotations

from playground.ui.widgets.bars import TopKBars
from playground.ui.widgets.curves import CurvesPanel
from playground.ui.widgets.dropzone import DropZone
from playground.ui.widgets.gallery import ImageGallery
from playground.ui.widgets.heatmap import ConfusionMatrixView, HeatmapView
from playground.ui.widgets.image_view import ImageView, numpy_to_qimage
from playground.ui.widgets.logview import LogView, SampleTextView
from playground.ui.widgets.qtfix import install_refcount_guard
from playground.ui.widgets.report import ClassReportTable
from playground.ui.widgets.schema_form import LogSpinBox, SchemaForm

install_refcount_guard()

__all__ = [
    "ClassReportTable",
    "ConfusionMatrixView",
    "CurvesPanel",
    "DropZone",
    "HeatmapView",
    "ImageGallery",
    "ImageView",
    "LogSpinBox",
    "LogView",
    "SampleTextView",
    "SchemaForm",
    "TopKBars",
    "install_refcount_guard",
    "numpy_to_qimage",
]
