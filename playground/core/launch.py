"""Run on a bigger machine: a folder with everything needed to train a run with ``torchrun``.

``playground launch RUN_CONFIG|RUN_DIR --gpus N [--nodes M] --out DIR`` and the GUI's "Run on
a bigger machine…" dialog call :func:`plan_launch` (read and check the source) and
:func:`write_launch` (write the folder)::

    DIR/
        config.json     the run's configuration: a RUN_CONFIG (below) plus a "launch" entry
        launch.sh       the exact torchrun command; ``./launch.sh --resume [RUN_DIR]`` continues
        slurm.sbatch    the same under Slurm: srun torchrun, rendezvous on the job's first node
        README.md       what to install, what data to copy where, how to start, what to copy back
        data/           (only when the run's data is not built in) where the data is copied to
        home/           made by the first run: PLAYGROUND_HOME, with home/runs/<task>/<run>/

The training command is the app's own ``train`` command with every option of the run's config
as a flag (the schema's kebab-case names, :func:`train_arguments`), so the folder reproduces the
run's settings exactly; ``batch_size`` is the *global* batch (split over the processes by
:mod:`playground.core.distributed`), so N GPUs train the same steps and schedule as one.

RUN_CONFIG: a JSON file that describes a run to train, without a run folder::

    {
      "format": "playground-run-config",  // optional; the version of the format: 1
      "version": 1,
      "task": "image",                    // image, text, translate or speech (required)
      "model": "small_cnn",               // optional when config has "model"; both must agree
      "config": {"epochs": 8, ...},       // the task's options (run.json's "config"); options
                                          //   not given take their defaults, unknown ones are
                                          //   refused
      "data": "demo:digits",              // what `train` gets as --data / --corpus / --pairs:
                                          //   a path or a built-in demo; text: a list of files
      "name": "digits",                   // optional: the run's name
      "speech_task": "keywords",          // speech only, optional: keywords or ctc (default:
                                          //   the model's)
      "label_pattern": "...",             // speech keywords only, optional (--label-pattern)
      "val_data": "/path/val"             // speech ctc only, optional (--val-data)
      "graph": {...}                      // a Builder graph model ("model": "graph:NAME"):
                                          //   the graph document (graph.json); optional when
                                          //   the app running `launch` has it registered
    }

A Builder graph travels with the folder: it is written as ``graph.json`` beside launch.sh and
the train command gets ``--graph "$HERE"/graph.json`` instead of ``--model`` (every process
registers it from there; the run folder keeps its own graph.json, so ``--resume`` needs nothing
more).

A launch folder's ``config.json`` is one (its extra ``launch`` and ``source_run`` entries are
ignored when it is read back), so ``playground launch DIR/config.json --gpus 8 --out DIR2``
makes another launch of the same run.

Qt-free; no task package is imported until a source is checked (:data:`TASKS` names them).
"""

from __future__ import annotations

import importlib
import json
import os
import shlex
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from playground import __version__
from playground.core.errors import ConfigError, RunError, StorageError

FORMAT = "playground-run-config"
FORMAT_VERSION = 1
MAX_GPUS = 1024        # per node
MAX_NODES = 10_000
DEFAULT_PORT = 29500   # torchrun's own default rendezvous port
DATA_VAR = "PLAYGROUND_DATA"          # not DATA: some clusters set $DATA to a user's folder
VAL_DATA_VAR = "PLAYGROUND_VAL_DATA"
HOME_VAR = "PLAYGROUND_LAUNCH_HOME"   # where the run folder goes (default: DIR/home)
FILES = ("config.json", "launch.sh", "slurm.sbatch", "README.md")
BUILDER_PREFIX = "graph:"  # registry names of Builder graphs (playground.builder.registry)

# Models that exist for inference only: no registry entry, nothing to train.
INFERENCE_ONLY = {
    ("speech", "wav2vec2"): "wav2vec 2.0 is a pretrained speech-to-text model the app only runs "
                            "to transcribe; it cannot be trained, here or with torchrun, so "
                            "there is nothing to launch: train a CTC model (ctc_rnn or "
                            "ctc_conformer) instead.",
}


@dataclass(frozen=True)
class TaskInfo:
    """How one task trains from the command line (named, not imported: see the docstring)."""

    registry: str                 # "module:attribute" of the task's model registry
    config: dict[str, str]        # sub-task ("" for one) -> "module:class" of its config
    data_flag: str                # the `train` flag that takes the data
    multi_data: bool = False      # the data flag takes several paths (text)


TASKS: dict[str, TaskInfo] = {
    "image": TaskInfo("playground.vision.models:REGISTRY",
                      {"": "playground.vision.config:ImageTrainConfig"}, "--data"),
    "text": TaskInfo("playground.text.models:TEXT_MODELS",
                     {"": "playground.text.train:TextTrainConfig"}, "--corpus", multi_data=True),
    "translate": TaskInfo("playground.text.translate_models:TRANSLATE_MODELS",
                          {"": "playground.text.translate_train:TranslateConfig"}, "--pairs"),
    "speech": TaskInfo("playground.speech.models:REGISTRY",
                       {"keywords": "playground.speech.train:KeywordTrainConfig",
                        "ctc": "playground.speech.train:CTCTrainConfig"}, "--data"),
}
KEYS = ("format", "version", "task", "model", "config", "data", "name", "speech_task",
        "label_pattern", "val_data", "graph")
GRAPH_FILE = "graph.json"  # a Builder graph's document in the launch folder
IGNORED_KEYS = ("launch", "source_run")  # what a launch folder's config.json adds


def _load(target: str) -> Any:
    module, _, attr = target.partition(":")
    return getattr(importlib.import_module(module), attr)


