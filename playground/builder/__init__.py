"""The Builder's Qt-free core: a network as a graph of blocks.

- :mod:`~playground.builder.blocks` — the block catalogue (palette groups, one-line docs,
  parameter schemas that parse typed text, the real ``torch.nn`` module of each block).
- :mod:`~playground.builder.graph` — :class:`Graph` (validated edits, JSON format with a
  version), :func:`analyze` (order, loops, unconnected inputs, dangling blocks), auto-layout.
- :mod:`~playground.builder.shapes` — :func:`infer`: shapes, parameters and mismatches from the
  real modules on meta tensors; :class:`ShapeCache` for live re-inference after an edit.
- :mod:`~playground.builder.build` — :class:`GraphModule` and weights next to a graph.
- :mod:`~playground.builder.codegen` — readable PyTorch source (written, never run here).
- :mod:`~playground.builder.templates` — the teaching templates (``lenet5`` ...).
- :mod:`~playground.builder.import_fx` — torch.fx import; a user's file in a child process.
- :mod:`~playground.builder.registry` — a graph as a registry model entry.

Importing ``blocks``, ``graph`` and ``templates`` does not import torch.
"""
