"""Run configs: what run to train, read from a run folder or a RUN_CONFIG file and checked.

A :class:`RunConfig` is a run to train elsewhere: its task, model, full config (every option,
missing ones at their defaults), data and the ``train`` options that are not in the config.
:func:`load_source` reads one from a run folder (its run.json, :func:`run_config_from_run`) or
from a RUN_CONFIG file (:func:`read_run_config`, :func:`parse_run_config`), and checks that the
model is one this app trains (:func:`check_trainable`); :func:`train_arguments` turns it back
into the app's own ``train`` command, with every option of the config as a flag (the schema's
kebab-case names), so the command reproduces the run's settings exactly.
:mod:`playground.core.launch` builds launch folders (torchrun, Slurm) from it.

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

A Builder graph model ("model": "graph:NAME") is registered from the config's "graph"
entry when it is read (through :data:`playground.core.runs.RUN_MODEL_HOOKS`), and its train
command gets ``--graph GRAPH`` instead of ``--model``.

A launch folder's ``config.json`` is a RUN_CONFIG too: its extra ``launch`` and
``source_run`` entries are ignored when it is read back.

Qt-free; no task package is imported until a source is checked (:data:`TASKS` names them).
"""

from __future__ import annotations

import importlib
import json
import os
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from playground.core.errors import ConfigError, RunError

FORMAT = "playground-run-config"
FORMAT_VERSION = 1
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
