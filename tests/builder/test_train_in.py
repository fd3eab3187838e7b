""""Train in …": a Builder graph trains in the image, keyword-speech and text tasks as a registry
model; its run keeps graph.json, so resume (in a fresh process), fork, predict and ONNX export
work as for built-in models; a graph that does not fit the data is one sentence naming the
block to change."""

from __future__ import annotations

import contextlib
import io
import json
import os
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest
import torch

from playground.builder import templates
from playground.builder.errors import GraphError
from playground.builder.graph import Graph
from playground.builder.registry import (
    ensure_registered,
    model_entry,
    register_graph,
    task_registry,
)
from playground.cli import main
from playground.core import events as ev
from playground.core import logs
from playground.core.errors import ConfigError, RunError
from playground.core.jobs import CollectingContext, run_job
from playground.core.registry import ModelSpec
from playground.core.runs import open_run

ROOT = Path(__file__).resolve().parents[2]


@pytest.fixture(autouse=True)
def _no_leftover_logging():
    yield
    logs.reset()


def cli(argv: list[str], home: Path | None) -> tuple[int, str, str]:
    out, err = io.StringIO(), io.StringIO()
    with contextlib.redirect_stdout(out), contextlib.redirect_stderr(err):
        rc = main([*argv, *(["--home", str(home)] if home else [])])
    return rc, out.getvalue(), err.getvalue()


def one_error(err: str) -> str:
    errors = [line for line in err.splitlines() if line.startswith("error:")]
    assert len(errors) == 1 and "Traceback" not in err, err
    return errors[0]


def forget(task: str, name: str) -> None:
    """Clear a registered graph (and the loaded models), as a fresh process would have it."""
    from playground.core.loader import MODELS

    registry = task_registry(task)
    if name in registry:
        registry.unregister(name)
    MODELS.clear()


@pytest.fixture(scope="module")
def lenet_run(tmp_path_factory) -> tuple[Path, Path]:
    """LeNet-5 (a 1-channel template) trained one epoch on the digits demo through the CLI."""
    home = tmp_path_factory.mktemp("home")
    torch.set_num_threads(1)
    rc, out, err = cli(["train", "image", "--data", "demo:digits", "--graph", "template:lenet5",
                        "--epochs", "1", "--batch-size", "64", "--learning-rate", "3e-3",
                        "--device", "cpu", "--quiet", "--name", "lenet"], home)
    assert rc == 0, err
    return Path(out.strip().splitlines()[-1]), home


def test_lenet5_trains_on_digits_from_the_cli_and_its_run_keeps_the_graph(lenet_run):
    run_dir, _ = lenet_run
    info = open_run(run_dir).info()
    assert info["model"] == "graph:lenet5" and info["config"]["image_size"] == 28
    assert info["result"]["val_accuracy"] > 0.3          # 10 classes: chance is 0.1
    saved = Graph.load(run_dir / "graph.json")           # the versioned JSON, nothing pickled
    assert saved.to_dict()["nodes"] == templates.build("lenet5").to_dict()["nodes"]
    assert saved.weights is None


def test_the_engine_api_trains_a_registered_graph(tmp_path):
    from playground.vision.train import ImageTrainConfig, make_train_job

    entry = register_graph(templates.build("lenet5"), "image", name="lenet_api")
    assert entry.name == "graph:lenet_api" and entry.extra["builder"]
    again = register_graph(templates.build("lenet5"), "image", name="lenet_api")  # replaces
    assert task_registry("image").get("graph:lenet_api") is again
    cfg = ImageTrainConfig(model=entry.name, image_size=28, batch_size=64, epochs=1,
                           learning_rate=3e-3, seed=0)
    event = run_job(make_train_job(cfg, "demo:digits", home=tmp_path, max_steps=40),
                    CollectingContext())
    assert isinstance(event, ev.Finished), getattr(event, "message", event)
    assert event.result["val_accuracy"] > 0.2
    assert (Path(event.result["run_dir"]) / "graph.json").is_file()


