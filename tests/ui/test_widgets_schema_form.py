"""SchemaForm generated from ClassifierTrainConfig and a small schema with free text."""

from __future__ import annotations

from dataclasses import dataclass

import pytest
from PySide6.QtCore import Qt
from PySide6.QtWidgets import QCheckBox, QComboBox, QDoubleSpinBox, QGroupBox, QLineEdit, QSpinBox

from playground.core import schema
from playground.core.errors import ConfigError
from playground.core.schema import option
from playground.core.trainer import ClassifierTrainConfig
from playground.ui.widgets.schema_form import LogSpinBox, SchemaForm, format_scientific, nice_step


@dataclass
class ModelConfig:
    model: str = option("small_cnn", label="Model", help="Architecture to train.")
    note: str = option("", label="Note", group="Run")
    width: int = option(32, label="Width", min=8, max=512, step=8, advanced=True)


@pytest.fixture
def form(qtbot):
    f = SchemaForm(ClassifierTrainConfig)
    qtbot.addWidget(f)
    f.show()
    return f


def test_every_field_gets_the_right_editor(form):
    assert set(form.field_names()) == {s.name for s in schema.fields(ClassifierTrainConfig)}
    assert isinstance(form.widget_for("epochs"), QSpinBox)
    assert isinstance(form.widget_for("learning_rate"), LogSpinBox)
    assert type(form.widget_for("weight_decay")) is QDoubleSpinBox
    assert isinstance(form.widget_for("mixed_precision"), QCheckBox)
    optimizer = form.widget_for("optimizer")
    assert isinstance(optimizer, QComboBox)
    spec = {s.name: s for s in schema.fields(ClassifierTrainConfig)}
    assert form.choices("optimizer") == list(spec["optimizer"].choices)
    assert [optimizer.itemText(i) for i in range(optimizer.count())] == list(
        spec["optimizer"].choices)
    epochs = form.widget_for("epochs")
    assert (epochs.minimum(), epochs.maximum()) == (1, 10000)
    assert "Passes over the training set." in epochs.toolTip()
    assert "--epochs" in epochs.toolTip()
    titles = [box.title() for box in form.findChildren(QGroupBox) if box.title()]
    assert titles == ["Training", "Regularisation", "Data"]
    assert form.value() == ClassifierTrainConfig()


def test_advanced_fields_start_collapsed(form, qtbot):
    momentum = form.widget_for("momentum")
    assert not momentum.isVisible() and not form.advanced_expanded()
    qtbot.mouseClick(form._advanced_button, Qt.MouseButton.LeftButton)
    assert momentum.isVisible() and form.advanced_expanded()


def test_editing_fields_changes_value_and_emits_changed(form, qtbot):
    with qtbot.waitSignal(form.changed, timeout=1000) as blocker:
        form.widget_for("epochs").setValue(12)
    assert blocker.args == ["epochs"]
    form.widget_for("optimizer").setCurrentIndex(form.choices("optimizer").index("sgd"))
    form.widget_for("mixed_precision").setChecked(False)
    value = form.value()
    assert (value.epochs, value.optimizer, value.mixed_precision) == (12, "sgd", False)


def test_log_spin_box_accepts_scientific_text(form, qtbot):
    lr = form.widget_for("learning_rate")
    assert lr.text() == "3e-3"
    lr.lineEdit().selectAll()
    qtbot.keyClicks(lr.lineEdit(), "3e-4")
    assert form.value().learning_rate == pytest.approx(3e-4)
    lr.stepBy(1)
    assert lr.text() == "5e-4" and form.value().learning_rate == pytest.approx(5e-4)
    lr.stepBy(-2)
    assert lr.text() == "2e-4"
    assert format_scientific(0.05) == "0.05" and format_scientific(2.5e6) == "2.5e6"
    assert nice_step(0.003, 1) == pytest.approx(0.005)
    assert nice_step(0.001, -1) == pytest.approx(0.0005)


