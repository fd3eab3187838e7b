"""Qt-free engine: devices, trainer and events, run store, checkpoints, schemas, metrics.

Nothing in this package imports Qt (a test enforces it); torch is imported by the modules
that need it, not by this ``__init__``.
"""
