"""Export of text-generation runs: a GPT with a character tokenizer and an LSTM with a
SentencePiece one. Parity on the run's validation text at another batch size and length; the
generated predict.py continues a prompt exactly as the app does at temperature 0."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

import playground.text.gpt
from tests.export.helpers import exported, names, run_predict, train

COMMON = ["--block-size", "16", "--batch-size", "8", "--max-iters", "20", "--eval-interval",
          "10", "--eval-iters", "2", "--sample-tokens", "4", "--learning-rate", "1e-2"]


@pytest.fixture(scope="module")
def corpus(tmp_path_factory) -> Path:
    path = tmp_path_factory.mktemp("corpus") / "corpus.txt"
    text = " ".join(Path(playground.text.gpt.__file__).read_text(encoding="utf-8").split())
    path.write_text(text * 2, encoding="utf-8")
    return path


@pytest.fixture(scope="module")
def gpt_run(tmp_path_factory, corpus):
    return train(["text", "--corpus", str(corpus), "--model", "gpt", "--tokenizer", "char",
                  "--n-layer", "1", "--n-head", "2", "--n-embd", "32", "--name", "gpt",
                  *COMMON], tmp_path_factory.mktemp("home"))


@pytest.fixture(scope="module")
def lstm_run(tmp_path_factory, corpus):
    return train(["text", "--corpus", str(corpus), "--model", "lstm", "--tokenizer", "bpe:120",
                  "--n-embd", "16", "--lstm-hidden", "24", "--lstm-layers", "1",
                  "--name", "lstm", *COMMON], tmp_path_factory.mktemp("home"))


def _app_greedy(run_dir: Path, prompt: str, n: int) -> str:
    from playground.text.generate import TextGenerator

    return prompt + TextGenerator.from_run(run_dir, "cpu").generate(prompt, n, temperature=0)


def test_gpt_onnx_and_its_predict_py_continue_like_the_app(gpt_run, tmp_path):
    out = tmp_path / "gpt"
    result = exported(gpt_run, "onnx", out)
    p = result["parity"]
    assert "validation text of corpus.txt" in p["source"]
    assert p["seq_len"] == 16 and p["traced_seq_len"] == 8  # up to the block size
    assert names(result) == {"model.onnx", "model.json", "predict.py"}
    meta = json.loads((out / "model.json").read_text())
    assert meta["tokenizer"]["kind"] == "char" and meta["block_size"] == 16
    # 30 tokens: past the 16-token block, so the context is cropped as in the app
    lines = run_predict(out, ["The model", "--tokens", "30"], tmp_path)
    assert lines == _app_greedy(gpt_run, "The model", 30).splitlines()


def test_gpt_pt2(gpt_run, tmp_path):
    result = exported(gpt_run, "pt2", tmp_path / "pt2")
    assert names(result) == {"model.pt2", "model.json"}


def test_lstm_onnx_carries_its_state_like_the_app(lstm_run, tmp_path):
    out = tmp_path / "lstm"
    result = exported(lstm_run, "onnx", out)
    assert names(result) == {"model.onnx", "model.json", "predict.py", "tokenizer.model"}
    assert result["parity"]["per_output"].keys() == {"logits", "h", "c"}
    meta = json.loads((out / "model.json").read_text())
    assert meta["recurrent"] and meta["tokenizer"]["file"] == "tokenizer.model"
    lines = run_predict(out, ["The model", "--tokens", "25"], tmp_path)
    assert lines == _app_greedy(lstm_run, "The model", 25).splitlines()
