"""One schema, three faces: field metadata, coercion, JSON round trip and CLI flags."""

from __future__ import annotations

import argparse
import dataclasses

import pytest

from playground.core import schema
from playground.core.errors import ConfigError
from playground.core.optim import OPTIMIZERS, SCHEDULES
from playground.core.schema import option
from playground.core.trainer import ClassifierTrainConfig


def _spec(name: str) -> schema.FieldSpec:
    return {s.name: s for s in schema.fields(ClassifierTrainConfig)}[name]


def _parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="train", exit_on_error=False)
    schema.add_arguments(parser, ClassifierTrainConfig)
    return parser


def test_fields_of_classifier_config_in_declaration_order():
    specs = schema.fields(ClassifierTrainConfig)
    names = [s.name for s in specs]
    assert names == [f.name for f in dataclasses.fields(ClassifierTrainConfig)]
    assert names[:5] == ["epochs", "batch_size", "optimizer", "learning_rate", "schedule"]
    lr = _spec("learning_rate")
    assert lr.type is float and lr.default == 3e-3 and lr.log is True
    assert lr.min == 1e-7 and lr.max == 10.0 and lr.label == "Learning rate"
    assert lr.flag == "--learning-rate"
    assert _spec("optimizer").choices == OPTIMIZERS
    assert _spec("schedule").choices == SCHEDULES
    assert _spec("mixed_precision").type is bool and _spec("mixed_precision").advanced
    assert _spec("batch_size").type is int and _spec("batch_size").group == "Training"


def test_fields_rejects_unsupported_types():
    @dataclasses.dataclass
    class Bad:
        sizes: list = option((1, 2), label="Sizes")

    with pytest.raises(TypeError, match="unsupported option type"):
        schema.fields(Bad)


def test_fields_skips_plain_dataclass_fields():
    @dataclasses.dataclass
    class Mixed:
        a: int = option(1, label="A")
        internal: str = "x"

    assert [s.name for s in schema.fields(Mixed)] == ["a"]


@pytest.mark.parametrize("text, expected", [
    ("true", True), ("False", False), (" YES ", True), ("no", False), ("1", True), ("0", False),
    ("on", True), ("off", False),
])
def test_coerce_bool_strings(text, expected):
    assert schema.coerce(_spec("mixed_precision"), text) is expected


def test_coerce_bad_bool_string_names_the_flag():
    with pytest.raises(ConfigError, match="--mixed-precision") as info:
        schema.coerce(_spec("mixed_precision"), "maybe")
    assert "bool" in str(info.value) and "'maybe'" in str(info.value)


def test_coerce_int_from_float_and_strings():
    spec = _spec("epochs")
    assert schema.coerce(spec, 3.0) == 3 and type(schema.coerce(spec, 3.0)) is int
    assert schema.coerce(spec, "7") == 7
    with pytest.raises(ConfigError, match=r"Epochs \(--epochs\) must be int"):
        schema.coerce(spec, 2.5)
    with pytest.raises(ConfigError, match="--epochs"):
        schema.coerce(spec, "many")


def test_coerce_float_and_bounds():
    spec = _spec("learning_rate")
    assert schema.coerce(spec, "3e-3") == pytest.approx(0.003)
    assert type(schema.coerce(spec, 1)) is float
    with pytest.raises(ConfigError, match=r"--learning-rate.*at least 1e-07"):
        schema.coerce(spec, 0.0)
    with pytest.raises(ConfigError, match=r"--learning-rate.*at most 10"):
        schema.coerce(spec, 11)
    assert schema.coerce(spec, 10.0) == 10.0  # bounds are inclusive
    with pytest.raises(ConfigError, match=r"Batch size \(--batch-size\) must be at least 1"):
        schema.coerce(_spec("batch_size"), 0)


def test_coerce_choices():
    spec = _spec("optimizer")
    assert schema.coerce(spec, "sgd") == "sgd"
    with pytest.raises(ConfigError, match=r"--optimizer\) must be one of sgd, rmsprop"):
        schema.coerce(spec, "lion")


def test_validate_catches_bad_instance():
    cfg = ClassifierTrainConfig(epochs=0)
    with pytest.raises(ConfigError, match="--epochs"):
        schema.validate(cfg)
    ok = ClassifierTrainConfig()
    assert schema.validate(ok) is ok


def test_to_dict_from_dict_round_trip():
    cfg = ClassifierTrainConfig(epochs=3, batch_size=16, optimizer="sgd", learning_rate=0.05,
                                schedule="step", mixed_precision=False, seed=42)
    data = schema.to_dict(cfg)
    assert data["batch_size"] == 16 and data["mixed_precision"] is False
    assert set(data) == {s.name for s in schema.fields(ClassifierTrainConfig)}
    assert schema.from_dict(ClassifierTrainConfig, data) == cfg


