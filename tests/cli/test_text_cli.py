"""``playground train text`` and ``playground generate``, run in-process."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from playground.cli import main

TEXT = "to be or not to be, that is the question.\nwhether tis nobler in the mind.\n" * 60


@pytest.fixture(autouse=True)
def one_thread():
    import torch

    before = torch.get_num_threads()
    torch.set_num_threads(1)
    yield
    torch.set_num_threads(before)


def test_train_then_generate(tmp_path, capsys):
    corpus = tmp_path / "corpus.txt"
    corpus.write_text(TEXT, encoding="utf-8")
    rc = main(["train", "text", "--corpus", str(corpus), "--model", "gpt", "--tokenizer",
               "char", "--n-layer", "1", "--n-head", "2", "--n-embd", "32", "--block-size",
               "16", "--batch-size", "8", "--max-iters", "30", "--learning-rate", "1e-2",
               "--min-lr", "1e-3", "--warmup-iters", "3", "--eval-interval", "15",
               "--eval-iters", "3", "--sample-tokens", "10", "--no-bias", "--name", "cli",
               "--device", "cpu", "--quiet"])
    out, err = capsys.readouterr()
    assert rc == 0, err
    lines = out.strip().splitlines()
    run_dir = Path(lines[-1])
    assert run_dir.is_dir() and run_dir.name.endswith("-cli")
    assert any(line.startswith("step 30 val loss: ") for line in lines)
    assert any(line.startswith("final val loss: ") for line in lines)
    config = json.loads((run_dir / "run.json").read_text())["config"]
    assert config["n_embd"] == 32 and config["bias"] is False and config["max_iters"] == 30

    rc = main(["generate", "--run", str(run_dir), "--prompt", "to be", "--max-new-tokens",
               "25", "--temperature", "0.8", "--top-k", "5", "--top-p", "0.9", "--seed", "7",
               "--quiet"])
    out, err = capsys.readouterr()
    assert rc == 0, err
    assert out.startswith("to be") and len(out.rstrip("\n")) >= len("to be") + 10
    main(["generate", "--prompt", "to be", "--max-new-tokens", "25", "--temperature",
          "0.8", "--top-k", "5", "--top-p", "0.9", "--seed", "7", "--quiet"])
    again, _ = capsys.readouterr()
    assert again == out  # same seed, newest run by default: same text

    rc = main(["generate", "--run", str(run_dir), "--prompt", "Xyz"])
    out, err = capsys.readouterr()
    assert rc == 1 and out == ""
    assert "'X'" in err


def test_generate_without_any_run(capsys):
    rc = main(["generate", "--prompt", "hello"])
    _, err = capsys.readouterr()
    assert rc == 1 and "no text run to generate with yet" in err


def test_train_reports_bad_corpus(tmp_path, capsys):
    empty = tmp_path / "empty.txt"
    empty.write_text("", encoding="utf-8")
    rc = main(["train", "text", "--corpus", str(empty), "--quiet", "--device", "cpu"])
    _, err = capsys.readouterr()
    assert rc == 1 and "empty.txt is empty" in err