def test_resume_in_a_fresh_process_rebuilds_the_graph_from_the_run_folder(lenet_run):
    run_dir, home = lenet_run
    env = {**os.environ, "PLAYGROUND_HOME": str(home), "PYTHONPATH": str(ROOT)}
    proc = subprocess.run([sys.executable, "-m", "playground", "resume", str(run_dir),
                           "--epochs", "2", "--threads", "1", "--device", "cpu", "--quiet"],
                          cwd=ROOT, env=env, capture_output=True, text=True, timeout=120)
    assert proc.returncode == 0, proc.stderr
    assert proc.stdout.strip().splitlines()[-1] == str(run_dir)
    info = open_run(run_dir).info()
    assert info["status"] == "finished" and info["result"]["epochs_done"] == 2


def test_predict_and_fork_after_the_entry_is_gone(lenet_run, tmp_path):
    from playground.vision.predict import ImagePredictor
    from playground.vision.train import ImageTrainConfig, make_train_job

    run_dir, home = lenet_run
    forget("image", "graph:lenet5")
    digit = np.zeros((28, 28, 3), np.uint8)
    digit[4:24, 12:16] = 255                              # a one, more or less
    top = ImagePredictor.from_run(run_dir).predict(digit, top_k=3)[0]
    assert len(top) == 3 and abs(sum(p for _, p in top)) <= 1.0 + 1e-6
    assert "graph:lenet5" in task_registry("image")       # registered again from the folder

    forget("image", "graph:lenet5")                       # fork from the CLI: --graph RUN_DIR
    rc, out, err = cli(["train", "image", "--data", "demo:digits", "--graph", str(run_dir),
                        "--init-from", str(run_dir), "--epochs", "1", "--max-steps", "3",
                        "--device", "cpu", "--quiet", "--threads", "1"], home)
    assert rc == 0, err
    child = open_run(out.strip().splitlines()[-1]).info()
    assert child["model"] == "graph:lenet5" and child["parent"]["run"] == str(run_dir)
    assert child["parent"]["new"] == []                   # every layer came from the parent

    forget("image", "graph:lenet5")                       # fork from the API (the tab's way)
    cfg = ImageTrainConfig(model="graph:lenet5", image_size=28, batch_size=64, epochs=1)
    event = run_job(make_train_job(cfg, "demo:digits", home=tmp_path, max_steps=2,
                                   init_from=f"{run_dir}:last"), CollectingContext())
    assert isinstance(event, ev.Finished), getattr(event, "message", event)


def test_onnx_export_of_a_graph_run_passes_parity(lenet_run, tmp_path):
    pytest.importorskip("onnxruntime")
    from tests.export.helpers import exported

    run_dir, _ = lenet_run
    forget("image", "graph:lenet5")
    result = exported(run_dir, "onnx", tmp_path / "onnx")
    assert result["model"] == "graph:lenet5" and result["parity"]["top1_agreement"] == 1.0


def test_a_run_without_its_graph_json_is_refused_in_one_sentence(lenet_run, tmp_path):
    import shutil

    run_dir, _ = lenet_run
    copy = tmp_path / run_dir.name
    shutil.copytree(run_dir, copy)
    (copy / "graph.json").unlink()
    forget("image", "graph:lenet5")
    with pytest.raises(RunError, match="has no graph.json, so its network cannot be rebuilt"):
        open_run(copy)
    rc, out, err = cli(["runs", "show", str(copy)], None)   # still shown, and deletable
    assert rc == 0 and json.loads(out)["model"] == "graph:lenet5", err
    assert "graph:lenet5" not in task_registry("image")
    from playground.core.runs import import_run

    with pytest.raises(RunError, match="has no graph.json"):
        import_run(copy, tmp_path / "other-home")
    (copy / "graph.json").write_text('{"format": "model-playground/graph", "version": 99}')
    with pytest.raises(RunError, match="newer Model Playground"):
        ensure_registered(copy)


