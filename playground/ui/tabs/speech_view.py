"""Layout of the Speech tab (widgets only; behaviour is in ``speech_tab.py``).

Top: the task switch (Keywords / Speech-to-text). Left: data (source, folder drop, label
pattern, class counts and clip lengths, unreadable files), the model and training options of
the chosen task, Train / Stop. Right, three pages:

- **Audio**: drop or record a clip (device picker, maximum length, level meter, a live
  scrolling spectrogram while recording), its waveform and log-mel spectrogram (time-linked,
  zoomable), the posteriorgram under them for speech-to-text, Play / Save as WAV / Add to a
  label; beside them the result panel of the task: keyword probabilities with the saliency
  overlay, or the transcript with timestamps.
- **Training**: live curves (loss, accuracy or WER/CER), sample transcripts, the log.
- **Evaluation**: confusion matrix and per-class report (keywords), or the alignment of a
  validation clip after each epoch (speech-to-text).
"""

from __future__ import annotations

from PySide6.QtCore import Qt
from PySide6.QtWidgets import (
    QButtonGroup,
    QCheckBox,
    QComboBox,
    QFormLayout,
    QGroupBox,
    QHBoxLayout,
    QLabel,
    QLineEdit,
    QListWidget,
    QPlainTextEdit,
    QProgressBar,
    QPushButton,
    QSpinBox,
    QSplitter,
    QStackedWidget,
    QTableWidget,
    QTabWidget,
    QVBoxLayout,
    QWidget,
)

from playground.ui.tabs.settings_column import (
    MUTED_STYLE,
    WARNING_STYLE,
    data_box,
    label,
    settings_column,
    two_columns,
)
from playground.ui.tabs.run_actions import RunActionsBox
from playground.ui.widgets.audio_views import (
    LevelMeter,
    PosteriorgramView,
    ScrollingSpectrogram,
    SpectrogramView,
    WaveformView,
)
from playground.ui.widgets.bars import TopKBars
from playground.ui.widgets.curves import CurvesPanel
from playground.ui.widgets.dropzone import DropZone
from playground.ui.widgets.heatmap import ConfusionMatrixView
from playground.ui.widgets.logview import LogView, SampleTextView
from playground.ui.widgets.report import ClassReportTable
from playground.ui.widgets.schema_form import SchemaForm

TASKS = ("keywords", "ctc")
PAGE_AUDIO, PAGE_TRAINING, PAGE_EVALUATION = range(3)


