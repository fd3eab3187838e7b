"""Export of translation runs as an encoder and a decoder graph: the Transformer (a prefix
decoder) and the GRU/LSTM-attention models (a step decoder, the bidirectional encoder traced
with the padding mask of a packed sequence). Parity on validation pairs at another batch size
and lengths; predict.py translates exactly as the app does with beam width 1."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from playground.text.numbers_fr import demo_pairs
from tests.export.helpers import exported, names, run_predict, train

SENTENCES = ["two hundred", "ninety-seven", "one thousand and three"]


@pytest.fixture(scope="module")
def pairs(tmp_path_factory) -> Path:
    path = tmp_path_factory.mktemp("pairs") / "pairs.tsv"
    path.write_text("".join(f"{a}\t{b}\n" for a, b in demo_pairs()[:3000:12]),
                    encoding="utf-8")
    return path


def _train(pairs: Path, home: Path, *options: str) -> Path:
    return train(["translate", "--pairs", str(pairs), "--epochs", "1", "--batch-size", "16",
                  "--val-sentences", "5", "--samples", "1", "--max-len", "40", *options], home)


def _app(run_dir: Path) -> list[str]:
    from playground.text.translate_predict import Translator

    tr = Translator.from_run(run_dir, "cpu")
    return [tr.translate(s, beam=1, attention=False).text for s in SENTENCES]


def test_transformer_encoder_and_prefix_decoder(pairs, tmp_path):
    run = _train(pairs, tmp_path / "home", "--n-layer", "1", "--n-head", "2", "--n-embd", "32",
                 "--ff-dim", "64", "--tokenizer", "bpe:200", "--no-shared-vocab",
                 "--name", "tr")
    out = tmp_path / "tr"
    result = exported(run, "onnx", out)
    assert names(result) == {"encoder.onnx", "decoder.onnx", "model.json", "predict.py",
                             "source_tokenizer.model", "target_tokenizer.model"}
    p = result["parity"]
    assert "validation pairs of pairs.tsv" in p["source"]
    assert set(p["per_output"]) == {"encoder memory", "encoder src_pad", "decoder logits"}
    meta = json.loads((out / "model.json").read_text())
    assert meta["decoder"] == "prefix" and meta["files"] == {"encoder": "encoder.onnx",
                                                             "decoder": "decoder.onnx"}
    assert run_predict(out, SENTENCES, tmp_path) == _app(run)
    pt2 = exported(run, "pt2", tmp_path / "pt2")
    assert {"encoder.pt2", "decoder.pt2"} <= names(pt2)


@pytest.mark.parametrize("model", ["gru-attention", "lstm-attention"])
def test_recurrent_encoder_and_step_decoder(pairs, tmp_path, model):
    tokenizer = "char" if model == "gru-attention" else "bpe:200"  # and a shared vocabulary
    run = _train(pairs, tmp_path / "home", "--model", model, "--n-embd", "16",
                 "--rnn-hidden", "16", "--rnn-layers", "1", "--tokenizer", tokenizer,
                 *([] if tokenizer == "char" else ["--shared-vocab"]), "--name", model)
    out = tmp_path / model
    result = exported(run, "onnx", out)
    extra = set() if tokenizer == "char" else {"tokenizer.model"}
    assert names(result) == {"encoder.onnx", "decoder.onnx", "model.json", "predict.py"} | extra
    meta = json.loads((out / "model.json").read_text())
    assert meta["decoder"] == "step"
    assert meta["outputs"]["decoder"][1:] == (["h_out", "c_out"] if model == "lstm-attention"
                                              else ["h_out"])
    assert run_predict(out, SENTENCES, tmp_path) == _app(run)
