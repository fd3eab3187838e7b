"""Launch folders (issue 12): what ``playground launch`` writes reproduces the run.

The scripts are run for real with bash, with stand-ins for ``torchrun``, ``srun`` and
``scontrol`` on PATH that record what they were given; those arguments are parsed with the
app's own parser (``playground.cli.build_parser()``) and turned into a config the way each
``train`` command does, which must equal the run's config.
"""

from __future__ import annotations

import json
import os
import re
import shutil
import stat
import subprocess
from pathlib import Path

import pytest

from playground.cli import build_parser
from playground.core import launch, runconfig, schema
from playground.core.errors import ConfigError, RunError, StorageError
from playground.core.runs import RunStore

BASH = shutil.which("bash")
pytestmark = pytest.mark.skipif(BASH is None, reason="the launch scripts are bash scripts")

FAKE = """#!/usr/bin/env bash
# records its arguments (NUL-separated) and the environment the app would see
printf '%s\\0' "$@" > "$FAKE_OUT/{name}.args"
printf '%s' "$PLAYGROUND_HOME" > "$FAKE_OUT/{name}.home"
"""
FAKE_SRUN = """#!/usr/bin/env bash
printf '%s\\0' "$@" > "$FAKE_OUT/srun.args"
while [ $# -gt 0 ] && [ "${1#--}" != "$1" ]; do shift; done  # srun's own flags
exec "$@"
"""
FAKE_SCONTROL = """#!/usr/bin/env bash
printf 'gpu-node-7\\ngpu-node-8\\n'
"""


# --------------------------------------------------------------------------------------------
# helpers
# --------------------------------------------------------------------------------------------
def make_run(task: str, cls: type, data, *, name: str = "exp", extra: dict | None = None,
             **changes):
    """A run folder as a training job writes it (config, data_spec, the task's extras)."""
    cfg = schema.to_dict(schema.replace(cls(), **changes))
    return RunStore().create(task, name, model=cfg["model"], config=cfg,
                             extra={"data_spec": data, **(extra or {})})


def image_run(**changes):
    from playground.vision.config import ImageTrainConfig

    base = dict(epochs=3, batch_size=64, learning_rate=1e-05, augment_flip=False,
                augment_color=True, image_size=32, mixed_precision=False)
    return make_run("image", ImageTrainConfig, "demo:digits", name="digits small_cnn",
                    **{**base, **changes})


@pytest.fixture
def fakes(tmp_path):
    """A bin folder with torchrun/srun/scontrol stand-ins and the folder they record into."""
    bin_dir, out = tmp_path / "fake-bin", tmp_path / "fake-out"
    bin_dir.mkdir()
    out.mkdir()
    for name, text in (("torchrun", FAKE.format(name="torchrun")), ("srun", FAKE_SRUN),
                       ("scontrol", FAKE_SCONTROL)):
        (bin_dir / name).write_text(text)
        (bin_dir / name).chmod(0o755)
    return bin_dir, out


def run_script(folder: Path, fakes, *args: str, script: str = "launch.sh",
               env: dict | None = None, cwd: Path | None = None
               ) -> tuple[subprocess.CompletedProcess, list[str], str]:
    bin_dir, out = fakes
    for f in out.iterdir():
        f.unlink()
    environ = {k: v for k, v in os.environ.items()
               if not k.startswith(("PLAYGROUND_", "MASTER_", "NODE_RANK", "SLURM_", "RDZV"))}
    environ.update(PATH=f"{bin_dir}{os.pathsep}{environ.get('PATH', '')}", FAKE_OUT=str(out),
                   **(env or {}))
    proc = subprocess.run([BASH, str(folder / script), *args], env=environ, cwd=cwd or folder,
                          capture_output=True, text=True, timeout=60)
    argv_file = out / "torchrun.args"
    argv = argv_file.read_bytes().decode().split("\0")[:-1] if argv_file.exists() else []
    home = (out / "torchrun.home").read_text() if (out / "torchrun.home").exists() else ""
    return proc, argv, home


def torchrun_split(argv: list[str]) -> tuple[list[str], list[str]]:
    """(torchrun's own flags, the playground arguments after ``-m playground``)."""
    i = argv.index("-m")
    assert argv[i + 1] == "playground"
    return argv[:i], argv[i + 2:]