# ------------------------------------------------------------------------------------------
# Misfits: one sentence naming the block and the fix
# ------------------------------------------------------------------------------------------
def test_image_misfits_name_the_block(tmp_path):
    rc, _, err = cli(["train", "image", "--data", "demo:shapes", "--graph", "template:lenet5",
                      "--epochs", "1", "--device", "cpu", "--quiet"], tmp_path)
    assert rc != 0
    assert one_error(err) == ("error: The graph 'lenet5' ends in 10 outputs but the data has 5 "
                              "classes: set out_features of 'fc3' to 5.")
    path = templates.build("lenet5").save(tmp_path / "lenet.json")
    rc, _, err = cli(["train", "image", "--data", "demo:shapes", "--graph", str(path),
                      "--model", "small_cnn"], tmp_path)
    assert rc != 0 and "--graph and --model small_cnn both name" in one_error(err)

    wide = templates.build("lenet5")
    wide.set_param("input", "shape", (2, 28, 28))
    wide.set_param("conv1", "in_channels", 2)
    with pytest.raises(ConfigError, match="takes 2x28x28 inputs at its Input 'input', but the "
                                          "image tab gives C,H,W pictures: set the shape of "
                                          "'input' to 3,28,28 \\(colour\\) or 1,28,28"):
        model_entry(wide).factory(ModelSpec("image", 10, 3, 28))
    flat = Graph("flat")
    flat.add("Input", "input", shape=(3, 8, 8))
    flat.add("Conv2d", "conv", in_channels=3, out_channels=4, kernel_size=3)
    flat.connect("input", "conv")
    with pytest.raises(ConfigError, match="ends in 4x6x6 outputs, but a classifier must end in "
                                          "one score for each of its 4 classes: add a Flatten"):
        model_entry(flat).factory(ModelSpec("image", 4, 3, 8))


def _text_graph(vocab: int = 65, block: int = 16, causal: bool = True,
                embed: bool = True) -> Graph:
    g = Graph("bigram")
    g.add("Input", "input", shape=(block,), dtype="int64", vocab_size=vocab)
    last = "input"
    if embed:
        g.add("Embedding", "embed", num_embeddings=vocab, embedding_dim=32)
        g.connect("input", "embed")
        last = "embed"
    g.add("MultiheadAttention", "attn", embed_dim=32, num_heads=2, causal=causal)
    g.connect(last, "attn")
    g.add("Linear", "head", in_features=32, out_features=vocab)
    g.connect("attn", "head")
    return g


def test_text_misfits_name_the_block():
    spec = ModelSpec("text", 65, 65, 16)
    with pytest.raises(ConfigError, match="set num_embeddings of 'embed' to 65"):
        model_entry(_text_graph(vocab=80), task="text").factory(spec)
    no_embed = Graph("no_embed")
    no_embed.add("Input", "input", shape=(16,), dtype="int64", vocab_size=65)
    no_embed.add("Linear", "head", in_features=16, out_features=65)
    no_embed.connect("input", "head")
    with pytest.raises(GraphError, match="Linear 'head' gets token ids \\(whole numbers\\) "
                                         "from 'input': put an Embedding block before it"):
        model_entry(no_embed, task="text")
    image = templates.build("lenet5")
    with pytest.raises(ConfigError, match="the text tab gives token ids: set the shape of "
                                          "'input' to 16 and its dtype to int64"):
        model_entry(image, task="text").factory(spec)
    wrong_head = _text_graph()
    wrong_head.set_param("head", "out_features", 10)
    with pytest.raises(ConfigError, match="set out_features of 'head' to 65"):
        model_entry(wrong_head, task="text").factory(spec)
    with pytest.raises(ConfigError, match="a position sees the tokens after it"):
        model_entry(_text_graph(causal=False), task="text").factory(spec)
    model = model_entry(_text_graph(), task="text").factory(spec)
    logits, loss = model(torch.randint(0, 65, (2, 16)), torch.randint(0, 65, (2, 16)))
    assert logits.shape == (2, 16, 65) and loss.ndim == 0 and model.block_size == 16