# ------------------------------------------------------------------------------------------
# The run to launch
# ------------------------------------------------------------------------------------------
@dataclass(frozen=True)
class RunConfig:
    """A run to train: task, model, its full config (every option), data, and the options of
    the ``train`` command that are not in the config (name, speech task, label pattern, …)."""

    task: str
    model: str
    config: dict[str, Any]
    data: str | tuple[str, ...]
    name: str | None = None
    speech_task: str | None = None
    label_pattern: str | None = None
    val_data: str | None = None
    source_run: str | None = None     # the run folder it was read from, if any
    parent: str | None = None         # that run's parent (it started from another's weights)
    graph: dict[str, Any] | None = field(default=None, compare=False)  # a Builder graph's JSON

    @property
    def data_list(self) -> list[str]:
        return [self.data] if isinstance(self.data, str) else list(self.data)

    @property
    def config_class(self) -> type:
        return _load(TASKS[self.task].config[self.speech_task or ""])

    @property
    def batch_size(self) -> int | None:
        value = self.config.get("batch_size")
        return value if isinstance(value, int) and not isinstance(value, bool) else None

    def to_json(self) -> dict[str, Any]:
        """The RUN_CONFIG document (see the module docstring)."""
        data: dict[str, Any] = {"format": FORMAT, "version": FORMAT_VERSION, "task": self.task,
                                "model": self.model, "config": dict(self.config),
                                "data": self.data if isinstance(self.data, str)
                                else list(self.data)}
        for key in ("name", "speech_task", "label_pattern", "val_data", "graph"):
            if getattr(self, key) is not None:
                data[key] = getattr(self, key)
        return data


def _a(word: str) -> str:
    return f"{'an' if word[:1] in 'aeiou' else 'a'} {word}"


def _registry(task: str):
    return _load(TASKS[task].registry)


def graph_document(task: str, model: str) -> dict[str, Any] | None:
    """The graph document (graph.json) of a Builder graph ``model`` registered in ``task``'s
    registry, or None."""
    registry = _registry(task)
    if model not in registry:
        return None
    graph = registry.get(model).extra.get("graph")
    return dict(graph) if isinstance(graph, dict) else None


def check_trainable(task: str, model: str, speech_task: str | None = None) -> str | None:
    """Check that ``model`` is a registry model of ``task`` that trains (so it can train under
    torchrun on another machine); return its speech task (speech) or None. Raises ConfigError.
    A Builder graph must be registered (with its graph document) by then."""
    if task not in TASKS:
        raise ConfigError(f"The task {task!r} is not one this app trains; it knows "
                          f"{', '.join(TASKS)}.")
    if (task, model) in INFERENCE_ONLY:
        raise ConfigError(INFERENCE_ONLY[(task, model)])
    registry = _registry(task)
    builder = model.startswith(BUILDER_PREFIX) or (model in registry
                                                   and registry.get(model).extra.get("builder"))
    if builder and graph_document(task, model) is None:
        raise ConfigError(f"{model} is a Builder graph whose network this app does not know: "
                          "give its graph document as \"graph\" in the run config (the "
                          "graph.json the Builder saves), or launch a run folder that trained "
                          "it.")
    if model not in registry:
        raise ConfigError(f"{model!r} is not {_a(task)} model this app can train (those are "
                          f"{', '.join(registry.names())}), so it cannot run distributed on "
                          "another machine.")
    entry = registry.get(model)
    if entry.extra.get("trainable", True) is False or entry.extra.get("distributed", True) \
            is False:
        raise ConfigError(f"{entry.title} is a model for inference only: it cannot be trained "
                          "with torchrun.")
    if task != "speech":
        if speech_task is not None:
            raise ConfigError(f"speech_task is an option of speech runs, not of {task} runs.")
        return None
    own = entry.extra.get("task")
    if speech_task is not None and speech_task != own:
        raise ConfigError(f"{model} is a {own} model, not one for the speech task "
                          f"{speech_task!r}.")
    if own not in TASKS["speech"].config:
        raise ConfigError(f"The speech model {model} says it is for {own!r}, which this app "
                          "does not train.")
    return own


def _full_config(task: str, speech_task: str | None, raw: dict[str, Any], model: str,
                 strict: bool) -> dict[str, Any]:
    """Every option of the task's config (missing ones at their defaults), checked."""
    from playground.core import schema

    cls = _load(TASKS[task].config[speech_task or ""])
    cfg = schema.validate(schema.from_dict(cls, {**raw, "model": model}, strict=strict))
    return schema.to_dict(cfg)


def _data_value(value: Any, task: str, where: str) -> str | tuple[str, ...]:
    if isinstance(value, str) and value.strip():
        return value
    if (TASKS[task].multi_data and isinstance(value, list) and value
            and all(isinstance(v, str) and v.strip() for v in value)):
        return value[0] if len(value) == 1 else tuple(value)
    what = "a path or demo:NAME" + (", or a list of files" if TASKS[task].multi_data else "")
    raise ConfigError(f"{where}: \"data\" should be {what}, got {json.dumps(value)[:60]}.")