def parsed_config(args: list[str], rc: runconfig.RunConfig):
    """The config the real ``train`` command builds from these arguments."""
    ns = build_parser().parse_args(args)
    assert ns.command == "train" and ns.handler.__module__ == f"playground.cli.{rc.task}"
    if rc.task == "image":
        from playground.cli.image import _config

        return ns, schema.to_dict(_config(ns))
    if rc.task == "speech":
        from playground.cli.speech import _task_config

        return ns, schema.to_dict(_task_config(ns))
    return ns, schema.to_dict(schema.from_arguments(rc.config_class, ns))


def write(tmp_path: Path, source, gpus: int = 2, nodes: int = 1) -> tuple[Path, launch.LaunchPlan]:
    plan = launch.plan_launch(source, gpus, nodes)
    out = tmp_path / "launch"
    launch.write_launch(plan, out)
    return out, plan


# --------------------------------------------------------------------------------------------
# the command reproduces the run
# --------------------------------------------------------------------------------------------
def test_launch_sh_runs_torchrun_with_flags_the_real_parser_maps_back_to_the_config(
        tmp_path, fakes):
    run = image_run()
    out, plan = write(tmp_path, run.path, gpus=4)
    assert sorted(p.name for p in out.iterdir()) == sorted(launch.FILES)  # demo: no data/
    assert os.access(out / "launch.sh", os.X_OK)
    proc, argv, home = run_script(out, fakes)
    assert proc.returncode == 0, proc.stderr
    head, args = torchrun_split(argv)
    assert head == ["--nnodes", "1", "--nproc-per-node", "4", "--standalone"]
    assert home == str(out / "home")
    ns, config = parsed_config(args, plan.run)
    assert config == run.info()["config"]
    assert ns.data == "demo:digits" and ns.name == "digits small_cnn"
    # PLAYGROUND_DATA replaces the data; flags after ./launch.sh are added (and win)
    proc, argv, _ = run_script(out, fakes, "--epochs", "5",
                               env={"PLAYGROUND_DATA": str(tmp_path / "my images")})
    ns, config = parsed_config(torchrun_split(argv)[1], plan.run)
    assert ns.data == str(tmp_path / "my images") and config["epochs"] == 5


def test_every_task_round_trips_including_awkward_strings(tmp_path, fakes):
    from playground.speech.train import CTCTrainConfig, KeywordTrainConfig
    from playground.text.train import TextTrainConfig
    from playground.text.translate_train import TranslateConfig

    files = [tmp_path / "a" / "story.txt", tmp_path / "b" / "story.txt"]
    for f in files:
        f.parent.mkdir()
        f.write_text("hello\n")
    prompt = "it's -- \"$(rm -rf ~)\" `x` $HOME \\ ;|&\nsecond line"
    runs = [
        make_run("text", TextTrainConfig, [str(f) for f in files], name="-odd name",
                 model="lstm", sample_prompt=prompt, tokenizer="bpe:500", bias=True,
                 batch_size=8, learning_rate=0.00025),
        make_run("text", TextTrainConfig, "demo:pydoc", sample_prompt="-starts with a dash"),
        make_run("translate", TranslateConfig, str(tmp_path / "pairs.tsv"), swap=True,
                 dedupe=False, normalize="NFKC", epochs=2),
        make_run("speech", KeywordTrainConfig, str(tmp_path / "words $HOME \"q\" `x`"),
                 model="kw_gru",
                 noise=False, gain_db=3.5,
                 extra={"speech_task": "keywords", "label_pattern": r"^(?P<label>[a-z]+)_\d"}),
        make_run("speech", CTCTrainConfig, str(tmp_path / "clips"), model="ctc_conformer",
                 lowercase=False, beam_width=1,
                 extra={"speech_task": "ctc", "val_data": str(tmp_path / "val clips")}),
    ]
    for k, run in enumerate(runs):
        plan = launch.plan_launch(run.path, 2)
        out = tmp_path / f"launch{k}"
        launch.write_launch(plan, out)
        proc, argv, _ = run_script(out, fakes)
        assert proc.returncode == 0, proc.stderr
        ns, config = parsed_config(torchrun_split(argv)[1], plan.run)
        info = run.info()
        assert config == info["config"], run.task
        assert ns.name == info["name"]
        if run.task == "text" and isinstance(info["data_spec"], list):
            # two files of one name: both kept, in order, under data/
            assert ns.corpus == [str(out / "data" / "1-story.txt"),
                                 str(out / "data" / "2-story.txt")]
            assert (out / "data").is_dir()
            assert config["sample_prompt"] == prompt
        if run.task == "speech" and info["speech_task"] == "keywords":
            assert ns.task == "keywords" and ns.label_pattern == info["label_pattern"]
            assert ns.data == str(out / "data" / "words $HOME \"q\" `x`")
        if run.task == "speech" and info["speech_task"] == "ctc":
            assert ns.task == "ctc" and ns.val_data == str(out / "data" / "val" / "val clips")
            proc, argv, _ = run_script(out, fakes, env={"PLAYGROUND_VAL_DATA": "/v"})
            assert build_parser().parse_args(torchrun_split(argv)[1]).val_data == "/v"
        # the one-line command shown to the user parses the same way (with the run's data)
        words = launch.command_text(plan).split(" -m playground ", 1)[1]
        import shlex

        ns2, config2 = parsed_config(shlex.split(words), plan.run)
        assert config2 == info["config"]