def test_out_of_range_input_raises_or_clamps(form, qtbot):
    epochs = form.widget_for("epochs")
    epochs.lineEdit().selectAll()
    qtbot.keyClicks(epochs.lineEdit(), "0")
    assert epochs.text() == "0"
    with pytest.raises(ConfigError, match=r"Epochs \(--epochs\) must be at least 1; got 0"):
        form.value()
    epochs.lineEdit().setText("3")
    assert form.value().epochs == 3
    val = form.widget_for("val_fraction")
    val.lineEdit().setText("0.95")
    with pytest.raises(ConfigError, match=r"Validation split .* at most 0.9"):
        form.value()
    val.setValue(0.5)
    epochs.setValue(99999)  # programmatic values clamp to the range
    assert form.value().epochs == 10000
    lr = form.widget_for("learning_rate")
    lr.lineEdit().setText("50")
    with pytest.raises(ConfigError, match="at most 10"):
        form.value()
    lr.lineEdit().setText("abc")
    with pytest.raises(ConfigError, match="must be a number"):
        form.value()


def test_set_value_round_trips_and_validates(form):
    cfg = schema.replace(ClassifierTrainConfig(), epochs=7, learning_rate=1e-4, schedule="step",
                         label_smoothing=0.1, seed=42)
    form.set_value(cfg)
    assert form.value() == cfg
    assert form.widget_for("learning_rate").text() == "1e-4"
    bad = ClassifierTrainConfig(epochs=0)
    with pytest.raises(ConfigError):
        form.set_value(bad)


def test_enable_and_hide_fields(form):
    form.set_enabled_fields(["momentum", "grad_clip"], False)
    assert not form.widget_for("momentum").isEnabled()
    form.set_field_enabled("momentum", True)
    assert form.widget_for("momentum").isEnabled()
    form.set_field_visible("seed", False)
    assert not form.is_field_visible("seed") and not form.widget_for("seed").isVisible()
    form.set_field_visible("seed", True)
    assert form.is_field_visible("seed")
    with pytest.raises(KeyError, match="no field 'nope'"):
        form.widget_for("nope")


def test_free_text_becomes_a_choice_list(qtbot):
    form = SchemaForm(ModelConfig)
    qtbot.addWidget(form)
    assert isinstance(form.widget_for("model"), QLineEdit)
    form.widget_for("note").setText("first try")
    assert form.value().note == "first try"
    form.set_choices("model", ["small_cnn", "resnet18"], titles=["Small CNN", "ResNet-18"])
    combo = form.widget_for("model")
    assert isinstance(combo, QComboBox)
    assert combo.currentText() == "Small CNN"
    assert combo.itemText(1) == "ResNet-18"
    combo.setCurrentIndex(1)
    assert form.value().model == "resnet18"
    with qtbot.waitSignal(form.changed, timeout=1000) as blocker:
        form.set_choices("model", ["mlp"])  # current value gone: first choice taken
    assert blocker.args == ["model"] and form.value().model == "mlp"
    form.set_choices("model", [])
    assert isinstance(form.widget_for("model"), QLineEdit) and form.value().model == "mlp"
    with pytest.raises(ConfigError, match="only text fields"):
        form.set_choices("width", ["1"])


def test_excluded_fields_keep_their_values(qtbot):
    form = SchemaForm(ModelConfig, exclude=["model"])
    qtbot.addWidget(form)
    assert "model" not in form.field_names()
    form.set_value(ModelConfig(model="resnet18", width=64))
    form.widget_for("width").setValue(128)
    assert form.value() == ModelConfig(model="resnet18", width=128)


def test_changed_reaches_slots_without_arguments(form, qtbot):
    calls = []

    class Receiver:
        def on_changed(self) -> None:
            calls.append(True)

    receiver = Receiver()
    form.changed.connect(receiver.on_changed)
    form.widget_for("seed").setValue(3)
    assert calls == [True]
