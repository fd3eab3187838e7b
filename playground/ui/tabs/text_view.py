"""Layout of the Text tab's Generate mode (widgets only; behaviour is in ``text_tab.py``).

Left: corpus, tokenizer (with a live preview of how text is cut into pieces), model and
training options, Train / Stop. Right: Training (curves, samples while training, log),
Generate (run, prompt, sampling options, streamed output) and Attention pages.
"""

from __future__ import annotations

import html
from collections.abc import Sequence

from PySide6.QtCore import Qt
from PySide6.QtGui import QFontDatabase
from PySide6.QtWidgets import (
    QComboBox,
    QGroupBox,
    QHBoxLayout,
    QLabel,
    QLineEdit,
    QPlainTextEdit,
    QProgressBar,
    QPushButton,
    QSpinBox,
    QTabWidget,
    QVBoxLayout,
    QWidget,
)

from playground.ui.tabs.attention_view import AttentionPanel
from playground.ui.tabs.settings_column import (
    ERROR_STYLE,
    MUTED_STYLE,
    WARNING_STYLE,
    curves_above,
    data_box,
    label,
    settings_column,
    titled,
    two_columns,
)
from playground.ui.tabs.run_actions import RunActionsBox
from playground.ui.widgets.curves import CurvesPanel
from playground.ui.widgets.dropzone import DropZone
from playground.ui.widgets.logview import LogView, SampleTextView
from playground.ui.widgets.schema_form import SchemaForm

PIECE_COLOURS = ("#bfdbfe", "#fde68a")  # alternating backgrounds of preview pieces
UNKNOWN_COLOUR = "#fca5a5"
TOKENIZER_KINDS = [("Characters (char)", "char"), ("SentencePiece BPE", "bpe"),
                   ("SentencePiece unigram", "unigram")]


def pieces_html(pieces: Sequence[str], unknown: Sequence[bool] = ()) -> str:
    """Pieces as HTML spans on alternating backgrounds (unknown ones red), whitespace visible."""
    from playground.text.tokenizers import display_piece

    spans = []
    for i, piece in enumerate(pieces):
        bad = i < len(unknown) and unknown[i]
        colour = UNKNOWN_COLOUR if bad else PIECE_COLOURS[i % 2]
        text = html.escape(display_piece(piece)).replace(" ", "&nbsp;")
        spans.append(f'<span style="background:{colour};">{text}</span>')
    return ('<span style="font-family: monospace; font-size: 11pt;">' + "&#8203;".join(spans)
            + "</span>")