def test_the_launch_folders_config_json_is_a_run_config_of_the_same_run(tmp_path):
    run = image_run(model="resnet18", pretrained=True)
    out, plan = write(tmp_path, run.path)
    data = json.loads((out / "config.json").read_text())
    assert data["task"] == "image" and data["data"] == "demo:digits"
    assert data["launch"]["world_size"] == 2 and data["launch"]["global_batch_size"] == 64
    again = launch.plan_launch(out / "config.json", 2)
    assert runconfig.train_arguments(again.run) == runconfig.train_arguments(plan.run)
    assert any("pretrained" in note for note in plan.notes)
    # a hand-written one: options not given take their defaults
    cfg = tmp_path / "mine.json"
    cfg.write_text(json.dumps({"task": "image", "model": "small_cnn", "config": {"epochs": 2},
                               "data": "demo:shapes"}))
    rc = runconfig.read_run_config(cfg)
    assert rc.config["epochs"] == 2 and rc.config["batch_size"] == 16 and rc.name is None


# --------------------------------------------------------------------------------------------
# rendezvous, resume, Slurm
# --------------------------------------------------------------------------------------------
def test_multi_node_rendezvous_comes_from_the_environment(tmp_path, fakes):
    out, _ = write(tmp_path, image_run().path, gpus=4, nodes=2)
    proc, argv, _ = run_script(out, fakes)
    assert proc.returncode == 2 and not argv
    assert "MASTER_ADDR" in proc.stderr and "2 nodes" in proc.stderr
    proc, argv, _ = run_script(out, fakes, env={"MASTER_ADDR": "10.0.0.1"})
    head, _ = torchrun_split(argv)
    assert head == ["--nnodes", "2", "--nproc-per-node", "4", "--rdzv-backend", "c10d",
                    "--rdzv-endpoint", "10.0.0.1:29500", "--rdzv-id", "playground-digits-small_cnn"]
    proc, argv, _ = run_script(out, fakes, env={"MASTER_ADDR": "n1", "MASTER_PORT": "1234",
                                                "NODE_RANK": "1"})
    head, _ = torchrun_split(argv)
    assert head == ["--nnodes", "2", "--nproc-per-node", "4", "--node-rank", "1",
                    "--master-addr", "n1", "--master-port", "1234"]


def test_resume_continues_the_newest_run_or_the_one_given(tmp_path, fakes):
    out, _ = write(tmp_path, image_run().path)
    proc, argv, _ = run_script(out, fakes, "--resume")
    assert proc.returncode == 2 and "no run to resume" in proc.stderr and not argv
    for name in ("20240101-000000-a", "20250101-000000-b"):
        (out / "home" / "runs" / "image" / name).mkdir(parents=True)
    proc, argv, _ = run_script(out, fakes, "--resume", "--epochs", "9")
    assert proc.returncode == 0, proc.stderr
    _, args = torchrun_split(argv)
    assert args[:1] == ["resume"] and Path(args[1]).name == "20250101-000000-b"
    ns = build_parser().parse_args(args)
    assert ns.command == "resume" and ns.epochs == 9
    proc, argv, _ = run_script(out, fakes, "--resume", "/elsewhere/run")
    assert torchrun_split(argv)[1] == ["resume", "/elsewhere/run"]