def run_config_from_run(run_dir: str | os.PathLike) -> RunConfig:
    """The :class:`RunConfig` a run folder was trained with (its run.json)."""
    from playground.core.runs import open_run

    run = open_run(run_dir)
    info = run.info()
    where = str(run.path / "run.json")
    task = str(info.get("task"))
    if task not in TASKS:
        raise RunError(f"{where} says the task is {task!r}, which this app does not train.")
    raw = info.get("config")
    if not isinstance(raw, dict):
        raise RunError(f"{where} has no \"config\" object, so the run's settings are unknown; "
                       "write a run config file instead (see `playground launch --help`).")
    model = info.get("model") or raw.get("model")
    if not isinstance(model, str) or not model:
        raise RunError(f"{where} does not say which model the run trains.")
    speech = info.get("speech_task") if task == "speech" else None
    speech_task = check_trainable(task, model, speech if isinstance(speech, str) else None)
    spec = info.get("data_spec")
    if spec is None:
        raise RunError(f"{where} does not say which data the run was trained on (no "
                       "\"data_spec\"); write a run config file with \"data\" instead (see "
                       "`playground launch --help`).")
    data = _data_value(spec, task, where)
    config = _full_config(task, speech_task, raw, model, strict=False)
    pattern = info.get("label_pattern") if speech_task == "keywords" else None
    val = info.get("val_data") if speech_task == "ctc" else None
    parent = info.get("parent")
    parent_run = parent.get("run") if isinstance(parent, dict) else parent
    name = info.get("name")
    graph = graph_document(task, model) if model.startswith(BUILDER_PREFIX) else None
    return RunConfig(task, model, config, data, graph=graph,
                     name=name if isinstance(name, str) and name else None,
                     speech_task=speech_task,
                     label_pattern=pattern if isinstance(pattern, str) else None,
                     val_data=val if isinstance(val, str) and val else None,
                     source_run=str(run.path),
                     parent=str(parent_run) if isinstance(parent_run, str) else None)


def parse_run_config(data: Any, where: str = "the run config") -> RunConfig:
    """A RUN_CONFIG document (see the module docstring) as a :class:`RunConfig`."""
    if not isinstance(data, dict):
        raise ConfigError(f"{where} should hold a JSON object with \"task\", \"config\" and "
                          "\"data\".")
    unknown = sorted(set(data) - set(KEYS) - set(IGNORED_KEYS))
    if unknown:
        raise ConfigError(f"{where}: unknown key {unknown[0]!r} (a run config has "
                          f"{', '.join(KEYS[2:])}).")
    if data.get("format", FORMAT) != FORMAT or data.get("version", FORMAT_VERSION) != \
            FORMAT_VERSION:
        raise ConfigError(f"{where} is a {data.get('format')!r} file of version "
                          f"{data.get('version')!r}; this app reads {FORMAT!r} version "
                          f"{FORMAT_VERSION}.")
    for key in ("task", "config", "data"):
        if key not in data:
            raise ConfigError(f"{where} has no {key!r}: a run config needs \"task\", "
                              "\"config\" and \"data\".")
    task = data["task"]
    if not isinstance(task, str) or task not in TASKS:
        raise ConfigError(f"{where}: \"task\" should be one of {', '.join(TASKS)}, got "
                          f"{json.dumps(task)[:40]}.")
    raw = data["config"]
    if not isinstance(raw, dict):
        raise ConfigError(f"{where}: \"config\" should be an object of the task's options.")
    strings = {k: data.get(k) for k in ("model", "name", "speech_task", "label_pattern",
                                        "val_data")}
    for key, value in strings.items():
        if value is not None and (not isinstance(value, str) or not value):
            raise ConfigError(f"{where}: {key!r} should be a non-empty string.")
    model = strings["model"] or raw.get("model")
    if strings["model"] and raw.get("model") not in (None, strings["model"]):
        raise ConfigError(f"{where} names two models: \"model\" is {strings['model']!r} but "
                          f"\"config\" says {raw.get('model')!r}.")
    if model is None:  # the task's default model
        from playground.core import schema

        sub = strings["speech_task"] or next(iter(TASKS[task].config))
        if sub not in TASKS[task].config:
            raise ConfigError(f"{where}: \"speech_task\" should be one of "
                              f"{', '.join(TASKS[task].config)}, got {sub!r}.")
        cls = _load(TASKS[task].config[sub])
        model = next(f.default for f in schema.fields(cls) if f.name == "model")
    if not isinstance(model, str) or not model:
        raise ConfigError(f"{where}: \"model\" should be the name of a {task} model.")
    graph = data.get("graph")
    if graph is not None:
        if not model.startswith(BUILDER_PREFIX):
            raise ConfigError(f"{where}: \"graph\" is for a Builder graph model "
                              f"(\"model\": \"{BUILDER_PREFIX}NAME\"), not {model!r}.")
        _register_graph(task, strings["speech_task"], model, graph, where)
    speech_task = check_trainable(task, model, strings["speech_task"])
    if strings["label_pattern"] and speech_task != "keywords":
        raise ConfigError(f"{where}: \"label_pattern\" is an option of speech keyword runs.")
    if strings["val_data"] and speech_task != "ctc":
        raise ConfigError(f"{where}: \"val_data\" is an option of speech ctc runs.")
    try:
        config = _full_config(task, speech_task, raw, model, strict=True)
    except ConfigError as exc:
        raise ConfigError(f"{where}: {exc}") from None
    return RunConfig(task, model, config, _data_value(data["data"], task, where),
                     name=strings["name"], speech_task=speech_task,
                     label_pattern=strings["label_pattern"], val_data=strings["val_data"],
                     graph=graph_document(task, model) if model.startswith(BUILDER_PREFIX)
                     else None)


def _register_graph(task: str, speech_task: str | None, model: str, graph: Any,
                    where: str) -> None:
    """Register a run config's Builder graph document as ``model`` (through the module
    :data:`playground.core.runs.RUN_MODEL_HOOKS` names)."""
    from playground.core.runs import RUN_MODEL_HOOKS

    if not isinstance(graph, dict):
        raise ConfigError(f"{where}: \"graph\" should be a graph document (the JSON object the "
                          "Builder saves).")
    hooks = _load(RUN_MODEL_HOOKS[BUILDER_PREFIX] + ":register_document")
    hooks(task, speech_task, model, graph, where)