class GenerateView(QWidget):
    """The Generate mode's widgets; ``form_cls`` / ``options_cls`` are the schema classes."""

    def __init__(self, form_cls: type, options_cls: type, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        corpus_box, tokenizer_box = self._corpus_box(), self._tokenizer_box()
        model_box = QGroupBox("Model and training")
        model_layout = QVBoxLayout(model_box)
        self.model_info = label("Parameter count appears when PyTorch has loaded.", MUTED_STYLE,
                                rich=True)
        model_layout.addWidget(self.model_info)
        self.form = SchemaForm(form_cls, exclude=("tokenizer",))
        model_layout.addWidget(self.form)
        self.runs_box = RunActionsBox("iterations")
        left, self.train_button, self.stop_button = settings_column(
            (corpus_box, tokenizer_box, model_box, self.runs_box), 380,
            "Train a new language model with these settings",
            "Stop training; what was learned so far is kept")

        self.pages = QTabWidget()
        self.pages.addTab(self._training_page(), "Training")
        self.pages.addTab(self._generate_page(options_cls), "Generate")
        self.attention = AttentionPanel()
        self.pages.addTab(self.attention, "Attention")
        outer = QHBoxLayout(self)
        outer.setContentsMargins(4, 4, 4, 4)
        outer.addWidget(two_columns(left, self.pages, (420, 1000)))

    # left column ----------------------------------------------------------------------------
    def _corpus_box(self) -> QGroupBox:
        self.corpus_drop = DropZone(accept_files={".txt"}, accept_folders=True, multiple=True,
                                    hint="Drop .txt files or a folder of them here, or click "
                                         "to choose…")
        box, layout, self.source_combo = data_box("Corpus", self.corpus_drop)
        self.corpus_summary = label("Reading the built-in corpus…")
        layout.addWidget(self.corpus_summary)
        self.corpus_warnings = label("", WARNING_STYLE)
        self.corpus_warnings.hide()
        layout.addWidget(self.corpus_warnings)
        self.excerpt = SampleTextView(max_chars=4000)
        self.excerpt.setMaximumHeight(84)
        self.excerpt.setPlaceholderText("The beginning of the corpus appears here.")
        layout.addWidget(self.excerpt)
        return box

    def _tokenizer_box(self) -> QGroupBox:
        box = QGroupBox("Tokenizer")
        layout = QVBoxLayout(box)
        row = QHBoxLayout()
        self.tokenizer_combo = QComboBox()
        for title, kind in TOKENIZER_KINDS:
            self.tokenizer_combo.addItem(title, kind)
        self.tokenizer_combo.setToolTip("char: one token per character. SentencePiece learns "
                                        "pieces (whole words, parts of words) from the corpus.")
        row.addWidget(self.tokenizer_combo, 1)
        row.addWidget(QLabel("Vocabulary:"))
        self.vocab_spin = QSpinBox()
        self.vocab_spin.setRange(8, 65_536)
        self.vocab_spin.setValue(500)
        self.vocab_spin.setSingleStep(100)
        self.vocab_spin.setToolTip("Number of SentencePiece pieces (tokens) to learn.")
        row.addWidget(self.vocab_spin)
        layout.addLayout(row)
        row2 = QHBoxLayout()
        self.build_tokenizer_button = QPushButton("Train tokenizer")
        self.build_tokenizer_button.setToolTip("Build the tokenizer from the corpus now, to "
                                               "preview it (Train also builds it).")
        row2.addWidget(self.build_tokenizer_button)
        self.tokenizer_progress = QProgressBar()
        self.tokenizer_progress.setTextVisible(True)
        self.tokenizer_progress.hide()
        row2.addWidget(self.tokenizer_progress, 1)
        layout.addLayout(row2)
        self.tokenizer_status = label("", MUTED_STYLE)
        layout.addWidget(self.tokenizer_status)
        self.preview_edit = QLineEdit("The quick brown fox jumps over the lazy dog.")
        self.preview_edit.setPlaceholderText("Type a sentence to see how it is cut into "
                                             "tokens")
        self.preview_edit.setMaxLength(2000)
        layout.addWidget(self.preview_edit)
        self.preview_pieces = label()
        self.preview_pieces.setTextFormat(Qt.TextFormat.RichText)
        self.preview_pieces.setTextInteractionFlags(Qt.TextInteractionFlag.TextSelectableByMouse)
        self.preview_pieces.setMinimumHeight(24)
        layout.addWidget(self.preview_pieces)
        self.preview_info = label("", MUTED_STYLE)
        layout.addWidget(self.preview_info)
        return box

    # right pages ----------------------------------------------------------------------------
    def _training_page(self) -> QWidget:
        page = QWidget()
        layout = QVBoxLayout(page)
        self.curves = CurvesPanel()
        self.curves.setMinimumHeight(320)
        self.samples = SampleTextView()
        self.samples.setPlaceholderText("Each evaluation appends a short sample here: watch "
                                        "it go from noise to words.")
        samples = titled(label("Samples while training (generated at every evaluation from "
                               "the sample prompt)", MUTED_STYLE), self.samples)
        self.log = LogView()
        layout.addWidget(curves_above(self.curves, samples, self.log, (600, 300)))
        return page

    def _generate_page(self, options_cls: type) -> QWidget:
        page = QWidget()
        layout = QVBoxLayout(page)
        row = QHBoxLayout()
        row.addWidget(QLabel("Model (run):"))
        self.run_combo = QComboBox()
        self.run_combo.setMinimumWidth(380)
        row.addWidget(self.run_combo, 1)
        self.refresh_runs_button = QPushButton("Refresh")
        row.addWidget(self.refresh_runs_button)
        layout.addLayout(row)
        self.run_info = label("", MUTED_STYLE)
        layout.addWidget(self.run_info)

        body = QHBoxLayout()
        side = QVBoxLayout()
        options_box = QGroupBox("Sampling")
        options_layout = QVBoxLayout(options_box)
        self.options_form = SchemaForm(options_cls)
        options_layout.addWidget(self.options_form)
        side.addWidget(options_box)
        gen_buttons = QHBoxLayout()
        self.generate_button = QPushButton("Generate")
        self.generate_button.setShortcut("Ctrl+G")
        self.generate_button.setToolTip("Continue the prompt with the chosen run (Ctrl+G)")
        self.gen_stop_button = QPushButton("Stop")
        self.gen_stop_button.setEnabled(False)
        gen_buttons.addWidget(self.generate_button, 2)
        gen_buttons.addWidget(self.gen_stop_button, 1)
        side.addLayout(gen_buttons)
        self.rate_label = label("", MUTED_STYLE)
        side.addWidget(self.rate_label)
        self.attention_button = QPushButton("Attention of this text")
        self.attention_button.setToolTip("Compute the attention maps of the prompt and output "
                                         "(the last 128 tokens) and open the Attention page.")
        side.addWidget(self.attention_button)
        side.addStretch(1)
        side_widget = QWidget()
        side_widget.setLayout(side)
        side_widget.setFixedWidth(300)
        body.addWidget(side_widget)

        main = QVBoxLayout()
        main.addWidget(QLabel("Prompt:"))
        self.prompt_edit = QPlainTextEdit()
        self.prompt_edit.setFont(QFontDatabase.systemFont(QFontDatabase.SystemFont.FixedFont))
        self.prompt_edit.setPlaceholderText("Text for the model to continue (empty: start from "
                                            "a new line)")
        self.prompt_edit.setMaximumHeight(80)
        main.addWidget(self.prompt_edit)
        self.prompt_warning = label("", ERROR_STYLE)
        self.prompt_warning.hide()
        main.addWidget(self.prompt_warning)
        main.addWidget(QLabel("Output (the prompt in bold, then what the model wrote):"))
        self.output = SampleTextView()
        self.output.setPlaceholderText("Generated text streams in here, token by token.")
        main.addWidget(self.output, 1)
        body.addLayout(main, 1)
        layout.addLayout(body, 1)
        return page
