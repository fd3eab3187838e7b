"""``playground launch RUN_CONFIG|RUN_DIR --gpus N [--nodes M] --out DIR [--force]``.

Writes a folder to take a run to a bigger machine (see :mod:`playground.core.launch`):
config.json, launch.sh with the exact ``torchrun`` command, slurm.sbatch and a README saying
what to install, what data to copy where, how to start, and how to bring the run back
(``playground runs import``). Prints the command, any notes, then the folder as the last line.
"""

from __future__ import annotations

import argparse
import sys


def register(groups, common) -> None:
    from playground.core import launch

    parser = groups["root"].add_parser(
        "launch", help="write a folder that trains a run on a bigger machine with torchrun",
        description="Write DIR with the run's configuration (config.json), launch.sh (the exact "
                    "torchrun command; ./launch.sh --resume continues the run), a Slurm sbatch "
                    "script and a README (what to install, what data to copy where, how to "
                    "start, what to copy back). The run's batch size is the global batch, "
                    "shared by all GPUs, so the training is the same as on one.",
        epilog="RUN_CONFIG is a JSON file: {\"task\": \"image\", \"model\": \"small_cnn\", "
               "\"config\": {\"epochs\": 8, ...}, \"data\": \"demo:digits\"} (optional: "
               "\"name\", and for speech \"speech_task\", \"label_pattern\", \"val_data\"); "
               "config options not given take their defaults. A launch folder's config.json "
               "is one.")
    parser.add_argument("source", metavar="RUN_CONFIG|RUN_DIR",
                        help="a run folder, or a run config JSON file")
    parser.add_argument("--gpus", type=int, required=True, metavar="N",
                        help=f"GPUs (processes) per node, 1 to {launch.MAX_GPUS}")
    parser.add_argument("--nodes", type=int, default=1, metavar="M",
                        help="machines (default: 1); more than one uses torchrun's rendezvous "
                             "on the first node (MASTER_ADDR)")
    parser.add_argument("--out", required=True, metavar="DIR",
                        help="the folder to write (new or empty)")
    parser.add_argument("--force", action="store_true",
                        help="write into a folder that is not empty (only the launch files "
                             "are replaced)")
    common.add_verbose(parser, default=argparse.SUPPRESS)
    parser.set_defaults(handler=_launch, quiet=False)


def _launch(args: argparse.Namespace) -> int:
    from playground.cli.common import safe_text
    from playground.core.launch import plan_launch, write_launch

    plan = plan_launch(args.source, args.gpus, args.nodes)
    result = write_launch(plan, args.out, force=args.force)
    for note in result["notes"]:
        print(f"note: {safe_text(note)}", file=sys.stderr)
    print(safe_text(result["command"]))
    print(f"wrote {', '.join(name.rsplit('/', 1)[-1] for name in result['files'])}; copy the "
          "folder to the bigger machine and follow its README.md", file=sys.stderr)
    print(safe_text(result["out_dir"]))
    return 0