def read_run_config(path: str | os.PathLike) -> RunConfig:
    """A RUN_CONFIG file (see the module docstring)."""
    from playground.core import validate

    path = Path(path).expanduser()
    try:
        data = validate.read_json(path, name=str(path))
    except FileNotFoundError:
        raise ConfigError(f"The run config {path} does not exist.") from None
    except RunError as exc:
        raise ConfigError(str(exc).replace(" The file is damaged; restore it or train the run "
                                           "again.", " Fix the file.")) from None
    return parse_run_config(data, str(path))


def load_source(source: str | os.PathLike) -> RunConfig:
    """A run folder (or its run.json) or a RUN_CONFIG file, as a :class:`RunConfig`."""
    path = Path(source).expanduser()
    if path.is_dir():
        if not (path / "run.json").exists():
            raise RunError(f"{path} is not a run folder (it has no run.json); give a run "
                           "folder or a run config file.")
        return run_config_from_run(path)
    if path.name == "run.json" and path.is_file():
        return run_config_from_run(path.parent)
    if not path.exists():
        raise ConfigError(f"{path} does not exist; give a run folder or a run config file.")
    return read_run_config(path)


# ------------------------------------------------------------------------------------------
# Flags
# ------------------------------------------------------------------------------------------
def _flag_value(spec, value: Any) -> list[str]:
    if spec.type is bool:
        return [spec.flag if value else "--no-" + spec.flag[2:]]
    if spec.type is float:
        text = repr(float(value))
    elif spec.type is int:
        text = str(int(value))
    else:
        text = str(value)
    # a value that starts with "-" would read as a flag: give it in the --flag=VALUE form
    return [f"{spec.flag}={text}"] if text.startswith("-") else [spec.flag, text]


def config_arguments(rc: RunConfig, graph: str | None = None) -> list[str]:
    """Every option of the run's config as ``train`` flags (``--batch-size 64 --no-noise``);
    a Builder graph's model is ``--graph GRAPH`` (``graph``: where its graph.json is)."""
    from playground.core import schema

    args: list[str] = []
    specs = schema.fields(rc.config_class)
    for spec in sorted(specs, key=lambda s: s.name != "model"):  # the model first
        if spec.name == "model" and rc.graph is not None:
            args += ["--graph", graph or GRAPH_FILE]
        elif spec.name in rc.config:
            args += _flag_value(spec, rc.config[spec.name])
    return args


def train_arguments(rc: RunConfig, data: list[str] | None = None,
                    val_data: str | None = None, graph: str | None = None) -> list[str]:
    """The ``playground`` arguments that train ``rc``: ``train TASK [--task ...] --name ...
    <every config option> DATA_FLAG DATA...``. ``data`` / ``val_data`` replace the run's;
    ``graph``: where a Builder graph's graph.json is (default: graph.json)."""
    args = ["train", rc.task]
    if rc.speech_task:
        args += ["--task", rc.speech_task]
    if rc.name:
        args += [f"--name={rc.name}"] if rc.name.startswith("-") else ["--name", rc.name]
    args += config_arguments(rc, graph)
    if rc.label_pattern is not None:
        args.append(f"--label-pattern={rc.label_pattern}")
    if rc.val_data or val_data:
        args.append(f"--val-data={val_data or rc.val_data}")
    return [*args, TASKS[rc.task].data_flag, *(data if data is not None else rc.data_list)]


# ------------------------------------------------------------------------------------------
# The plan
# ------------------------------------------------------------------------------------------
@dataclass(frozen=True)
class DataCopy:
    """One piece of data the bigger machine needs: from here to ``target`` in the folder."""

    source: str        # the path as the run recorded it
    target: str        # relative to the launch folder: "data/digits"


@dataclass(frozen=True)
class LaunchPlan:
    run: RunConfig
    gpus: int                         # processes (GPUs) per node
    nodes: int = 1
    copies: tuple[DataCopy, ...] = ()
    val_copy: DataCopy | None = None
    notes: tuple[str, ...] = field(default=())

    @property
    def world_size(self) -> int:
        return self.gpus * self.nodes

    @property
    def per_gpu_batch(self) -> str:
        b = self.run.batch_size
        if b is None:
            return "?"
        low, extra = divmod(b, self.world_size)
        return str(low) if not extra else f"{low}-{low + 1}"


def _is_demo(spec: str) -> bool:
    return spec.startswith("demo:")


def _targets(paths: list[str], folder: str = "data") -> list[DataCopy]:
    names = [Path(p.rstrip("/\\")).name or "data" for p in paths]
    if len(set(names)) < len(names):  # a/x.txt and b/x.txt: keep both, in order
        names = [f"{i}-{n}" for i, n in enumerate(names, 1)]
    return [DataCopy(p, f"{folder}/{n}") for p, n in zip(paths, names, strict=True)]


def check_counts(gpus: Any, nodes: Any) -> tuple[int, int]:
    for value, what, high in ((gpus, "GPUs per node", MAX_GPUS), (nodes, "nodes", MAX_NODES)):
        if isinstance(value, bool) or not isinstance(value, int) or not 1 <= value <= high:
            raise ConfigError(f"The number of {what} must be a whole number between 1 and "
                              f"{high}; got {value!r}.")
    return gpus, nodes


