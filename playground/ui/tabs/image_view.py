"""Layout of the Image recognition tab (widgets only; behaviour is in ``image_tab.py``)."""

from __future__ import annotations

from PySide6.QtWidgets import (
    QCheckBox,
    QComboBox,
    QFormLayout,
    QGroupBox,
    QHBoxLayout,
    QLabel,
    QListWidget,
    QPushButton,
    QTableWidget,
    QTabWidget,
    QVBoxLayout,
    QWidget,
)

from playground.ui.tabs.settings_column import data_box, settings_column, two_columns
from playground.ui.tabs.run_actions import RunActionsBox
from playground.ui.widgets.bars import TopKBars
from playground.ui.widgets.curves import CurvesPanel
from playground.ui.widgets.dropzone import DropZone
from playground.ui.widgets.gallery import ImageGallery
from playground.ui.widgets.heatmap import ConfusionMatrixView
from playground.ui.widgets.image_view import ImageView
from playground.ui.widgets.logview import LogView
from playground.ui.widgets.report import ClassReportTable
from playground.ui.widgets.schema_form import SchemaForm

IMAGE_SUFFIXES = {".jpg", ".jpeg", ".png", ".bmp", ".gif", ".webp", ".tif", ".tiff"}


class ImageTabView(QWidget):
    """Left: data, model and training options. Right: Training / Evaluation / Predict pages."""

    def __init__(self, config_cls: type, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        # left column ----------------------------------------------------------------------
        self.data_drop = DropZone(accept_files=set(), accept_folders=True, multiple=False,
                                  hint="Drop a folder with one sub-folder per class "
                                       "(or train/ and val/), or click to choose…")
        source_box, data_layout, self.source_combo = data_box("Data", self.data_drop, 60)
        self.data_summary = QLabel("Pick a data source.")
        self.data_summary.setWordWrap(True)
        data_layout.addWidget(self.data_summary)
        self.class_table = QTableWidget(0, 2)
        self.class_table.setHorizontalHeaderLabels(["Class", "Images"])
        self.class_table.horizontalHeader().setStretchLastSection(True)
        self.class_table.verticalHeader().hide()
        self.class_table.setMaximumHeight(140)
        data_layout.addWidget(self.class_table)
        self.thumbnails = ImageGallery(thumb_size=48)
        self.thumbnails.setMinimumHeight(120)
        data_layout.addWidget(self.thumbnails)
        self.skipped_list = QListWidget()
        self.skipped_list.setMaximumHeight(70)
        self.skipped_list.hide()
        data_layout.addWidget(self.skipped_list)

        model_box = QGroupBox("Model and training")
        model_layout = QVBoxLayout(model_box)
        self.model_info = QLabel("")
        self.model_info.setWordWrap(True)
        self.form = SchemaForm(config_cls)
        model_layout.addWidget(self.model_info)
        model_layout.addWidget(self.form)

        self.runs_box = RunActionsBox("epochs")
        left, self.train_button, self.stop_button = settings_column(
            (source_box, model_box, self.runs_box), 340)

        # right pages ----------------------------------------------------------------------
        self.pages = QTabWidget()
        outer = QHBoxLayout(self)
        outer.setContentsMargins(4, 4, 4, 4)
        outer.addWidget(two_columns(left, self.pages, (400, 1000)))

        training = QWidget()
        t_layout = QVBoxLayout(training)
        self.curves = CurvesPanel()
        t_layout.addWidget(self.curves, 4)
        self.log = LogView()
        self.log.setMaximumHeight(140)
        t_layout.addWidget(self.log, 1)
        self.pages.addTab(training, "Training")

        evaluation = QWidget()
        e_layout = QHBoxLayout(evaluation)
        e_left = QVBoxLayout()
        self.eval_title = QLabel("Validation results appear here after each epoch.")
        e_left.addWidget(self.eval_title)
        self.confusion = ConfusionMatrixView()
        e_left.addWidget(self.confusion, 3)
        e_layout.addLayout(e_left, 3)
        e_right = QVBoxLayout()
        e_right.addWidget(QLabel("Per-class precision / recall / F1"))
        self.report = ClassReportTable()
        e_right.addWidget(self.report, 2)
        e_right.addWidget(QLabel("Misclassified validation images"))
        self.misclassified = ImageGallery(thumb_size=72)
        e_right.addWidget(self.misclassified, 2)
        e_layout.addLayout(e_right, 2)
        self.pages.addTab(evaluation, "Evaluation")

        predict = QWidget()
        p_layout = QVBoxLayout(predict)
        p_top = QFormLayout()
        run_row = QHBoxLayout()
        self.run_combo = QComboBox()
        self.run_combo.setMinimumWidth(360)
        self.refresh_runs_button = QPushButton("Refresh")
        run_row.addWidget(self.run_combo, 1)
        run_row.addWidget(self.refresh_runs_button)
        p_top.addRow("Model (run):", run_row)
        p_layout.addLayout(p_top)
        p_row = QHBoxLayout()
        self.predict_drop = DropZone(accept_files=IMAGE_SUFFIXES, accept_folders=False,
                                     multiple=True,
                                     hint="Drop images here to classify them, or click to "
                                          "choose… (Ctrl+V pastes an image)")
        self.predict_drop.setMinimumHeight(60)
        p_row.addWidget(self.predict_drop, 1)
        self.paste_button = QPushButton("Paste image")
        p_row.addWidget(self.paste_button)
        p_layout.addLayout(p_row)
        p_main = QHBoxLayout()
        img_col = QVBoxLayout()
        self.image_view = ImageView()
        self.image_view.setMinimumSize(320, 320)
        img_col.addWidget(self.image_view, 1)
        self.gradcam_check = QCheckBox("Grad-CAM overlay (which regions drove the top class)")
        img_col.addWidget(self.gradcam_check)
        p_main.addLayout(img_col, 3)
        res_col = QVBoxLayout()
        self.predict_title = QLabel("Top-5 classes")
        res_col.addWidget(self.predict_title)
        self.bars = TopKBars()
        res_col.addWidget(self.bars, 2)
        res_col.addWidget(QLabel("Files"))
        self.files_list = QListWidget()
        res_col.addWidget(self.files_list, 1)
        p_main.addLayout(res_col, 2)
        p_layout.addLayout(p_main, 1)
        self.pages.addTab(predict, "Predict")
