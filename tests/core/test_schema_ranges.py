"""Issue 9, class 5: every numeric option's range is checked, NaN and infinity included, with
the range in the message; hand-edited JSON of the wrong type is refused, never crashes."""

from __future__ import annotations

import argparse
import math

import pytest

from playground.core import schema
from playground.core.errors import ConfigError
from playground.core.trainer import ClassifierTrainConfig

NUMERIC = [s for s in schema.fields(ClassifierTrainConfig) if s.type in (int, float)]


def _spec(name: str) -> schema.FieldSpec:
    return {s.name: s for s in schema.fields(ClassifierTrainConfig)}[name]


@pytest.mark.parametrize("spec", NUMERIC, ids=lambda s: s.name)
@pytest.mark.parametrize("bad", ["nan", "inf", "-inf", float("nan"), float("inf")])
def test_non_finite_values_are_refused_with_the_range(spec, bad):
    with pytest.raises(ConfigError) as info:
        schema.coerce(spec, bad)
    text = str(info.value)
    assert spec.flag in text and "Allowed: between" in text
    assert "finite" in text or (spec.type is int and "must be int" in text)


@pytest.mark.parametrize("spec", NUMERIC, ids=lambda s: s.name)
def test_every_numeric_field_has_a_range_and_both_ends_are_enforced(spec):
    assert spec.min is not None and spec.max is not None
    assert schema.coerce(spec, spec.min) == spec.min
    assert schema.coerce(spec, spec.max) == spec.max
    step = 1 if spec.type is int else max(abs(spec.min), abs(spec.max), 1) * 1e-3
    with pytest.raises(ConfigError, match=r"at least .*Allowed: between"):
        schema.coerce(spec, spec.min - step)
    with pytest.raises(ConfigError, match=r"at most .*Allowed: between"):
        schema.coerce(spec, spec.max + step)


@pytest.mark.parametrize("bad", [True, [3], {"n": 3}, None, "3 epochs", 2.5, 10**400])
def test_wrong_types_from_a_hand_edited_file(bad):
    with pytest.raises(ConfigError, match=r"Epochs \(--epochs\) must be"):
        schema.coerce(_spec("epochs"), bad)


def test_from_dict_names_the_field_of_a_damaged_config():
    with pytest.raises(ConfigError, match=r"--learning-rate\) must be a finite number; got nan"):
        schema.from_dict(ClassifierTrainConfig, {"learning_rate": float("nan")})
    with pytest.raises(ConfigError, match=r"--optimizer\) must be str"):
        schema.from_dict(ClassifierTrainConfig, {"optimizer": ["adamw"]})
    with pytest.raises(ConfigError, match=r"must be bool"):
        schema.from_dict(ClassifierTrainConfig, {"mixed_precision": "perhaps"})
    with pytest.raises(ConfigError, match=r"must be bool"):
        schema.from_dict(ClassifierTrainConfig, {"mixed_precision": 7})


def test_check_number_and_its_messages():
    assert schema.check_number("3", int, 0, 4) == 3
    assert schema.check_number("3.0", int) == 3 and schema.check_number(" 1e3 ", int) == 1000
    assert math.isclose(schema.check_number("1e-3", float, 0, 1), 0.001)
    for text, message in [("-3", "must be between 0 and 64 (got -3)"),
                          ("65", "must be between 0 and 64 (got 65)"),
                          ("abc", "must be a whole number between 0 and 64 (got abc)"),
                          ("1.5", "must be a whole number between 0 and 64 (got 1.5)"),
                          ("nan", "must be a finite number between 0 and 64 (got nan)"),
                          ("1e999", "must be a finite number between 0 and 64 (got 1e999)")]:
        with pytest.raises(schema.NumberError) as info:
            schema.check_number(text, int, 0, 64)
        assert str(info.value) == message
    with pytest.raises(schema.NumberError, match=r"must be at least 0\.5 \(got 0\.1\)"):
        schema.check_number("0.1", float, 0.5)
    assert schema.range_text(None, 5) == "at most 5" and schema.range_text(None, None) == \
        "any number"
    assert schema.format_number(2**31 - 1) == "2147483647" and schema.format_number(1e-7) == \
        "1e-07"


def test_number_type_in_argparse():
    parser = argparse.ArgumentParser(exit_on_error=False)
    parser.add_argument("--threads", type=schema.number_type(int, 0, 64))
    parser.add_argument("--temperature", type=schema.number_type(float, 0, 5))
    assert parser.parse_args(["--threads", "4", "--temperature", "0.7"]).threads == 4
    with pytest.raises(argparse.ArgumentError, match=r"must be between 0 and 64 \(got -3\)"):
        parser.parse_args(["--threads", "-3"])
    with pytest.raises(argparse.ArgumentError, match=r"finite number between 0 and 5"):
        parser.parse_args(["--temperature", "nan"])


def test_schema_flags_check_the_range_while_parsing():
    parser = argparse.ArgumentParser(exit_on_error=False)
    schema.add_arguments(parser, ClassifierTrainConfig)
    with pytest.raises(argparse.ArgumentError, match=r"--learning-rate: must be a finite"):
        parser.parse_args(["--learning-rate", "inf"])
    assert parser.parse_args(["--learning-rate", "0.01"]).learning_rate == 0.01
