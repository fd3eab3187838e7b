"""Issue 9, class 2: every file read from a run folder is validated, with a message naming the
file and the field; a listing survives any number of damaged runs. Fixtures: a few bytes each."""

from __future__ import annotations

import json

import pytest

from playground.core import validate
from playground.core.errors import RunError
from playground.core.runs import RunStore, open_run


def _run(name="ok", task="image", **extra):
    return RunStore().create(task, name, model="small_cnn", config={}, extra=extra)


@pytest.mark.parametrize(("text", "message"), [
    ('[1, 2]', "run.json should hold an object, got a list"),
    ('"hello"', "run.json should hold an object, got a string"),
    ('{"task": "ima', "run.json is not valid JSON"),
    ('{"task": 3}', "run.json: field 'task' should be a string, got an integer"),
    ('{"model": "m"}', "run.json: field 'task' is missing"),
    ('{"task": "image", "result": {"best_val_accuracy": "high"}}',
     "run.json: field 'result.best_val_accuracy' should be a number, got a string"),
    ('{"task": "image", "result": [0.5]}', "run.json: field 'result' should be an object"),
    ('{"task": "image", "config": "lr=1"}', "run.json: field 'config' should be an object"),
    ('{"task": "image", "pid": "12"}', "run.json: field 'pid' should be an integer"),
    ('{"task": "image", "status": 1}', "run.json: field 'status' should be a string"),
])
def test_damaged_run_json_names_file_and_field(text, message):
    run = _run()
    (run.path / "run.json").write_text(text, encoding="utf-8")
    with pytest.raises(RunError) as err:
        open_run(run.path)
    assert message in str(err.value)


def test_run_json_binary_and_folder():
    run = _run()
    (run.path / "run.json").write_bytes(b"\xff\xfe\x00{")
    with pytest.raises(RunError, match="run.json is not UTF-8"):
        run.info()
    (run.path / "run.json").unlink()
    (run.path / "run.json").mkdir()
    with pytest.raises(RunError, match="run.json is a folder"):
        run.info()


def test_valid_run_json_passes_including_nan_and_nulls():
    run = _run()
    run.update(result={"best_val_accuracy": None, "best_val_loss": float("nan"), "steps": 3},
               pid=None, parent={"run": "x", "checkpoint": "best"})
    assert run.info()["result"]["steps"] == 3


@pytest.mark.parametrize(("text", "message"), [
    ("not json", "labels.json is not valid JSON"),
    ('{"a": 1}', "labels.json should hold a list of class names, got an object"),
    ('["cat", 3]', "labels.json: item 1 should be a string, got an integer"),
    ('["cat"]', "labels.json should list at least 2 class names"),
])
def test_damaged_class_labels(text, message):
    run = _run()
    (run.path / "labels.json").write_text(text, encoding="utf-8")
    with pytest.raises(RunError) as err:
        run.class_labels()
    assert message in str(err.value)


def test_ctc_labels_validation():
    assert validate.validate_ctc_labels({"vocab": ["_", "a"], "blank": 0})["vocab"] == ["_", "a"]
    with pytest.raises(RunError, match="field 'vocab' should be a list, got a string"):
        validate.validate_ctc_labels({"vocab": "ab"})
    with pytest.raises(RunError, match=r"field 'vocab\[1\]' should be a string, got an integer"):
        validate.validate_ctc_labels({"vocab": ["_", 1]})
    with pytest.raises(RunError, match="field 'vocab' is missing"):
        validate.validate_ctc_labels({"symbols": []})
    with pytest.raises(RunError, match="should hold an object, got a list"):
        validate.validate_ctc_labels(["_", "a"])


@pytest.mark.parametrize(("data", "message"), [
    ({"type": "char", "chars": 5}, "tokenizer.json: field 'chars' should be a list or a string"),
    ({"type": "char", "chars": ["a", 7]}, "tokenizer.json: field 'chars[1]' should be a string"),
    ({"type": "char"}, "tokenizer.json: field 'chars' is missing"),
    ({"type": "char", "chars": ["ab", "c"]}, "tokenizer.json: field 'chars' is not a usable"),
    (["a", "b"], "tokenizer.json should hold an object, got a list"),
])
def test_damaged_tokenizer_json(tmp_path, data, message):
    from playground.text.tokenizers import load_tokenizer

    (tmp_path / "tokenizer.json").write_text(json.dumps(data), encoding="utf-8")
    with pytest.raises(RunError) as err:
        load_tokenizer(tmp_path)
    assert message in str(err.value)


def test_metrics_rows_with_wrong_types_are_skipped_and_described():
    run = _run()
    lines = ['{"step": 1, "val_loss": 2.0}', '{"step": 2, "val_loss": "low"}', "[1, 2]",
             '{"step": 3, "val_loss": 1.5, "note": "ok", "flag": true}', '{"step": 4, "val_',
             '{"step": 5, "extra": {"a": 1}}', ""]
    (run.path / "metrics.jsonl").write_text("\n".join(lines), encoding="utf-8")
    rows, problems = run.read_metrics()
    assert [r["step"] for r in rows] == [1, 3]
    assert run.metrics() == rows
    assert problems == [
        "metrics.jsonl: line 2: field 'val_loss' should be a number, got a string",
        "metrics.jsonl: line 3: should be an object, got a list",
        "metrics.jsonl: line 5 is not valid JSON",
        "metrics.jsonl: line 6: field 'extra' should be a number or a string, got an object"]


def test_scan_skips_and_names_every_damaged_run():
    good = [_run(f"good{i}") for i in range(2)]
    damaged = {}
    for name, text in [("list", "[]"), ("badbest", '{"task": "image", "result": '
                                                  '{"best_val_accuracy": "x"}}'),
                       ("notjson", "{{"), ("empty", "")]:
        run = _run(name)
        (run.path / "run.json").write_text(text, encoding="utf-8")
        damaged[run.path] = text
    runs, problems = RunStore().scan()
    assert {r.path for r in runs} == {r.path for r in good}
    assert {p.path for p in problems} == set(damaged)
    assert all("run.json" in p.message for p in problems)
    assert str(problems[0]).startswith(str(problems[0].path) + ": run.json")
    # list() still returns every folder; the image task filter works on scan
    assert len(RunStore().list()) == 6
    assert RunStore().scan("text") == ([], [])


def test_cli_runs_list_survives_damaged_runs(capsys):
    from playground.cli import main

    ok = _run("fine")
    ok.update(result={"best_val_accuracy": 0.75}, status="finished")
    bad = _run("bad")
    (bad.path / "run.json").write_text('{"task": "image", "result": {"best_val_accuracy": "a"}}',
                                       encoding="utf-8")
    listed = _run("list")
    (listed.path / "run.json").write_text("[1]", encoding="utf-8")
    assert main(["runs", "list"]) == 0
    out, err = capsys.readouterr()
    assert str(ok.path) in out and "best=0.7500" in out and str(bad.path) not in out
    assert f"skipped a damaged run: {bad.path}: run.json: field 'result.best_val_accuracy' " \
           "should be a number, got a string" in err
    assert str(listed.path) in err

