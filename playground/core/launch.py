"""Run on a bigger machine: a folder with everything needed to train a run with ``torchrun``.

``playground launch RUN_CONFIG|RUN_DIR --gpus N [--nodes M] --out DIR`` and the GUI's "Run on
a bigger machine…" dialog call :func:`plan_launch` (read and check the source) and
:func:`write_launch` (write the folder)::

    DIR/
        config.json     the run's configuration: a RUN_CONFIG plus a "launch" entry
        launch.sh       the exact torchrun command; ``./launch.sh --resume [RUN_DIR]`` continues
        slurm.sbatch    the same under Slurm: srun torchrun, rendezvous on the job's first node
        README.md       what to install, what data to copy where, how to start, what to copy back
        data/           (only when the run's data is not built in) where the data is copied to
        home/           made by the first run: PLAYGROUND_HOME, with home/runs/<task>/<run>/

The source (a run folder, its run.json, or a RUN_CONFIG file: the JSON format is described in
:mod:`playground.core.runconfig`) is read and checked as a
:class:`~playground.core.runconfig.RunConfig`. The training command is the app's own ``train``
command with every option of the run's config as a flag
(:func:`~playground.core.runconfig.train_arguments`), so the folder reproduces the run's
settings exactly; ``batch_size`` is the *global* batch (split over the processes by
:mod:`playground.core.distributed`), so N GPUs train the same steps and schedule as one.

A Builder graph travels with the folder: it is written as ``graph.json`` beside launch.sh and
the train command gets ``--graph "$HERE"/graph.json`` instead of ``--model`` (every process
registers it from there; the run folder keeps its own graph.json, so ``--resume`` needs nothing
more).

A launch folder's ``config.json`` is a RUN_CONFIG (its extra ``launch`` and ``source_run``
entries are ignored when it is read back), so
``playground launch DIR/config.json --gpus 8 --out DIR2`` makes another launch of the same run.

This module plans the launch (:class:`LaunchPlan`, :func:`plan_launch`: GPU and node
counts, the data to copy, notes) and renders and writes the folder (:func:`command_text`,
:func:`launch_script`, :func:`sbatch_script`, :func:`readme_text`, :func:`write_launch`,
:func:`make_launch`).

Qt-free; no task package is imported until a source is checked (see
:data:`playground.core.runconfig.TASKS`).
"""

from __future__ import annotations

import json
import os
import shlex
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from playground import __version__
from playground.core.errors import ConfigError, RunError, StorageError
from playground.core.runconfig import (
    BUILDER_PREFIX,
    GRAPH_FILE,
    RunConfig,
    _a,
    load_source,
    train_arguments,
)

MAX_GPUS = 1024        # per node
MAX_NODES = 10_000
DEFAULT_PORT = 29500   # torchrun's own default rendezvous port
DATA_VAR = "PLAYGROUND_DATA"          # not DATA: some clusters set $DATA to a user's folder
VAL_DATA_VAR = "PLAYGROUND_VAL_DATA"
HOME_VAR = "PLAYGROUND_LAUNCH_HOME"   # where the run folder goes (default: DIR/home)
FILES = ("config.json", "launch.sh", "slurm.sbatch", "README.md")


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