def test_keyword_misfits_say_what_to_set():
    from playground.speech.train import KeywordTrainConfig

    g = _keyword_graph(labels=3)
    spec = ModelSpec("speech", 3, 20, 101, config=KeywordTrainConfig(features="mfcc"))
    with pytest.raises(ConfigError, match="takes 40 features per frame at its Input 'input', "
                                          "but the speech tab gives 20 MFCC coefficients: set "
                                          "the shape of 'input' to 1,20,101"):
        model_entry(g, task="keywords").factory(spec)
    with pytest.raises(ConfigError, match="ends in 3 outputs but the data has 5 labels: set "
                                          "out_features of 'fc' to 5"):
        model_entry(g, task="keywords").factory(ModelSpec("speech", 5, 40, 101))
    flat = Graph("flat_kw")
    flat.add("Input", "input", shape=(40, 50))
    flat.add("Flatten", "flatten")
    flat.connect("input", "flatten")
    flat.add("Linear", "fc", in_features=2000, out_features=3)
    flat.connect("flatten", "fc")
    with pytest.raises(ConfigError, match="built for 40x50: set the Clip length to 0.49 s for "
                                          "its 50 frames, or pool over time"):
        model_entry(flat, task="keywords").factory(
            ModelSpec("speech", 3, 40, 101, config=KeywordTrainConfig()))


# ------------------------------------------------------------------------------------------
# Keyword speech and text
# ------------------------------------------------------------------------------------------
def _keyword_graph(labels: int) -> Graph:
    """A Conv2d over the log-mel spectrogram as a 1-channel image (Input 1,F,T)."""
    g = Graph("kw_graph")
    g.add("Input", "input", shape=(1, 40, 101))
    chain = [("Conv2d", "conv1", dict(in_channels=1, out_channels=8, kernel_size=3, stride=2,
                                      padding=1)),
             ("ReLU", "relu1", {}),
             ("Conv2d", "conv2", dict(in_channels=8, out_channels=16, kernel_size=3, stride=2,
                                      padding=1)),
             ("ReLU", "relu2", {}),
             ("AdaptiveAvgPool2d", "pool", dict(output_size=1)),
             ("Flatten", "flatten", {}),
             ("Linear", "fc", dict(in_features=16, out_features=labels))]
    last = "input"
    for kind, nid, params in chain:
        g.add(kind, nid, **params)
        g.connect(last, nid)
        last = nid
    return g


def test_a_keyword_graph_trains_on_the_spoken_digits(tmp_path):
    from playground.speech.predict import KeywordPredictor
    from playground.speech.synth import ASSETS_DIR
    from playground.speech.train import KeywordTrainConfig, make_keyword_job
    from tests.speech.helpers import copy_digits

    data = copy_digits(tmp_path / "digits", ("one", "two", "three"))
    entry = register_graph(_keyword_graph(3), "speech")
    assert entry.extra["task"] == "keywords"
    cfg = KeywordTrainConfig(model=entry.name, epochs=1, batch_size=16, learning_rate=1e-2,
                             noise=False, seed=0)
    event = run_job(make_keyword_job(cfg, str(data), home=tmp_path / "home"),
                    CollectingContext())
    assert isinstance(event, ev.Finished), getattr(event, "message", event)
    run_dir = Path(event.result["run_dir"])
    assert json.loads((run_dir / "graph.json").read_text())["name"] == "kw_graph"
    forget("speech", entry.name)
    clip = sorted((ASSETS_DIR / "two").iterdir())[0]
    top = KeywordPredictor.from_run(run_dir).predict([str(clip)], top_k=3)[0]
    assert sorted(label for label, _ in top) == ["one", "three", "two"]
    pytest.importorskip("onnxruntime")
    from tests.export.helpers import exported

    forget("speech", entry.name)
    assert exported(run_dir, "onnx", tmp_path / "onnx")["model"] == entry.name


