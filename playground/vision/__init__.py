"""Image recognition, Qt-free.

- :mod:`~playground.vision.data`: decoding (``load_image``), folder scanning (``scan_folder``),
  datasets, ``build_transforms``, ``thumbnails``.
- :mod:`~playground.vision.demo`: built-in data (``DEMOS``) and ``load_data(spec, cfg, ctx)``.
- :mod:`~playground.vision.models`: the model ``REGISTRY``, ``build_model``,
  ``count_parameters``.
- :mod:`~playground.vision.config` / :mod:`~playground.vision.train`: ``ImageTrainConfig`` and
  ``make_train_job``.
- :mod:`~playground.vision.predict` / :mod:`~playground.vision.gradcam`: ``ImagePredictor``,
  Grad-CAM and ``overlay``.
- :mod:`~playground.vision.jobs`: the small jobs the Image tab runs (preview, model info,
  prediction).

Submodules are imported on use, so ``import playground.vision`` is cheap.
"""