def plan_launch(source: str | os.PathLike | RunConfig, gpus: int, nodes: int = 1
                ) -> LaunchPlan:
    """Read and check ``source`` (run folder, run.json or RUN_CONFIG file) for ``nodes`` x
    ``gpus`` processes; nothing is written. Raises a PlaygroundError with one sentence."""
    gpus, nodes = check_counts(gpus, nodes)
    rc = source if isinstance(source, RunConfig) else load_source(source)
    world = gpus * nodes
    batch = rc.batch_size
    where = f"{nodes} nodes x {gpus} GPUs" if nodes > 1 else f"{gpus} GPUs"
    if batch is not None and batch < world:
        raise ConfigError(f"The run's batch size {batch} cannot be split over {world} "
                          f"processes ({where}): it is the global batch, shared by all of them, "
                          f"so use at most {batch} GPUs or write a run config with a batch size "
                          f"of at least {world}.")
    data = rc.data_list
    copies = tuple(_targets([d for d in data if not _is_demo(d)]))
    val_copy = None
    if rc.val_data and not _is_demo(rc.val_data):
        val_copy = _targets([rc.val_data], "data/val")[0]
    notes = []
    if batch is not None and batch % world:
        notes.append(f"The batch of {batch} does not divide evenly over {world} processes: "
                     f"each trains on {LaunchPlan(rc, gpus, nodes).per_gpu_batch} samples a "
                     "step.")
    if rc.parent:
        notes.append(f"The run started from another run's weights ({rc.parent}); this launch "
                     "trains from scratch. To start from them there, copy that run too and add "
                     "--init-from RUN_DIR to the command.")
    if rc.config.get("pretrained"):
        notes.append("The model starts from pretrained ImageNet weights: the first node "
                     "downloads them once (it needs internet access, or a copy of the "
                     "weights in $TORCH_HOME/hub/checkpoints).")
    return LaunchPlan(rc, gpus, nodes, copies, val_copy, tuple(notes))


# ------------------------------------------------------------------------------------------
# Writing the folder
# ------------------------------------------------------------------------------------------
def _q(value: str) -> str:
    return shlex.quote(value)


def _rdzv_id(plan: LaunchPlan) -> str:
    from playground.core.runs import _slug

    return "playground-" + _slug(plan.run.name or plan.run.model)


def command_text(plan: LaunchPlan) -> str:
    """The torchrun command as one line (what the dialog and ``playground launch`` show), with
    the run's own data and the rendezvous as launch.sh gives it."""
    rdzv = ["--standalone"] if plan.nodes == 1 else \
        ["--rdzv-backend", "c10d", "--rdzv-endpoint", '"$MASTER_ADDR:$MASTER_PORT"']
    head = ["torchrun", "--nnodes", str(plan.nodes), "--nproc-per-node", str(plan.gpus)]
    return " ".join([*map(_q, head), *rdzv, "-m", "playground",
                     *map(_q, train_arguments(plan.run))])


def _lines(words: list[str], indent: str = "    ") -> str:
    """Shell words (already quoted) joined as a continued command, one flag and its value
    per line."""
    out: list[str] = []
    i = 0
    while i < len(words):
        word = words[i]
        nxt = words[i + 1] if i + 1 < len(words) else None
        if (word.startswith("--") and "=" not in word and nxt is not None
                and not nxt.startswith("--") and nxt != '"$@"'):
            out.append(f"{word} {nxt}")
            i += 2
        else:
            out.append(word)
            i += 1
    return (" \\\n" + indent).join(out)


def _command_words(plan: LaunchPlan, nnodes: str, rdzv: str, resume: bool) -> str:
    head = ["torchrun", "--nnodes", nnodes, "--nproc-per-node", str(plan.gpus), rdzv,
            "-m", "playground"]
    if resume:
        return " ".join([*head, "resume", '"$RUN_DIR"', '"$@"'])
    rc = plan.run
    args = train_arguments(rc, data=["@DATA@"], val_data="@VAL@" if plan.run.val_data
                           else None, graph="@GRAPH@")
    words = []
    for a in args:
        if a == "@DATA@":
            words.append('"${DATA[@]}"')
        elif a == "@GRAPH@":
            words.append(f'"$HERE"/{GRAPH_FILE}')
        elif a == "--val-data=@VAL@":
            words.append('--val-data="$VAL_DATA"')
        else:
            words.append(_q(a))
    first = " ".join(head + words[:2])  # torchrun ... -m playground train TASK
    return _lines([first, *words[2:], '"$@"'])


def _data_block(plan: LaunchPlan, here: str) -> str:
    rc = plan.run
    copies = iter(plan.copies)
    values = [_q(d) if _is_demo(d) else f'"{here}"/{_q(next(copies).target)}'
              for d in rc.data_list]
    what = "built into the app" if not plan.copies else "copy it there first: README.md"
    lines = [f"# The training data ({what}); {DATA_VAR}=PATH uses another copy.",
             f'if [ -n "${{{DATA_VAR}:-}}" ]; then DATA=("${DATA_VAR}"); '
             f"else DATA=({' '.join(values)}); fi"]
    if rc.val_data:
        val = _q(rc.val_data) if plan.val_copy is None else \
            f'"{here}"/{_q(plan.val_copy.target)}'
        lines.append(f'VAL_DATA="${{{VAL_DATA_VAR}:-}}"  # the validation folder')
        lines.append(f'if [ -z "$VAL_DATA" ]; then VAL_DATA={val}; fi')
    return "\n".join(lines)