def test_sbatch_script_runs_torchrun_under_srun_with_the_first_node_as_rendezvous(
        tmp_path, fakes):
    run = image_run()
    out, plan = write(tmp_path, run.path, gpus=8, nodes=2)
    text = (out / "slurm.sbatch").read_text()
    assert "#SBATCH --nodes=2" in text and "#SBATCH --gpus-per-node=8" in text
    slurm = {"SLURM_JOB_NODELIST": "gpu-node-[7-8]", "SLURM_NNODES": "2",
             "SLURM_JOB_ID": "4242", "SLURM_SUBMIT_DIR": str(out)}
    proc, argv, home = run_script(out, fakes, script="slurm.sbatch", env=slurm,
                                  cwd=tmp_path)
    assert proc.returncode == 0, proc.stderr
    head, args = torchrun_split(argv)
    assert head == ["--nnodes", "2", "--nproc-per-node", "8", "--rdzv-backend", "c10d",
                    "--rdzv-endpoint", "gpu-node-7:29500", "--rdzv-id", "4242"]
    assert home == str(out / "home")
    assert parsed_config(args, plan.run)[1] == run.info()["config"]
    srun = (fakes[1] / "srun.args").read_bytes().decode().split("\0")
    assert "--ntasks-per-node=1" in srun


def test_the_readme_says_what_to_install_copy_start_and_bring_back(tmp_path):
    from playground.text.translate_train import TranslateConfig

    pairs = tmp_path / "eng-deu.tsv"
    pairs.write_text("a\tb\n")
    run = make_run("translate", TranslateConfig, str(pairs), name="ende")
    out, plan = write(tmp_path, run.path, gpus=8)
    readme = (out / "README.md").read_text()
    for text in ("pip install", "--index-url https://download.pytorch.org/whl/",
                 f"rsync -a {pairs} HOST:THIS_FOLDER/data/eng-deu.tsv", "./launch.sh",
                 "sbatch slurm.sbatch", "./launch.sh --resume", "home/runs/translate/",
                 "Runs → Import run folder…", "playground runs import",
                 launch.command_text(plan)):
        assert text in readme, text
    assert "global batch size 32, 4 per GPU" in readme


# --------------------------------------------------------------------------------------------
# bad input: one sentence each, nothing written
# --------------------------------------------------------------------------------------------
def test_sources_that_cannot_be_launched_are_refused_in_one_sentence(tmp_path):
    not_a_run = tmp_path / "folder"
    not_a_run.mkdir()
    with pytest.raises(RunError, match="is not a run folder"):
        launch.plan_launch(not_a_run, 2)
    with pytest.raises(ConfigError, match="does not exist"):
        launch.plan_launch(tmp_path / "nothing.json", 2)
    bad = tmp_path / "bad.json"
    cases = {
        "{not json": "is not valid JSON",
        "[1, 2]": "should hold a JSON object",
        '{"task": "image", "config": {}}': "has no 'data'",
        '{"task": "image", "config": {"epochs": 0}, "data": "demo:digits"}':
            "Epochs (--epochs) must be at least 1",
        '{"task": "image", "config": {"epocs": 3}, "data": "demo:digits"}': "Unknown options",
        '{"task": "image", "config": {}, "data": "demo:digits", "gpus": 3}': "unknown key",
        '{"task": "video", "config": {}, "data": "x"}': '"task" should be one of',
        '{"task": "image", "model": "nope", "config": {}, "data": "x"}':
            "'nope' is not an image model this app can train",
        '{"task": "image", "model": "graph:tiny", "config": {}, "data": "x"}':
            "graph:tiny is a Builder graph whose network this app does not know: give its "
            "graph document",
        '{"task": "speech", "model": "wav2vec2", "config": {}, "data": "x"}':
            "wav2vec 2.0 is a pretrained speech-to-text model",
        '{"task": "speech", "model": "kw_cnn", "speech_task": "ctc", "config": {}, '
        '"data": "x"}': "kw_cnn is a keywords model",
        '{"task": "image", "model": "resnet18", "config": {"model": "alexnet"}, "data": "x"}':
            "names two models",
        '{"task": "image", "config": {}, "data": ""}': '"data" should be a path',
    }
    for text, message in cases.items():
        bad.write_text(text)
        with pytest.raises((ConfigError, RunError), match=re.escape(message)) as info:
            launch.plan_launch(bad, 2)
        assert "\n" not in str(info.value) and str(info.value).endswith("."), str(info.value)
    run = image_run(batch_size=6)
    for gpus, nodes in ((0, 1), (-2, 1), (2, 0), (True, 1)):
        with pytest.raises(ConfigError, match="must be a whole number between 1"):
            launch.plan_launch(run.path, gpus, nodes)
    with pytest.raises(ConfigError, match="batch size 6 cannot be split over 8 processes"):
        launch.plan_launch(run.path, 4, 2)
    info = run.info()
    info.pop("data_spec")
    (run.path / "run.json").write_text(json.dumps(info))
    with pytest.raises(RunError, match="no \"data_spec\""):
        launch.plan_launch(run.path, 2)