def test_a_text_graph_trains_on_pydoc_and_generates(tmp_path):
    from playground.text.generate import TextGenerator
    from playground.text.train import TextTrainConfig, make_train_job

    graph = _text_graph(vocab=1, block=16)
    # the vocabulary is the tokenizer's: the first try says what to set
    entry = register_graph(graph, "text")
    cfg = TextTrainConfig(model=entry.name, block_size=16, batch_size=8, max_iters=12,
                          eval_interval=6, eval_iters=2, sample_tokens=8, learning_rate=3e-3)
    event = run_job(make_train_job(cfg, "demo:pydoc", home=tmp_path), CollectingContext())
    assert isinstance(event, ev.Failed)
    vocab = int(event.message.split("tokenizer has ")[1].split()[0])
    assert f"set num_embeddings of 'embed' to {vocab}." in event.message
    fixed = _text_graph(vocab=vocab, block=16)
    register_graph(fixed, "text")
    event = run_job(make_train_job(cfg, "demo:pydoc", home=tmp_path), CollectingContext())
    assert isinstance(event, ev.Finished), getattr(event, "message", event)
    result = event.result
    assert result["final_val_loss"] < np.log(vocab)       # below a uniform guess
    forget("text", entry.name)
    text = TextGenerator.from_run(result["run_dir"]).generate("def ", 10, seed=0)
    assert len(text) > 0
    pytest.importorskip("onnxruntime")
    from tests.export.helpers import exported

    forget("text", entry.name)
    assert exported(Path(result["run_dir"]), "pt2", tmp_path / "pt2")["model"] == entry.name


# ------------------------------------------------------------------------------------------
# Launch: the graph travels with the launch folder
# ------------------------------------------------------------------------------------------
def test_a_graph_run_launches_under_torchrun_and_comes_back(lenet_run, tmp_path):
    import shutil

    from playground.core.runconfig import load_source
    from playground.core.runs import import_run
    from playground.vision.predict import ImagePredictor

    run_dir, _ = lenet_run
    forget("image", "graph:lenet5")
    folder = tmp_path / "launch"
    rc, out, err = cli(["launch", str(run_dir), "--gpus", "2", "--out", str(folder)], None)
    assert rc == 0, err
    assert "--graph graph.json" in out and "--model" not in out
    assert Graph.load(folder / "graph.json").name == "lenet5"
    assert '--graph "$HERE"/graph.json' in (folder / "launch.sh").read_text()
    assert load_source(folder / "config.json").graph is not None  # a run config reads back
    forget("image", "graph:lenet5")
    remote = tmp_path / "machine" / "launch"
    shutil.copytree(folder, remote)
    env = {k: v for k, v in os.environ.items() if not k.startswith("PLAYGROUND_")}
    env.update(PATH=f"{Path(sys.executable).parent}{os.pathsep}{env.get('PATH', '')}",
               OMP_NUM_THREADS="1", PYTHONUNBUFFERED="1", PYTHONPATH=str(ROOT))
    proc = subprocess.run(["bash", str(remote / "launch.sh"), "--device", "cpu", "--quiet",
                           "--epochs", "1", "--max-steps", "4"],
                          env=env, capture_output=True, text=True, timeout=300)
    assert proc.returncode == 0, proc.stderr[-3000:]
    trained = Path(proc.stdout.splitlines()[-1])
    info = json.loads((trained / "run.json").read_text())
    assert info["model"] == "graph:lenet5" and info["world_size"] == 2
    assert (trained / "graph.json").is_file()
    copy = import_run(trained, tmp_path / "here")
    forget("image", "graph:lenet5")
    top = ImagePredictor.from_run(copy.path).predict(np.zeros((28, 28, 3), np.uint8), 2)[0]
    assert len(top) == 2


def test_a_run_config_carries_its_graph_and_a_missing_one_is_named(tmp_path):
    from playground.core import launch

    doc = templates.build("lenet5").to_dict()
    good = tmp_path / "good.json"
    good.write_text(json.dumps({"task": "image", "model": "graph:lenet_rc", "graph": doc,
                                "config": {"image_size": 28}, "data": "demo:digits"}))
    plan = launch.plan_launch(good, 2)
    assert plan.run.graph["nodes"] == doc["nodes"]
    assert "--graph graph.json" in launch.command_text(plan)
    bad = tmp_path / "bad.json"
    bad.write_text(json.dumps({"task": "image", "model": "graph:nothing_here", "config": {},
                               "data": "demo:digits"}))
    with pytest.raises(ConfigError, match="graph:nothing_here is a Builder graph whose network "
                                          "this app does not know"):
        launch.plan_launch(bad, 2)
    bad.write_text(json.dumps({"task": "image", "model": "graph:x", "graph": {"nodes": 3},
                               "config": {}, "data": "demo:digits"}))
    with pytest.raises(ConfigError, match="is not a Model Playground graph"):
        launch.plan_launch(bad, 2)