def _resume_block(plan: LaunchPlan, command: str) -> str:
    task = plan.run.task
    return f'''if [ "${{1:-}}" = "--resume" ]; then
    shift
    if [ $# -gt 0 ] && [ "${{1#-}}" = "$1" ]; then
        RUN_DIR="$1"; shift
    else  # the newest run folder of this launch
        shopt -s nullglob
        runs=("$PLAYGROUND_HOME/runs/{task}"/*/)
        RUN_DIR=""
        if [ ${{#runs[@]}} -gt 0 ]; then RUN_DIR="${{runs[${{#runs[@]}}-1]}}"; fi
    fi
    if [ -z "$RUN_DIR" ]; then
        echo "error: there is no run to resume in $PLAYGROUND_HOME/runs/{task}: start one" \\
             "with $0 first, or give its folder: $0 --resume RUN_DIR" >&2
        exit 2
    fi
    exec {command}
fi'''


def launch_script(plan: LaunchPlan) -> str:
    """The text of launch.sh."""
    rc = plan.run
    if plan.nodes == 1:
        rdzv = '''RDZV=(--standalone)  # one node: a local rendezvous on a free port'''
    else:
        rdzv = f'''# Several nodes: run this script on every node, with MASTER_ADDR set to the first
# node's address (and MASTER_PORT if {DEFAULT_PORT} is taken). With NODE_RANK set (0 on the first
# node, 1, 2, … on the others) the rendezvous is static; without it, c10d assigns the ranks.
if [ -z "${{MASTER_ADDR:-}}" ]; then
    echo "error: set MASTER_ADDR to the first node's address and run $0 on each of the" \\
         "{plan.nodes} nodes (see README.md)" >&2
    exit 2
fi
MASTER_PORT="${{MASTER_PORT:-{DEFAULT_PORT}}}"
if [ -n "${{NODE_RANK:-}}" ]; then
    RDZV=(--node-rank "$NODE_RANK" --master-addr "$MASTER_ADDR" --master-port "$MASTER_PORT")
else
    RDZV=(--rdzv-backend c10d --rdzv-endpoint "$MASTER_ADDR:$MASTER_PORT"
          --rdzv-id "${{RDZV_ID:-{_rdzv_id(plan)}}}")
fi'''
    title = rc.name or rc.model
    where = f"{plan.nodes} nodes x {plan.gpus} GPUs" if plan.nodes > 1 else \
        f"{plan.gpus} GPU{'s' * (plan.gpus != 1)}"
    return f'''#!/usr/bin/env bash
# Train {_comment(title)} ({rc.task}, {rc.model}) on {where} with torchrun.
# Written by Model Playground {__version__} (playground launch); see README.md.
#
#   ./launch.sh [FLAG ...]              train a new run (flags are added to `playground train`)
#   ./launch.sh --resume [RUN_DIR]      continue RUN_DIR (default: the newest run of this folder)
#
# The batch size ({rc.batch_size}) is the global batch, shared by all {plan.world_size} processes.
set -euo pipefail
HERE="$(cd "$(dirname "${{BASH_SOURCE[0]}}")" && pwd)"
# Run folders go to $PLAYGROUND_HOME/runs/{rc.task}/ ({HOME_VAR}=DIR puts them elsewhere).
export PLAYGROUND_HOME="${{{HOME_VAR}:-$HERE/home}}"
{_data_block(plan, "$HERE")}
{rdzv}

{_resume_block(plan, _command_words(plan, str(plan.nodes), '"${RDZV[@]}"', True))}

exec {_command_words(plan, str(plan.nodes), '"${RDZV[@]}"', False)}
'''


def _comment(text: str) -> str:
    return " ".join(str(text).split())[:80]


def sbatch_script(plan: LaunchPlan) -> str:
    """The text of slurm.sbatch."""
    from playground.core.runs import _slug

    rc = plan.run
    srun = "srun --nodes=\"$SLURM_NNODES\" --ntasks-per-node=1 --kill-on-bad-exit=1"
    return f'''#!/usr/bin/env bash
#SBATCH --job-name={_slug("playground-" + (rc.name or rc.model))}
#SBATCH --nodes={plan.nodes}
#SBATCH --ntasks-per-node=1
#SBATCH --gpus-per-node={plan.gpus}
#SBATCH --output=slurm-%x-%j.out
# Train {_comment(rc.name or rc.model)} ({rc.task}, {rc.model}) under Slurm:
# {plan.nodes} node(s) x {plan.gpus} GPUs.
# Written by Model Playground {__version__} (playground launch); see README.md.
#
#   cd THIS_FOLDER && sbatch slurm.sbatch [FLAG ...]       train a new run
#   cd THIS_FOLDER && sbatch slurm.sbatch --resume [RUN_DIR] continue a run
#
# Add what your cluster needs (--partition, --time, --cpus-per-task, --mem) above, and load
# the Python environment with the app and a CUDA build of torch before srun (module load …).
set -euo pipefail
HERE="${{SLURM_SUBMIT_DIR:-$(pwd)}}"  # sbatch runs a copy of this script: submit it from its folder
export PLAYGROUND_HOME="${{{HOME_VAR}:-$HERE/home}}"
{_data_block(plan, "$HERE")}
# The rendezvous runs on the first node of the job.
# (sed reads all the names: head would leave scontrol to die of SIGPIPE under pipefail)
MASTER_ADDR="$(scontrol show hostnames "$SLURM_JOB_NODELIST" | sed -n 1p)"
MASTER_PORT="${{MASTER_PORT:-{DEFAULT_PORT}}}"
RDZV=(--rdzv-backend c10d --rdzv-endpoint "$MASTER_ADDR:$MASTER_PORT" --rdzv-id "$SLURM_JOB_ID")

{_resume_block(plan, srun + " " + _command_words(plan, '"$SLURM_NNODES"', '"${RDZV[@]}"', True))}

{srun} {_command_words(plan, '"$SLURM_NNODES"', '"${RDZV[@]}"', False)}
'''