def test_from_dict_coerces_json_values():
    cfg = schema.from_dict(ClassifierTrainConfig, {"epochs": 4.0, "mixed_precision": "false"})
    assert cfg.epochs == 4 and type(cfg.epochs) is int and cfg.mixed_precision is False
    assert cfg.batch_size == 64  # missing keys keep their defaults
    with pytest.raises(ConfigError, match="--schedule"):
        schema.from_dict(ClassifierTrainConfig, {"schedule": "linear"})


def test_from_dict_ignores_unknown_keys_unless_strict():
    data = {"epochs": 2, "colour": "blue", "old_option": 1}
    assert schema.from_dict(ClassifierTrainConfig, data).epochs == 2
    with pytest.raises(ConfigError, match="Unknown options: colour, old_option"):
        schema.from_dict(ClassifierTrainConfig, data, strict=True)


def test_replace_coerces_and_rejects_unknown():
    cfg = schema.replace(ClassifierTrainConfig(), epochs="9", learning_rate="1e-2")
    assert cfg.epochs == 9 and cfg.learning_rate == pytest.approx(0.01)
    with pytest.raises(ConfigError, match="Unknown option 'nope'"):
        schema.replace(cfg, nope=1)


def test_add_arguments_kebab_case_flags():
    parser = _parser()
    flags = {opt for action in parser._actions for opt in action.option_strings}
    assert {"--batch-size", "--learning-rate", "--label-smoothing", "--val-fraction",
            "--mixed-precision", "--no-mixed-precision"} <= flags
    assert "--batch_size" not in flags
    ns = parser.parse_args(["--batch-size", "16", "--learning-rate", "3e-3", "--epochs", "2"])
    assert ns.batch_size == 16 and ns.learning_rate == pytest.approx(3e-3) and ns.epochs == 2
    assert ns.optimizer is None and ns.mixed_precision is None  # not given


def test_add_arguments_skip():
    parser = argparse.ArgumentParser()
    schema.add_arguments(parser, ClassifierTrainConfig, skip=("seed",))
    flags = {opt for action in parser._actions for opt in action.option_strings}
    assert "--seed" not in flags and "--epochs" in flags


def test_boolean_optional_action():
    parser = _parser()
    assert parser.parse_args(["--no-mixed-precision"]).mixed_precision is False
    assert parser.parse_args(["--mixed-precision"]).mixed_precision is True
    cfg = schema.from_arguments(ClassifierTrainConfig, parser.parse_args(["--no-mixed-precision"]))
    assert cfg.mixed_precision is False


def test_from_arguments_keeps_defaults_and_base():
    parser = _parser()
    cfg = schema.from_arguments(ClassifierTrainConfig,
                                parser.parse_args(["--batch-size", "8", "--optimizer", "sgd"]))
    default = ClassifierTrainConfig()
    assert cfg.batch_size == 8 and cfg.optimizer == "sgd"
    assert cfg.epochs == default.epochs and cfg.learning_rate == default.learning_rate
    assert cfg.mixed_precision is True
    base = ClassifierTrainConfig(epochs=11, seed=5)
    cfg2 = schema.from_arguments(ClassifierTrainConfig, parser.parse_args(["--seed", "6"]), base)
    assert cfg2.epochs == 11 and cfg2.seed == 6


def test_from_arguments_checks_bounds():
    parser = _parser()  # the flag's type refuses it while parsing, with the range
    with pytest.raises(argparse.ArgumentError, match=r"must be between 1 and \d+ \(got 0\)"):
        parser.parse_args(["--batch-size", "0"])
    with pytest.raises(ConfigError, match="--batch-size"):  # a namespace built by hand
        schema.from_arguments(ClassifierTrainConfig, argparse.Namespace(batch_size=0))


def test_argparse_rejects_bad_choice_and_type(capsys):
    parser = argparse.ArgumentParser(prog="train")
    schema.add_arguments(parser, ClassifierTrainConfig)
    with pytest.raises(SystemExit):
        parser.parse_args(["--optimizer", "lion"])
    assert "invalid choice: 'lion'" in capsys.readouterr().err
    with pytest.raises(SystemExit):
        parser.parse_args(["--epochs", "two"])
    assert "--epochs" in capsys.readouterr().err


def test_help_text_mentions_bounds_and_default():
    text = _parser().format_help()
    assert "--learning-rate" in text and "min 1e-07" in text and "(default: 0.003)" in text
