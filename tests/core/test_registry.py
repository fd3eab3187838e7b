"""Registries: change notification, lazy choices in schemas and the CLI, one factory convention,
and a model registered at run time that trains like the built-in ones."""

from __future__ import annotations

import argparse
import inspect
import json
from dataclasses import dataclass
from pathlib import Path

import pytest

from playground.core import schema
from playground.core.errors import ConfigError
from playground.core.registry import ModelEntry, ModelSpec, Registry
from playground.core.schema import option


def _tiny_image_net(spec: ModelSpec):
    from torch import nn

    side = spec.input_size
    return nn.Sequential(nn.Flatten(), nn.Linear(spec.num_inputs * side * side, 16), nn.ReLU(),
                         nn.Linear(16, spec.num_outputs))


@pytest.fixture
def tiny_image_model():
    from playground.vision.models import REGISTRY

    entry = REGISTRY.register(ModelEntry("tiny_mlp", "Tiny MLP (test)", _tiny_image_net,
                                         family="MLP", description="registered by a test"))
    yield entry
    REGISTRY.unregister("tiny_mlp")


def test_subscribe_register_unregister():
    reg = Registry("demo")
    seen: list[list[str]] = []
    unsubscribe = reg.subscribe(lambda r: seen.append(r.names()))

    def broken(_r):
        raise RuntimeError("a broken listener")

    reg.subscribe(broken)
    reg.register(ModelEntry("a", "A", _tiny_image_net))
    reg.register(ModelEntry("b", "B", _tiny_image_net))
    with pytest.raises(ValueError, match="already registered"):
        reg.register(ModelEntry("a", "A again", _tiny_image_net))
    reg.register(ModelEntry("a", "A again", _tiny_image_net), replace=True)
    assert reg.get("a").title == "A again" and len(reg) == 2
    reg.unregister("a")
    assert seen == [["a"], ["a", "b"], ["a", "b"], ["b"]]
    with pytest.raises(ConfigError, match="Unknown demo model 'a'. Choose one of: b"):
        reg.unregister("a")
    unsubscribe()
    reg.register(ModelEntry("c", "C", _tiny_image_net))
    assert len(seen) == 4


def test_lazy_choices_in_schema_json_and_cli():
    reg = Registry("demo")
    reg.register(ModelEntry("a", "A", _tiny_image_net))

    @dataclass
    class Config:
        model: str = option("a", label="Model", choices=reg.names)

    parser = argparse.ArgumentParser(prog="x", exit_on_error=False)
    schema.add_arguments(parser, Config)
    with pytest.raises(ConfigError, match="must be one of a"):
        schema.from_dict(Config, {"model": "late"})
    reg.register(ModelEntry("late", "Registered after the parser was built", _tiny_image_net))
    assert schema.fields(Config)[0].choices == ("a", "late")
    assert schema.from_dict(Config, {"model": "late"}).model == "late"
    args = parser.parse_args(["--model", "late"])
    assert schema.from_arguments(Config, args).model == "late"
    assert "{a,late}" in parser.format_help()
    with pytest.raises(argparse.ArgumentError, match="invalid choice"):
        parser.parse_args(["--model", "nope"])


def test_every_factory_takes_one_model_spec():
    from playground.speech.models import REGISTRY as SPEECH
    from playground.text.models import TEXT_MODELS
    from playground.vision.models import REGISTRY as IMAGE

    for registry in (IMAGE, TEXT_MODELS, SPEECH):
        for entry in registry:
            params = list(inspect.signature(entry.factory).parameters)
            assert params == ["spec"], (registry.task, entry.name, params)