def _versions(plan: LaunchPlan) -> dict[str, str]:
    """The torch versions to install: the run's (what it was trained with), else the ones
    installed here (read from the package metadata: torch is not imported)."""
    from importlib import metadata

    found: dict[str, str] = {}
    if plan.run.source_run:
        try:
            from playground.core.runs import Run

            versions = Run(Path(plan.run.source_run)).info().get("versions") or {}
            found = {k: str(v) for k, v in versions.items() if isinstance(v, str)}
        except RunError:
            found = {}
    if "torch" not in found:
        found = {}
        for name in ("torch", "torchvision", "torchaudio"):
            try:
                found[name] = metadata.version(name)
            except metadata.PackageNotFoundError:
                continue
    return found


def readme_text(plan: LaunchPlan) -> str:
    """The text of the launch folder's README.md."""
    rc = plan.run
    versions = _versions(plan)
    torch_v = versions.get("torch", "")
    base, _, local = torch_v.partition("+")
    cuda = local if local.startswith("cu") else "cu130"
    pins = " ".join(f"{m}=={versions[m].partition('+')[0]}" for m in
                    ("torch", "torchvision", "torchaudio") if versions.get(m))
    pins = pins or "torch torchvision torchaudio"
    where = f"{plan.nodes} nodes x {plan.gpus} GPUs" if plan.nodes > 1 else \
        f"{plan.gpus} GPU{'s' * (plan.gpus != 1)}"
    title = rc.name or rc.model
    lines = [f"# Train {_comment(title)} on {where}", "",
             f"{_a(rc.task).capitalize()} run ({rc.model}) written by "
             f"Model Playground {__version__} "
             f"(`playground launch`){f' from {rc.source_run}' if rc.source_run else ''}. It "
             "trains with PyTorch's own distributed engine: `torchrun` starts one process per "
             "GPU and DistributedDataParallel keeps them in step.", "",
             f"- World size {plan.world_size} ({where}); global batch size "
             f"{rc.batch_size}, {plan.per_gpu_batch} per GPU. The same settings train the "
             "same steps and schedule as on one GPU.",
             "- Settings: `config.json` (every option of the run; a run config that "
             "`playground launch` reads back).",
             "- `launch.sh`: the torchrun command; `slurm.sbatch`: the same under Slurm.",
             *(["- `graph.json`: the Builder graph the run trains (`--graph`); every process "
                "builds it from there."] if rc.graph is not None else []), ""]
    for note in plan.notes:
        lines.append(f"> {note}")
    if plan.notes:
        lines.append("")
    lines += ["## 1. Install", "",
              "On the machine (every node), in a fresh virtual environment: a CUDA build of "
              f"torch (the run used torch {torch_v or 'unknown'}; pick the CUDA version your "
              "driver supports at https://pytorch.org/get-started/locally/), then this app at "
              f"the same version ({__version__}) from its source:", "",
              "```sh",
              "python3 -m venv .venv && . .venv/bin/activate",
              f"pip install {pins} --index-url https://download.pytorch.org/whl/{cuda}",
              "pip install /path/to/model-playground   # a copy of the app's source, or its "
              "wheel (pip wheel --no-deps /path/to/model-playground)",
              "python -m playground --version && torchrun --help > /dev/null   # both work",
              "```", "",
              "Training runs headless: no display is needed (the app's Qt libraries are "
              "installed but not loaded)."]
    if rc.task == "speech" and "demo:digits" in rc.data_list:
        lines += ["", "The built-in spoken digits are synthesised with espeak-ng: install it "
                  "too (`sudo apt-get install espeak-ng`)."]
    downloads = [d for d in rc.data_list if d in ("demo:mnist", "demo:fashion-mnist",
                                                  "demo:cifar10")]
    if downloads:
        lines += ["", f"{downloads[0]} is downloaded once into `home/cache/datasets` on the "
                  "first node: it needs internet access (or copy that folder from your own "
                  "app's data folder)."]
    lines += ["", "## 2. Copy the data", ""]
    if not plan.copies and plan.val_copy is None:
        lines.append(f"Nothing to copy: the data ({', '.join(rc.data_list)}) is built into the "
                     "app.")
    else:
        lines.append("Copy the training data into this folder (every node needs it, at the "
                     "same path; a shared file system is simplest):")
        lines.append("")
        lines.append("```sh")
        for c in (*plan.copies, *([plan.val_copy] if plan.val_copy else [])):
            slash = "" if _is_file(c.source) else "/"
            lines.append(f"rsync -a {_q(c.source.rstrip('/') + slash)} "
                         f"HOST:THIS_FOLDER/{_q(c.target + slash)}")
        lines.append("```")
        lines.append("")
        lines.append(f"Or keep it elsewhere and point `{DATA_VAR}` at it "
                     f"(`{DATA_VAR}=/data/x ./launch.sh`)"
                     + (f", and `{VAL_DATA_VAR}` at the validation folder." if plan.val_copy
                        else "."))
    lines += ["", "## 3. Start", "",
              "```sh", "./launch.sh"]
    if plan.nodes > 1:
        lines[-1] = ("MASTER_ADDR=first-node.example MASTER_PORT=29500 ./launch.sh   "
                     "# on every node")
    lines += ["```", ""]
    if plan.nodes > 1:
        lines += [f"Run it on each of the {plan.nodes} nodes with `MASTER_ADDR` set to the "
                  "first node's address: torchrun's c10d rendezvous then assigns the ranks "
                  "(or set `NODE_RANK` to 0, 1, … for a static rendezvous). The run folder is "
                  "written by the first process of the first node; resuming needs it on every "
                  "node, so keep this folder on a shared file system.", ""]
    lines += [f"Under Slurm: `cd` into this folder and `sbatch slurm.sbatch` (it asks for "
              f"{plan.nodes} node(s) with {plan.gpus} GPUs each and runs the rendezvous on the "
              "first node of the job; add your cluster's partition and time limit).", "",
              "Flags after `./launch.sh` are added to the train command (`./launch.sh "
              "--epochs 20`); the run folder appears as "
              f"`home/runs/{rc.task}/<date>-<name>/` (printed when training starts).", "",
              "The command:", "", "```sh", command_text(plan), "```", "",
              "## 4. Continue a stopped run", "",
              "```sh",
              "./launch.sh --resume                      # the newest run of this folder",
              f"./launch.sh --resume home/runs/{rc.task}/RUN_FOLDER",
              "sbatch slurm.sbatch --resume              # under Slurm",
              "```", "",
              "It continues exactly where the run stopped, with any number of GPUs "
              "(`--epochs N` / `--max-iters N` sets a new total). A run started on your own "
              f"machine continues here too: copy its folder into `home/runs/{rc.task}/` "
              "(its data must be at the path it recorded, or be built in).", "",
              "## 5. Bring the run back", "",
              f"Copy the run folder back (`home/runs/{rc.task}/<date>-<name>/`, with its "
              "`checkpoints/`) and import it into the app:", "",
              "- in the app: Runs → Import run folder… and choose the folder, or",
              "- `playground runs import PATH/TO/RUN_FOLDER`", "",
              "The imported run is browsed, compared, resumed and exported like any other; the "
              "folder you copied is left as it is.", ""]
    return "\n".join(lines)


