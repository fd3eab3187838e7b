"""A Qt form generated from a schema dataclass (see ``playground.core.schema``).

Every editor comes from the field metadata, none is written by hand: ``int`` -> QSpinBox,
``float`` -> QDoubleSpinBox (``log=True`` -> :class:`LogSpinBox`, which shows and accepts
scientific notation such as ``3e-4`` and steps along 1-2-3-5 per decade), ``bool`` -> QCheckBox,
``str`` with choices -> QComboBox, free ``str`` -> QLineEdit (which :meth:`SchemaForm.set_choices`
turns into a combo box, e.g. for model names from a registry). Fields are grouped by ``group``
into group boxes; ``advanced`` fields sit in a collapsed "Advanced" section at the bottom.
Choices declared as a callable (``choices=REGISTRY.names``) are read when the form is built and
again by :meth:`SchemaForm.refresh_choices` (tabs call it when their registry changes).
"""

from __future__ import annotations

import math
from collections.abc import Iterable, Sequence
from typing import Any

from PySide6.QtCore import Qt, Signal
from PySide6.QtGui import QValidator
from PySide6.QtWidgets import (
    QAbstractSpinBox,
    QCheckBox,
    QComboBox,
    QDoubleSpinBox,
    QFormLayout,
    QGroupBox,
    QLabel,
    QLineEdit,
    QSizePolicy,
    QSpinBox,
    QStackedWidget,
    QToolButton,
    QToolTip,
    QVBoxLayout,
    QWidget,
)

from playground.core import schema
from playground.core.errors import ConfigError
from playground.core.schema import FieldSpec

INT_MIN, INT_MAX = -(2**31) + 1, 2**31 - 1
NICE_MANTISSAS = (1.0, 2.0, 3.0, 5.0)


def format_scientific(value: float) -> str:
    """Compact text for a log-scale value: ``3e-4``, ``0.01``, ``2.5e+6`` -> ``2.5e6``."""
    if value == 0 or not math.isfinite(value):
        return f"{value:g}"
    if 1e-2 <= abs(value) < 1e4:
        return f"{value:.4g}"
    mantissa, exponent = f"{value:.3e}".split("e")
    mantissa = mantissa.rstrip("0").rstrip(".")
    return f"{mantissa}e{int(exponent)}"


def nice_step(value: float, steps: int) -> float:
    """Move ``value`` ``steps`` places along the grid 1, 2, 3, 5 x 10^k (negative: down)."""
    for _ in range(abs(steps)):
        if value <= 0:
            value = 1e-6 if steps > 0 else value
            continue
        exp = math.floor(math.log10(value))
        grid = [m * 10.0**e for e in (exp - 1, exp, exp + 1) for m in NICE_MANTISSAS]
        if steps > 0:
            value = min(g for g in grid if g > value * (1 + 1e-9))
        else:
            value = max(g for g in grid if g < value * (1 - 1e-9))
    return value


def _decimals(*values: float | None) -> int:
    """Decimals needed to show each of ``values`` exactly (at least 2, at most 10)."""
    needed = 2
    for v in values:
        if v is None or v == 0 or not math.isfinite(v):
            continue
        text = f"{abs(v):.10f}".rstrip("0")
        needed = max(needed, len(text.split(".")[1]) if "." in text else 0)
    return min(needed, 10)