def test_a_run_of_a_model_the_registry_does_not_train_is_refused(tmp_path):
    from playground.speech.train import CTCTrainConfig

    run = make_run("speech", CTCTrainConfig, "demo:digits", extra={"speech_task": "ctc"})
    info = run.info()
    info["model"] = info["config"]["model"] = "wav2vec2"
    (run.path / "run.json").write_text(json.dumps(info))
    with pytest.raises(ConfigError, match="wav2vec 2.0 .* cannot be trained"):
        launch.plan_launch(run.path, 2)
    from playground.core.registry import ModelEntry
    from playground.vision.models import REGISTRY

    REGISTRY.register(ModelEntry("viewer_only", "Viewer only", factory=lambda spec: None,
                                 extra={"trainable": False}))
    REGISTRY.register(ModelEntry("drawn", "Drawn", factory=lambda spec: None,
                                 extra={"builder": True}))  # a graph registered by the app
    try:
        drawn = image_run()
        info = drawn.info()
        info["model"] = info["config"]["model"] = "drawn"
        (drawn.path / "run.json").write_text(json.dumps(info))
        with pytest.raises(ConfigError, match="is a Builder graph"):
            launch.plan_launch(drawn.path, 2)
        bad = image_run()
        info = bad.info()
        info["model"] = info["config"]["model"] = "viewer_only"
        (bad.path / "run.json").write_text(json.dumps(info))
        with pytest.raises(ConfigError, match="for inference only"):
            launch.plan_launch(bad.path, 2)
    finally:
        REGISTRY.unregister("viewer_only")
        REGISTRY.unregister("drawn")


def test_output_folders_that_cannot_be_used_are_refused(tmp_path):
    run = image_run()
    plan = launch.plan_launch(run.path, 2)
    busy = tmp_path / "busy"
    busy.mkdir()
    (busy / "keep.txt").write_text("mine")
    with pytest.raises(StorageError, match="exists and is not empty.*--force"):
        launch.write_launch(plan, busy)
    assert sorted(p.name for p in busy.iterdir()) == ["keep.txt"]
    launch.write_launch(plan, busy, force=True)  # only the launch files are added
    assert (busy / "keep.txt").read_text() == "mine" and (busy / "launch.sh").is_file()
    a_file = tmp_path / "file"
    a_file.write_text("x")
    with pytest.raises(StorageError, match="is a file, not a folder"):
        launch.write_launch(plan, a_file)
    with pytest.raises(StorageError, match="cannot be created"):
        launch.write_launch(plan, a_file / "sub")
    with pytest.raises(StorageError, match="inside the run folder"):
        launch.write_launch(plan, run.path / "launch")
    assert not (run.path / "launch").exists()
    if os.geteuid() != 0:  # root writes anywhere
        locked = tmp_path / "locked"
        locked.mkdir()
        locked.chmod(stat.S_IRUSR | stat.S_IXUSR)
        try:
            with pytest.raises(StorageError, match="cannot be written"):
                launch.write_launch(plan, locked)
        finally:
            locked.chmod(0o755)


def test_planning_imports_no_torch(tmp_path):
    """The GUI plans on its UI thread: reading a run and writing the scripts needs no torch."""
    run = tmp_path / "run"
    run.mkdir()
    (run / "run.json").write_text(json.dumps({"task": "speech", "model": "kw_cnn",
                                              "config": {}, "data_spec": "demo:digits"}))
    code = ("import sys, json; from playground.core import launch; "
            f"p = launch.plan_launch({str(run)!r}, 2); launch.readme_text(p); "
            "launch.launch_script(p); print(json.dumps('torch' in sys.modules))")
    out = subprocess.run([os.sys.executable, "-c", code], capture_output=True, text=True,
                         timeout=120, env=dict(os.environ))
    assert out.returncode == 0, out.stderr
    assert out.stdout.strip() == "false"