def _is_file(source: str) -> bool:
    """Whether a data path is a file (it is looked at when it exists here)."""
    path = Path(source).expanduser()
    if path.exists():
        return path.is_file()
    return path.suffix.lower() in (".txt", ".tsv", ".csv", ".text")


def check_out_dir(out: str | os.PathLike, force: bool = False,
                  plan: LaunchPlan | None = None) -> Path:
    """The launch folder, created if needed: refused when it is not empty (unless ``force``),
    inside the run folder it comes from, or cannot be written."""
    from playground.core.paths import ensure_folder

    path = Path(out).expanduser()
    if plan is not None and plan.run.source_run:
        run = Path(plan.run.source_run).resolve()
        target = path.resolve()
        if target == run or run in target.parents:
            raise StorageError(f"{path} is inside the run folder {run}; choose a folder outside "
                               "it, so the run is left as it is.")
    if path.exists() and not path.is_dir():
        raise StorageError(f"{path} is a file, not a folder; choose a folder for the launch "
                           "files.")
    if path.is_dir():
        try:
            entries = [p.name for p in path.iterdir()]
        except OSError as exc:
            raise StorageError(f"The folder {path} cannot be read ({exc.strerror or exc}); "
                               "choose another one.") from None
        if entries and not force:
            raise StorageError(f"The folder {path} exists and is not empty; choose an empty or "
                               "new folder, or use --force to write the launch files into it "
                               "(nothing else in it is changed).")
    ensure_folder(path)
    if not os.access(path, os.W_OK | os.X_OK):
        raise StorageError(f"The folder {path} cannot be written (permission denied); choose a "
                           "folder you can write to.")
    return path


def write_launch(plan: LaunchPlan, out: str | os.PathLike, *, force: bool = False
                 ) -> dict[str, Any]:
    """Write the launch folder for ``plan`` into ``out``; return ``{"out_dir", "files",
    "command"}``. Nothing but the files named in :data:`FILES` (with a Builder graph its
    graph.json, and an empty ``data/``) is written; an existing folder must be empty unless
    ``force``."""
    from playground.core.checkpoint import atomic_write_text

    path = check_out_dir(out, force, plan)
    config = plan.run.to_json()
    config["launch"] = {"nodes": plan.nodes, "gpus_per_node": plan.gpus,
                        "world_size": plan.world_size,
                        "global_batch_size": plan.run.batch_size,
                        "data_copies": {c.target: c.source for c in
                                        (*plan.copies, *([plan.val_copy] if plan.val_copy
                                                         else []))},
                        "written_by": f"Model Playground {__version__}"}
    if plan.run.source_run:
        config["source_run"] = plan.run.source_run
    texts = {"config.json": json.dumps(config, indent=2, ensure_ascii=False) + "\n",
             "launch.sh": launch_script(plan), "slurm.sbatch": sbatch_script(plan),
             "README.md": readme_text(plan)}
    if plan.run.graph is not None:  # named as the model, so `--graph` registers that name
        graph = {**plan.run.graph, "name": plan.run.model[len(BUILDER_PREFIX):]}
        texts[GRAPH_FILE] = json.dumps(graph, indent=1, ensure_ascii=False) + "\n"
    written = []
    try:
        for name, text in texts.items():
            target = path / name
            atomic_write_text(target, text)
            target.chmod(0o755 if name.endswith((".sh", ".sbatch")) else 0o644)
            written.append(str(target))
        if plan.copies or plan.val_copy:
            (path / "data").mkdir(exist_ok=True)
    except PermissionError:
        raise StorageError(f"The folder {path} cannot be written (permission denied); choose a "
                           "folder you can write to.") from None
    except OSError as exc:
        raise StorageError(f"The launch files could not be written to {path} "
                           f"({exc.strerror or exc}).") from None
    return {"out_dir": str(path), "files": written, "command": command_text(plan),
            "notes": list(plan.notes)}


def make_launch(source: str | os.PathLike, gpus: int, nodes: int, out: str | os.PathLike, *,
                force: bool = False) -> dict[str, Any]:
    """:func:`plan_launch` then :func:`write_launch`."""
    return write_launch(plan_launch(source, gpus, nodes), out, force=force)