class LogSpinBox(QDoubleSpinBox):
    """A spin box for values spanning decades (learning rates): scientific text, nice steps."""

    def __init__(self, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.setDecimals(15)

    def textFromValue(self, value: float) -> str:  # noqa: N802 (Qt override)
        return format_scientific(value)

    def valueFromText(self, text: str) -> float:  # noqa: N802 (Qt override)
        try:
            return float(text.strip())
        except ValueError:
            return self.value()

    def validate(self, text: str, pos: int) -> object:
        stripped = text.strip()
        try:
            value = float(stripped)
        except ValueError:
            partial = stripped.lower().rstrip("e+-.")
            ok = stripped == "" or stripped in ("-", "+", ".") or _is_number(partial)
            state = QValidator.State.Intermediate if ok else QValidator.State.Invalid
            return state, text, pos
        if self.minimum() <= value <= self.maximum():
            return QValidator.State.Acceptable, text, pos
        return QValidator.State.Intermediate, text, pos

    def fixup(self, text: str) -> str:
        """A number typed outside the range becomes the nearest bound when the field is left
        (Qt's own correction would give the minimum: 1e9 would silently become 1e-07), and
        the field's tooltip says so."""
        try:
            value = float(text.strip())
        except ValueError:
            return text
        if math.isnan(value) or self.minimum() <= value <= self.maximum():
            return text
        bounded = min(self.maximum(), max(self.minimum(), value))
        fixed = self.textFromValue(bounded)
        side = "at most" if value > self.maximum() else "at least"
        QToolTip.showText(self.mapToGlobal(self.rect().bottomLeft()),
                          f"{text.strip()} is out of range: it must be {side} {fixed}, so it "
                          f"was set to {fixed}.", self)
        return fixed

    def stepBy(self, steps: int) -> None:  # noqa: N802 (Qt override)
        value = nice_step(self.value(), steps)
        self.setValue(min(self.maximum(), max(self.minimum(), value)))
        self.selectAll()


def _is_number(text: str) -> bool:
    try:
        float(text)
    except ValueError:
        return False
    return True


class _Field:
    """One generated editor and the row it sits in."""

    def __init__(self, spec: FieldSpec, editor: QWidget, form: QFormLayout,
                 label: QLabel | None) -> None:
        self.spec = spec
        self.editor = editor
        self.form = form
        self.label = label
        self.line: QLineEdit | None = None
        self.combo: QComboBox | None = None
        if isinstance(editor, QStackedWidget):  # free text that may become a choice list
            self.line = editor.widget(0)
            self.combo = editor.widget(1)
        elif isinstance(editor, QComboBox):
            self.combo = editor

    def active(self) -> QWidget:
        if isinstance(self.editor, QStackedWidget):
            return self.editor.currentWidget()
        return self.editor


class SchemaForm(QWidget):
    """The editors of every option field of ``schema_cls``, grouped and labelled.

    ``value()`` returns a validated instance (raising ConfigError naming the field and its
    flag); ``set_value()`` shows an instance without emitting ``changed``; ``changed(name)``
    is emitted when the user edits a field. Fields in ``exclude`` get no editor and keep the
    value of the last ``set_value`` (or their default).
    """

    changed = Signal(str)

    def __init__(self, schema_cls: type, parent: QWidget | None = None, *,
                 exclude: Iterable[str] = (), advanced_title: str = "Advanced") -> None:
        super().__init__(parent)
        self.schema_cls = schema_cls
        self._base = schema_cls()
        self._fields: dict[str, _Field] = {}
        excluded = set(exclude)
        specs = [s for s in schema.fields(schema_cls) if s.name not in excluded]
        outer = QVBoxLayout(self)
        outer.setContentsMargins(0, 0, 0, 0)
        forms: dict[str, QFormLayout] = {}
        for spec in specs:
            if spec.advanced:
                continue
            if spec.group not in forms:
                forms[spec.group] = self._new_form(outer, spec.group)
            self._add_field(spec, forms[spec.group])
        advanced = [s for s in specs if s.advanced]
        self._advanced_button: QToolButton | None = None
        self._advanced_box: QWidget | None = None
        if advanced:
            self._advanced_button = QToolButton()
            self._advanced_button.setText(advanced_title)
            self._advanced_button.setCheckable(True)
            self._advanced_button.setAutoRaise(True)
            self._advanced_button.setToolButtonStyle(Qt.ToolButtonStyle.ToolButtonTextBesideIcon)
            self._advanced_box = QGroupBox()
            form = QFormLayout(self._advanced_box)
            form.setFieldGrowthPolicy(QFormLayout.FieldGrowthPolicy.AllNonFixedFieldsGrow)
            for spec in advanced:
                self._add_field(spec, form)
            self._advanced_button.toggled.connect(self.set_advanced_expanded)
            outer.addWidget(self._advanced_button)
            outer.addWidget(self._advanced_box)
            self.set_advanced_expanded(False)
        outer.addStretch(1)
        self.set_value(self._base)

    # building -------------------------------------------------------------------------------
    def _new_form(self, outer: QVBoxLayout, group: str) -> QFormLayout:
        if group:
            box = QGroupBox(group)
            form = QFormLayout(box)
            outer.addWidget(box)
        else:
            holder = QWidget()
            form = QFormLayout(holder)
            form.setContentsMargins(0, 0, 0, 0)
            outer.addWidget(holder)
        form.setFieldGrowthPolicy(QFormLayout.FieldGrowthPolicy.AllNonFixedFieldsGrow)
        return form

    def _tooltip(self, spec: FieldSpec) -> str:
        lines = [spec.help] if spec.help else []
        if spec.type in (int, float) and (spec.min is not None or spec.max is not None):
            lo = "−∞" if spec.min is None else f"{spec.min:g}"
            hi = "∞" if spec.max is None else f"{spec.max:g}"
            lines.append(f"Range {lo} … {hi}.")
        if spec.choices:
            lines.append(f"One of: {', '.join(spec.choices)}.")
        lines.append(f"Default {spec.default!s}; command line {spec.flag}.")
        return "\n".join(lines)

    def _make_editor(self, spec: FieldSpec) -> QWidget:
        name = spec.name
        if spec.type is bool:
            editor = QCheckBox(spec.label)
            editor.setProperty("field_name", name)
            editor.toggled.connect(self._on_edited)
            return editor
        if spec.type is int:
            editor = QSpinBox()
            lo = INT_MIN if spec.min is None else max(INT_MIN, int(math.ceil(spec.min)))
            hi = INT_MAX if spec.max is None else min(INT_MAX, int(math.floor(spec.max)))
            editor.setRange(lo, hi)
            editor.setSingleStep(int(spec.step) if spec.step else 1)
            editor.setGroupSeparatorShown(False)
        elif spec.type is float:
            editor = LogSpinBox() if spec.log else QDoubleSpinBox()
            lo = -1e12 if spec.min is None else float(spec.min)
            hi = 1e12 if spec.max is None else float(spec.max)
            if not spec.log:
                editor.setDecimals(_decimals(spec.step, spec.default, spec.min))
                if spec.step:
                    editor.setSingleStep(float(spec.step))
                elif spec.min is not None and spec.max is not None and hi > lo:
                    editor.setSingleStep(10.0 ** (math.floor(math.log10(hi - lo)) - 1))
            editor.setRange(lo, hi)
        else:
            combo = QComboBox()
            combo.setProperty("field_name", name)
            combo.currentIndexChanged.connect(self._on_edited)
            if spec.choices:
                for choice in spec.choices:
                    combo.addItem(choice, choice)
                return combo
            line = QLineEdit()
            line.setProperty("field_name", name)
            line.textEdited.connect(self._on_edited)
            stack = QStackedWidget()
            stack.addWidget(line)
            stack.addWidget(combo)
            stack.setSizePolicy(QSizePolicy.Policy.Expanding, QSizePolicy.Policy.Fixed)
            stack.setFixedHeight(max(line.sizeHint().height(), combo.sizeHint().height()))
            return stack
        editor.setCorrectionMode(QAbstractSpinBox.CorrectionMode.CorrectToNearestValue)
        editor.setKeyboardTracking(True)
        editor.setProperty("field_name", name)
        editor.valueChanged.connect(self._on_edited)
        return editor

    def _on_edited(self, *_args: object) -> None:
        # A bound method (not a lambda): Qt drops the connection when the form is destroyed.
        name = self.sender().property("field_name") if self.sender() is not None else None
        if name:
            self.changed.emit(str(name))

    def _add_field(self, spec: FieldSpec, form: QFormLayout) -> None:
        editor = self._make_editor(spec)
        if not isinstance(editor, QCheckBox):
            editor.setSizePolicy(QSizePolicy.Policy.Expanding, QSizePolicy.Policy.Fixed)
        tip = self._tooltip(spec)
        editor.setToolTip(tip)
        label = None
        if isinstance(editor, QCheckBox):
            form.addRow(editor)
        else:
            label = QLabel(spec.label + ":")
            label.setToolTip(tip)
            label.setBuddy(editor)
            form.addRow(label, editor)
        editor.setObjectName(f"field_{spec.name}")
        self._fields[spec.name] = _Field(spec, editor, form, label)

    # reading and writing --------------------------------------------------------------------
    def field_names(self) -> list[str]:
        return list(self._fields)

    def _field(self, name: str) -> _Field:
        try:
            return self._fields[name]
        except KeyError:
            raise KeyError(f"{self.schema_cls.__name__} form has no field {name!r}; fields: "
                           f"{', '.join(self._fields)}") from None

    def widget_for(self, name: str) -> QWidget:
        """The editor the user currently sees for field ``name``."""
        return self._field(name).active()

    def _read(self, field: _Field) -> Any:
        spec, widget = field.spec, field.active()
        if isinstance(widget, QCheckBox):
            return widget.isChecked()
        if isinstance(widget, QAbstractSpinBox):
            if not widget.hasAcceptableInput():  # typed text out of range or not a number
                text = widget.cleanText().strip()
                number = text.replace(widget.locale().groupSeparator(), "")
                number = number.replace(widget.locale().decimalPoint(), ".")
                if not _is_number(number):
                    raise ConfigError(f"{spec.label} ({spec.flag}) must be a number; got "
                                      f"{text!r}.")
                return schema.coerce(spec, float(number))
            widget.interpretText()
            return widget.value()
        if isinstance(widget, QComboBox):
            data = widget.currentData()
            return widget.currentText() if data is None else data
        if isinstance(widget, QLineEdit):
            return widget.text()
        raise TypeError(f"unexpected editor {widget!r}")

    def value(self) -> Any:
        """A validated ``schema_cls`` instance from the editors; raises ConfigError."""
        values = {name: self._read(field) for name, field in self._fields.items()}
        return schema.validate(schema.replace(self._base, **values))

    def set_value(self, obj: Any) -> None:
        """Show ``obj`` (validated first; raises ConfigError). Does not emit ``changed``."""
        if not isinstance(obj, self.schema_cls):
            raise TypeError(f"expected {self.schema_cls.__name__}, got {type(obj).__name__}")
        schema.validate(obj)
        self._base = obj
        for name, field in self._fields.items():
            self._write(field, getattr(obj, name))

    def reset(self) -> None:
        """Back to the schema's defaults (emits ``changed`` once, with an empty name)."""
        self.set_value(self.schema_cls())
        self.changed.emit("")

    def _write(self, field: _Field, value: Any) -> None:
        widget = field.active()
        widget.blockSignals(True)
        try:
            if isinstance(widget, QCheckBox):
                widget.setChecked(bool(value))
            elif isinstance(widget, QAbstractSpinBox):
                widget.setValue(value)
            elif isinstance(widget, QComboBox):
                index = widget.findData(value)
                if index < 0:  # keep a saved value that is not (or no longer) listed
                    widget.addItem(str(value), value)
                    index = widget.count() - 1
                widget.setCurrentIndex(index)
            elif isinstance(widget, QLineEdit):
                widget.setText(str(value))
        finally:
            widget.blockSignals(False)

    # changing the form ----------------------------------------------------------------------
    def set_choices(self, name: str, choices: Sequence[str],
                    titles: Sequence[str] | None = None) -> None:
        """List ``choices`` for a str field (``titles`` are shown instead, if given).

        The current value is kept when it is still listed, else the first choice is taken.
        For a free-text field an empty ``choices`` turns the editor back into a text box.
        """
        field = self._field(name)
        if field.spec.type is not str or field.combo is None:
            raise ConfigError(f"{field.spec.label}: only text fields can list choices.")
        current = self._read(field)
        combo = field.combo
        combo.blockSignals(True)
        try:
            combo.clear()
            for i, choice in enumerate(choices):
                combo.addItem(titles[i] if titles else choice, choice)
        finally:
            combo.blockSignals(False)
        if isinstance(field.editor, QStackedWidget):
            field.editor.setCurrentIndex(1 if choices else 0)
            if not choices:
                field.line.setText(str(current))
        if choices:
            index = combo.findData(current)
            combo.blockSignals(True)
            combo.setCurrentIndex(max(index, 0))
            combo.blockSignals(False)
            if index < 0:
                self.changed.emit(name)

    def refresh_choices(self) -> list[str]:
        """Re-read every field whose choices come from a callable (a model registry).

        The user's choice is kept while it is still listed. Returns the names of the fields
        refreshed.
        """
        refreshed = []
        for spec in schema.fields(self.schema_cls):
            field = self._fields.get(spec.name)
            if field is None or spec.choices_source is None:
                continue
            if list(spec.choices or ()) != self.choices(spec.name):
                self.set_choices(spec.name, list(spec.choices or ()))
            refreshed.append(spec.name)
        return refreshed

    def choices(self, name: str) -> list[str]:
        combo = self._field(name).combo
        return [] if combo is None else [combo.itemData(i) for i in range(combo.count())]

    def set_field_enabled(self, name: str, enabled: bool) -> None:
        field = self._field(name)
        field.editor.setEnabled(enabled)
        if field.label is not None:
            field.label.setEnabled(enabled)

    def set_enabled_fields(self, names: Iterable[str], enabled: bool = True) -> None:
        """Enable (or disable) each field in ``names``."""
        for name in names:
            self.set_field_enabled(name, enabled)

    def set_field_visible(self, name: str, visible: bool) -> None:
        field = self._field(name)
        field.form.setRowVisible(field.editor, visible)

    def is_field_visible(self, name: str) -> bool:
        field = self._field(name)
        return field.form.isRowVisible(field.editor)

    def set_advanced_expanded(self, expanded: bool) -> None:
        if self._advanced_box is None or self._advanced_button is None:
            return
        self._advanced_box.setVisible(expanded)
        self._advanced_button.blockSignals(True)
        self._advanced_button.setChecked(expanded)
        self._advanced_button.blockSignals(False)
        self._advanced_button.setArrowType(Qt.ArrowType.DownArrow if expanded
                                           else Qt.ArrowType.RightArrow)

    def advanced_expanded(self) -> bool:
        return self._advanced_box is not None and self._advanced_box.isVisibleTo(self)