def test_task_configs_list_models_registered_later(tiny_image_model):
    from playground.speech.models import REGISTRY as SPEECH
    from playground.speech.train import CTCTrainConfig, KeywordTrainConfig
    from playground.text.models import TEXT_MODELS
    from playground.text.train import TextTrainConfig
    from playground.vision.config import ImageTrainConfig

    def choices(cls):
        return next(f.choices for f in schema.fields(cls) if f.name == "model")

    assert "tiny_mlp" in choices(ImageTrainConfig)
    assert choices(TextTrainConfig) == tuple(TEXT_MODELS.names())
    SPEECH.register(ModelEntry("kw_test", "Test keywords", lambda spec: None,
                               extra={"task": "keywords", "features": "logmel"}))
    try:
        assert "kw_test" in choices(KeywordTrainConfig)
        assert "kw_test" not in choices(CTCTrainConfig)
    finally:
        SPEECH.unregister("kw_test")
    assert "kw_test" not in choices(KeywordTrainConfig)


def test_text_and_speech_build_runtime_entries():
    import torch
    from torch import nn

    from playground.speech.models import REGISTRY as SPEECH
    from playground.speech.models import build_keyword_model
    from playground.speech.train import KeywordTrainConfig
    from playground.text.models import TEXT_MODELS, build_model
    from playground.text.train import TextTrainConfig

    class Bigram(nn.Module):
        has_attention = False

        def __init__(self, spec: ModelSpec) -> None:
            super().__init__()
            self.block_size = spec.input_size
            self.table = nn.Embedding(spec.num_inputs, spec.num_outputs)

        def forward(self, idx, targets=None):
            return self.table(idx), None

    class Pool(nn.Module):
        def __init__(self, spec: ModelSpec) -> None:
            super().__init__()
            self.fc = nn.Linear(spec.num_inputs, spec.num_outputs)

        def forward(self, x, lengths=None):  # (B, F, T) features
            return self.fc(x.mean(-1))

    TEXT_MODELS.register(ModelEntry("bigram", "Bigram (test)", Bigram))
    SPEECH.register(ModelEntry("kw_pool", "Mean pool (test)", Pool,
                               extra={"task": "keywords", "features": "logmel"}))
    try:
        lm = build_model(TextTrainConfig(model="bigram", block_size=8), 30)
        assert lm.block_size == 8 and lm(torch.zeros(2, 8, dtype=torch.long))[0].shape == (2, 8, 30)
        kw = build_keyword_model(KeywordTrainConfig(model="kw_pool"), 4)
        assert kw.net.fc.out_features == 4 and kw.net.fc.in_features == 40  # 40 mel bands
    finally:
        TEXT_MODELS.unregister("bigram")
        SPEECH.unregister("kw_pool")


def test_image_model_registered_at_run_time_trains(tiny_image_model, tmp_path, capsys):
    from playground.cli import build_parser, main
    from playground.vision.models import build_model, model_info

    parser = build_parser()  # built before the model existed in a real session too
    model = build_model("tiny_mlp", 3, image_size=16)
    assert model[-1].out_features == 3
    info = model_info("tiny_mlp", 3, image_size=16)
    assert info["title"] == "Tiny MLP (test)" and info["parameters"] == 16 * 16 * 3 * 16 + 16 + 51
    with pytest.raises(ConfigError, match="Tiny MLP \\(test\\) has no pretrained weights"):
        build_model("tiny_mlp", 3, image_size=16, pretrained=True)
    args = parser.parse_args(["train", "image", "--data", "demo:shapes", "--model", "tiny_mlp"])
    assert args.model == "tiny_mlp"

    home = tmp_path / "home"
    code = main(["train", "image", "--data", "demo:shapes", "--model", "tiny_mlp",
                 "--image-size", "16", "--epochs", "1", "--batch-size", "32", "--max-steps", "3",
                 "--home", str(home), "--device", "cpu", "--quiet"])
    out = capsys.readouterr().out.strip().splitlines()
    assert code == 0
    run = Path(out[-1])
    assert json.loads((run / "run.json").read_text())["config"]["model"] == "tiny_mlp"
    assert (run / "checkpoints" / "last.safetensors").is_file()
