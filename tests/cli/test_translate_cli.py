"""``playground train translate`` and ``playground translate``, run in-process."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from playground.cli import main
from playground.text.numbers_fr import demo_pairs


@pytest.fixture(autouse=True)
def _one_thread(one_thread):
    yield


@pytest.fixture(scope="module")
def trained(tmp_path_factory):
    """One tiny run shared by the tests below (trained through the CLI)."""
    import os

    import torch

    before = torch.get_num_threads()
    torch.set_num_threads(1)
    folder = tmp_path_factory.mktemp("translate-cli")
    pairs = folder / "pairs.tsv"
    pairs.write_text("".join(f"{a}\t{b}\n" for a, b in demo_pairs()[:3000:12]),
                     encoding="utf-8")
    old = os.environ.get("PLAYGROUND_HOME")
    try:
        argv = ["train", "translate", "--pairs", str(pairs), "--n-layer", "1", "--n-head", "2",
                "--n-embd", "32", "--ff-dim", "64", "--epochs", "4", "--batch-size", "16",
                "--learning-rate", "5e-3", "--tokenizer", "bpe:300", "--val-sentences", "10",
                "--samples", "1", "--max-len", "48", "--no-shared-vocab", "--name", "cli",
                "--device", "cpu", "--quiet", "--home", str(folder / "home")]
        import contextlib
        import io

        out, err = io.StringIO(), io.StringIO()
        with contextlib.redirect_stdout(out), contextlib.redirect_stderr(err):
            rc = main(argv)
    finally:
        torch.set_num_threads(before)
        if old is None:
            os.environ.pop("PLAYGROUND_HOME", None)
        else:
            os.environ["PLAYGROUND_HOME"] = old
    assert rc == 0, err.getvalue()
    return out.getvalue(), folder


def test_train_prints_bleu_then_the_run_folder(trained):
    out, _ = trained
    lines = out.strip().splitlines()
    run_dir = Path(lines[-1])
    assert run_dir.is_dir() and run_dir.name.endswith("-cli")
    assert any(line.startswith("val BLEU: ") for line in lines)
    assert any(line.startswith("BLEU signature: nrefs:1|") for line in lines)
    config = json.loads((run_dir / "run.json").read_text())["config"]
    assert config["n_embd"] == 32 and config["shared_vocab"] is False
    assert (run_dir / "source_tokenizer" / "tokenizer.model").is_file()


def _run_dir(trained) -> str:
    return trained[0].strip().splitlines()[-1]


def test_translate_prints_the_translation_last(trained, capsys):
    rc = main(["translate", "--run", _run_dir(trained), "two hundred", "--beam", "3",
               "--device", "cpu"])
    out, err = capsys.readouterr()
    assert rc == 0, err
    assert out.endswith("\n") and len(out.splitlines()) == 1  # the translation, alone
    rc = main(["translate", "--run", _run_dir(trained), "two hundred", "--beam", "3",
               "--nbest", "2", "--json", "--quiet"])
    out, err = capsys.readouterr()
    data = json.loads(out)
    assert rc == 0 and len(data["nbest"]) == 2
    assert data["nbest"][0]["score"] >= data["nbest"][1]["score"]


def test_input_file_keeps_order_and_count_with_an_empty_line(trained, tmp_path, capsys):
    lines = ["one hundred", "", "two hundred and five", "seven", "", "three thousand"]
    src = tmp_path / "in.txt"
    src.write_text("\n".join(lines) + "\n", encoding="utf-8")
    rc = main(["translate", "--run", _run_dir(trained), "--input", str(src), "--beam", "2",
               "--quiet"])
    out, err = capsys.readouterr()
    assert rc == 0, err
    got = out.split("\n")
    assert got[-1] == "" and len(got) - 1 == len(lines)
    assert got[1] == "" and got[4] == ""
    # each line alone translates the same (order kept, batching changes nothing)
    for i in (0, 2, 3, 5):
        main(["translate", "--run", _run_dir(trained), lines[i], "--beam", "2", "--quiet"])
        alone, _ = capsys.readouterr()
        assert alone.strip() == got[i]
    rc = main(["translate", "--run", _run_dir(trained), "--input", str(src), "--json",
               "--quiet"])
    out, _ = capsys.readouterr()
    rows = [json.loads(x) for x in out.splitlines()]
    assert len(rows) == len(lines) and rows[1]["text"] == ""


def test_unknown_characters_and_bad_input_are_one_error_line(trained, tmp_path, capsys):
    rc = main(["translate", "--run", _run_dir(trained), "two ßß hundred", "--quiet"])
    out, err = capsys.readouterr()
    assert rc == 0 and "never saw 1 character" in err and "'ß'" in err
    bad = tmp_path / "bad.txt"
    bad.write_bytes(b"one\ntwo\nthr\xe9e\n")
    rc = main(["translate", "--run", _run_dir(trained), "--input", str(bad)])
    out, err = capsys.readouterr()
    assert rc == 1 and out == ""
    assert err.startswith("error: ") and "line 3" in err
    rc = main(["translate", "--run", _run_dir(trained), "x", "--beam", "2", "--nbest", "3"])
    out, err = capsys.readouterr()
    assert rc == 1 and "--beam 3" in err
    nodata = tmp_path / "notabs.tsv"
    nodata.write_text("just words\nmore words\n", encoding="utf-8")
    rc = main(["train", "translate", "--pairs", str(nodata), "--quiet", "--device", "cpu"])
    out, err = capsys.readouterr()
    assert rc == 1 and err.startswith("error: ") and "tab" in err
