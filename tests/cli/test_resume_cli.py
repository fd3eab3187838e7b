"""``playground resume`` and ``--init-from`` / ``--freeze`` on the train commands."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from playground.cli import main

TEXT = "to be or not to be, that is the question.\nwhether tis nobler in the mind.\n" * 60
TINY_GPT = ["--tokenizer", "char", "--n-layer", "1", "--n-head", "2", "--n-embd", "32",
            "--block-size", "16", "--batch-size", "8", "--eval-iters", "2",
            "--sample-tokens", "0", "--device", "cpu", "--quiet"]

pytestmark = pytest.mark.usefixtures("one_thread")


def _last_line(out: str) -> Path:
    return Path(out.strip().splitlines()[-1])


def test_resume_a_text_run_further_and_fork_it(tmp_path, capsys):
    corpus = tmp_path / "corpus.txt"
    corpus.write_text(TEXT, encoding="utf-8")
    assert main(["train", "text", "--corpus", str(corpus), "--max-iters", "10",
                 "--eval-interval", "5", *TINY_GPT]) == 0
    run_dir = _last_line(capsys.readouterr().out)
    rc = main(["resume", str(run_dir), "--max-iters", "20"])
    out, err = capsys.readouterr()
    assert rc == 0, err
    assert _last_line(out) == run_dir and "resumed at step 10" in err
    assert any(line.startswith("final val loss: ") for line in out.splitlines())
    info = json.loads((run_dir / "run.json").read_text())
    assert info["status"] == "finished" and info["result"]["steps"] == 20
    rows = [json.loads(x) for x in (run_dir / "metrics.jsonl").read_text().splitlines()]
    assert [r["step"] for r in rows if "val_loss" in r] == [0, 5, 10, 15, 20]

    # the wrong kind of total, and a total below what was trained: one sentence each
    assert main(["resume", str(run_dir), "--epochs", "3"]) == 1
    assert "use --max-iters" in capsys.readouterr().err
    assert main(["resume", str(run_dir), "--max-iters", "5"]) == 1
    err = capsys.readouterr().err
    assert "already trained 20 iterations" in err and "Traceback" not in err

    # fine-tune from it on another text with its tokenizer (every layer is reused, so
    # --freeze would leave nothing to train and is refused with a sentence)
    other = tmp_path / "other.txt"
    other.write_text("to be or not to be. the question is nobler.\n" * 60, encoding="utf-8")
    rc = main(["train", "text", "--corpus", str(other), "--max-iters", "4",
               "--eval-interval", "4", "--init-from", f"{run_dir}:last", *TINY_GPT])
    out, err = capsys.readouterr()
    assert rc == 0, err
    child = json.loads((_last_line(out) / "run.json").read_text())
    assert child["parent"]["run"] == str(run_dir) and child["parent"]["checkpoint"] == "last"
    assert child["parent"]["new"] == [] and child["parent"]["reused"] > 0


def test_freeze_needs_init_from_and_missing_runs_are_one_line(tmp_path, capsys):
    assert main(["train", "image", "--data", "demo:shapes", "--freeze"]) == 1
    assert "--freeze needs --init-from" in capsys.readouterr().err
    assert main(["resume", str(tmp_path / "nope")]) == 1
    err = capsys.readouterr().err
    assert "does not exist" in err and "Traceback" not in err


def test_resume_an_image_run_for_more_epochs(tmp_path, capsys):
    args = ["train", "image", "--data", "demo:shapes", "--image-size", "16", "--epochs", "1",
            "--batch-size", "128", "--device", "cpu", "--quiet"]
    assert main(args) == 0
    run_dir = _last_line(capsys.readouterr().out)
    assert main(["resume", str(run_dir), "--epochs", "2", "--quiet"]) == 0
    out = capsys.readouterr().out
    assert _last_line(out) == run_dir and "epochs: 2" in out
    info = json.loads((run_dir / "run.json").read_text())
    assert info["config"]["epochs"] == 2 and info["result"]["epochs_done"] == 2