class SpeechTabView(QWidget):
    """The Speech tab's widgets; the schema classes give the two training forms."""

    def __init__(self, keyword_cls: type, ctc_cls: type, audio_suffixes: set[str],
                 parent: QWidget | None = None) -> None:
        super().__init__(parent)
        outer = QVBoxLayout(self)
        outer.setContentsMargins(4, 4, 4, 4)
        outer.addLayout(self._task_bar())
        left = self._left_column(keyword_cls, ctc_cls)
        self.pages = QTabWidget()
        self.pages.addTab(self._audio_page(audio_suffixes), "Audio")
        self.pages.addTab(self._training_page(), "Training")
        self.pages.addTab(self._evaluation_page(), "Evaluation")
        outer.addWidget(two_columns(left, self.pages, (390, 1100)), 1)

    # top ------------------------------------------------------------------------------------
    def _task_bar(self) -> QHBoxLayout:
        bar = QHBoxLayout()
        bar.addWidget(QLabel("<b>Task:</b>"))
        self.keywords_button = QPushButton("Keywords")
        self.keywords_button.setToolTip("Recognise short spoken commands (one label per clip).")
        self.ctc_button = QPushButton("Speech-to-text")
        self.ctc_button.setToolTip("Transcribe speech to characters with a CTC model or "
                                   "pretrained wav2vec 2.0.")
        self.task_group = QButtonGroup(self)
        for k, button in enumerate((self.keywords_button, self.ctc_button)):
            button.setCheckable(True)
            button.setMinimumWidth(140)
            self.task_group.addButton(button, k)
            bar.addWidget(button)
        self.keywords_button.setChecked(True)
        self.task_hint = label("", MUTED_STYLE)
        bar.addWidget(self.task_hint, 1)
        return bar

    # left column ----------------------------------------------------------------------------
    def _left_column(self, keyword_cls: type, ctc_cls: type) -> QWidget:
        self.data_drop = DropZone(accept_files=set(), accept_folders=True, multiple=False,
                                  hint="Drop a dataset folder here, or click to choose…")
        source_box, data, self.source_combo = data_box("Data", self.data_drop)
        self.pattern_row = QWidget()
        pattern = QHBoxLayout(self.pattern_row)
        pattern.setContentsMargins(0, 0, 0, 0)
        pattern.addWidget(QLabel("Label from file name:"))
        self.pattern_edit = QLineEdit()
        self.pattern_edit.setToolTip("For a flat folder of clips: a regular expression whose "
                                     "group named 'label' is the label, matched against each "
                                     "file name. yes_012.wav → yes with ^(?P<label>[^_]+)_")
        pattern.addWidget(self.pattern_edit, 1)
        data.addWidget(self.pattern_row)
        self.data_summary = label("Pick a data source.")
        data.addWidget(self.data_summary)
        self.class_table = QTableWidget(0, 3)
        self.class_table.setHorizontalHeaderLabels(["Label", "Clips", "Length (s)"])
        self.class_table.horizontalHeader().setStretchLastSection(True)
        self.class_table.verticalHeader().hide()
        self.class_table.setMaximumHeight(170)
        data.addWidget(self.class_table)
        self.unreadable_list = QListWidget()
        self.unreadable_list.setMaximumHeight(80)
        self.unreadable_list.hide()
        data.addWidget(self.unreadable_list)

        model_box = QGroupBox("Model and training")
        model = QVBoxLayout(model_box)
        self.model_info = label("")
        model.addWidget(self.model_info)
        self.forms = QStackedWidget()
        self.keyword_form = SchemaForm(keyword_cls)
        self.ctc_form = SchemaForm(ctc_cls)
        self.forms.addWidget(self.keyword_form)
        self.forms.addWidget(self.ctc_form)
        model.addWidget(self.forms)

        self.runs_box = RunActionsBox("epochs")
        left, self.train_button, self.stop_button = settings_column(
            (source_box, model_box, self.runs_box), 360)
        return left

    # audio page -----------------------------------------------------------------------------
    def _audio_page(self, audio_suffixes: set[str]) -> QWidget:
        page = QWidget()
        layout = QHBoxLayout(page)
        clip = QVBoxLayout()
        layout.addLayout(clip, 3)

        self.clip_drop = DropZone(accept_files=set(audio_suffixes), accept_folders=False,
                                  multiple=False,
                                  hint="Drop an audio file here, or click to open one…")
        self.clip_drop.setMinimumHeight(48)
        clip.addWidget(self.clip_drop)

        mic = QGroupBox("Microphone")
        mic_layout = QVBoxLayout(mic)
        row = QHBoxLayout()
        self.device_combo = QComboBox()
        self.device_combo.setMinimumWidth(200)
        self.device_combo.setToolTip("The input device to record from.")
        row.addWidget(self.device_combo, 2)
        self.refresh_devices_button = QPushButton("Refresh")
        self.refresh_devices_button.setToolTip("List the microphones again.")
        row.addWidget(self.refresh_devices_button)
        row.addWidget(QLabel("Max:"))
        self.max_seconds_spin = QSpinBox()
        self.max_seconds_spin.setRange(1, 600)
        self.max_seconds_spin.setValue(10)
        self.max_seconds_spin.setSuffix(" s")
        self.max_seconds_spin.setToolTip("Recording stops by itself after this long.")
        row.addWidget(self.max_seconds_spin)
        self.record_button = QPushButton("● Record")
        self.record_button.setCheckable(True)
        self.record_button.setToolTip("Record from the chosen microphone; press again to stop.")
        row.addWidget(self.record_button)
        mic_layout.addLayout(row)
        level_row = QHBoxLayout()
        level_row.addWidget(QLabel("Level:"))
        self.level_meter = LevelMeter()
        level_row.addWidget(self.level_meter, 1)
        self.record_time = QLabel("")
        self.record_time.setMinimumWidth(110)
        level_row.addWidget(self.record_time)
        mic_layout.addLayout(level_row)
        clip.addWidget(mic)

        self.clip_title = label("No clip yet: drop an audio file or record one.", MUTED_STYLE)
        clip.addWidget(self.clip_title)
        views = QSplitter(Qt.Orientation.Vertical)
        self.waveform = WaveformView()
        views.addWidget(self.waveform)
        self.spec_stack = QStackedWidget()
        self.spectrogram = SpectrogramView()
        self.live_spectrogram = ScrollingSpectrogram()
        self.spec_stack.addWidget(self.spectrogram)
        self.spec_stack.addWidget(self.live_spectrogram)
        views.addWidget(self.spec_stack)
        self.posteriorgram = PosteriorgramView()
        views.addWidget(self.posteriorgram)
        self.spectrogram.setXLink(self.waveform)
        self.posteriorgram.setXLink(self.waveform)
        views.setSizes([140, 260, 200])
        clip.addWidget(views, 1)

        actions = QHBoxLayout()
        self.play_button = QPushButton("▶ Play")
        self.play_button.setToolTip("Play the clip (again to stop).")
        actions.addWidget(self.play_button)
        self.save_button = QPushButton("Save as WAV…")
        actions.addWidget(self.save_button)
        actions.addSpacing(16)
        actions.addWidget(QLabel("Label:"))
        self.label_combo = QComboBox()
        self.label_combo.setEditable(True)
        self.label_combo.setMinimumWidth(110)
        self.label_combo.lineEdit().setPlaceholderText("e.g. yes")
        self.label_combo.setToolTip("The label (word) of this clip; type a new one to start a "
                                    "new label.")
        actions.addWidget(self.label_combo)
        self.add_button = QPushButton("Add to dataset")
        actions.addWidget(self.add_button)
        self.add_target = label("", MUTED_STYLE)
        actions.addWidget(self.add_target, 1)
        self.clip_actions = QWidget()
        self.clip_actions.setLayout(actions)
        clip.addWidget(self.clip_actions)

        self.result_stack = QStackedWidget()
        self.result_stack.addWidget(self._keyword_panel())
        self.result_stack.addWidget(self._transcript_panel())
        self.result_stack.setMinimumWidth(300)
        layout.addWidget(self.result_stack, 2)
        return page

    def _run_row(self, form: QFormLayout, label: str) -> tuple[QComboBox, QPushButton]:
        row = QHBoxLayout()
        combo = QComboBox()
        combo.setMinimumWidth(200)
        button = QPushButton("Refresh")
        row.addWidget(combo, 1)
        row.addWidget(button)
        form.addRow(label, row)
        return combo, button

    def _keyword_panel(self) -> QWidget:
        panel = QGroupBox("Recognise the keyword")
        layout = QVBoxLayout(panel)
        form = QFormLayout()
        self.run_combo, self.refresh_runs_button = self._run_row(form, "Model (run):")
        layout.addLayout(form)
        self.predict_button = QPushButton("Recognise this clip")
        layout.addWidget(self.predict_button)
        self.predict_title = label("Top-5 labels")
        layout.addWidget(self.predict_title)
        self.bars = TopKBars(empty_text="Drop or record a clip to see what the model hears.")
        layout.addWidget(self.bars)
        self.saliency_check = QCheckBox("Saliency overlay on the spectrogram")
        self.saliency_check.setChecked(True)
        self.saliency_check.setToolTip("Which time–frequency regions drove the top label "
                                       "(gradient × input over the log-mel the model heard; "
                                       "the dashed box is the window it listened to).")
        layout.addWidget(self.saliency_check)
        layout.addWidget(label("The overlay marks the time–frequency regions that pushed the "
                               "model towards its top label, inside the dashed box: the "
                               "window of the clip the model listened to.", MUTED_STYLE))
        self.predict_note = label("", WARNING_STYLE)
        layout.addWidget(self.predict_note)
        layout.addStretch(1)
        return panel

    def _transcript_panel(self) -> QWidget:
        panel = QGroupBox("Transcribe")
        layout = QVBoxLayout(panel)
        form = QFormLayout()
        self.transcriber_combo, self.refresh_transcribers_button = self._run_row(form, "Model:")
        self.beam_spin = QSpinBox()
        self.beam_spin.setRange(0, 128)
        self.beam_spin.setSpecialValueText("model default")
        self.beam_spin.setToolTip("Beam width of the CTC beam search (1 = greedy decoding).")
        form.addRow("Beam width:", self.beam_spin)
        layout.addLayout(form)
        row = QHBoxLayout()
        self.transcribe_button = QPushButton("Transcribe this clip")
        self.transcribe_stop_button = QPushButton("Stop")
        self.transcribe_stop_button.setEnabled(False)
        row.addWidget(self.transcribe_button, 2)
        row.addWidget(self.transcribe_stop_button, 1)
        layout.addLayout(row)
        self.transcribe_progress = QProgressBar()
        self.transcribe_progress.setTextVisible(True)
        self.transcribe_progress.hide()
        layout.addWidget(self.transcribe_progress)
        self.transcript = QPlainTextEdit()
        self.transcript.setReadOnly(True)
        self.transcript.setPlaceholderText("The transcript appears here, with the time of each "
                                           "phrase.")
        layout.addWidget(self.transcript, 1)
        self.transcript_note = label("", MUTED_STYLE)
        layout.addWidget(self.transcript_note)
        return panel

    # training and evaluation pages ----------------------------------------------------------
    def _training_page(self) -> QWidget:
        page = QWidget()
        layout = QVBoxLayout(page)
        self.curves = CurvesPanel()
        layout.addWidget(self.curves, 4)
        self.samples = SampleTextView()
        self.samples.setMaximumHeight(130)
        self.samples.setPlaceholderText("Validation transcripts (reference / model) appear here "
                                        "after each epoch.")
        layout.addWidget(self.samples, 1)
        self.log = LogView()
        self.log.setMaximumHeight(140)
        layout.addWidget(self.log, 1)
        return page

    def _evaluation_page(self) -> QWidget:
        self.eval_stack = QStackedWidget()
        keywords = QWidget()
        k_layout = QHBoxLayout(keywords)
        k_left = QVBoxLayout()
        self.eval_title = label("Validation results appear here after each epoch.")
        k_left.addWidget(self.eval_title)
        self.confusion = ConfusionMatrixView()
        k_left.addWidget(self.confusion, 1)
        k_layout.addLayout(k_left, 3)
        k_right = QVBoxLayout()
        k_right.addWidget(QLabel("Per-class precision / recall / F1"))
        self.report = ClassReportTable()
        k_right.addWidget(self.report, 1)
        k_layout.addLayout(k_right, 2)
        self.eval_stack.addWidget(keywords)

        ctc = QWidget()
        c_layout = QVBoxLayout(ctc)
        self.ctc_eval_title = label("After each epoch: how the model aligns characters to the "
                                    "frames of a validation clip (dots: where CTC emits "
                                    "them).")
        c_layout.addWidget(self.ctc_eval_title)
        self.eval_posteriorgram = PosteriorgramView()
        c_layout.addWidget(self.eval_posteriorgram, 2)
        self.eval_samples = SampleTextView()
        c_layout.addWidget(self.eval_samples, 1)
        self.eval_stack.addWidget(ctc)
        return self.eval_stack
