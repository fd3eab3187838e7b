"""Text generation, Qt-free: corpora, tokenizers, GPT and LSTM language models, training,
sampling, streaming generation and attention maps.

Submodules are imported on use, so ``import playground.text`` is cheap (no torch).

What the Text tab (and the CLI) use:

- :mod:`~playground.text.corpus`: ``load_corpus(spec) -> Corpus`` for a .txt file, a folder,
  a list of paths or ``"demo:pydoc"``; ``Corpus.stats`` (characters, lines, words, files),
  ``Corpus.split()`` (contiguous 90/10), ``Corpus.warnings`` (e.g. bytes replaced in text
  that is not UTF-8). Bad files raise ``DatasetError`` naming the file.
- :mod:`~playground.text.tokenizers`: spec strings ``char`` / ``bpe:N`` / ``unigram:N``;
  ``make_tokenizer_job(corpus, spec, preview) -> job`` (SentencePiece trained on the worker
  with ``Progress``; returns the tokenizer, its size and ``preview`` cut into pieces);
  ``Tokenizer.pieces(text)``, ``display_piece(piece)``, ``load_tokenizer(run_dir)``.
- :mod:`~playground.text.train`: ``TextTrainConfig`` (the form's schema: every field is also
  a ``playground train text`` flag) and ``make_train_job(cfg, corpus, name=, home=,
  tokenizer=) -> job`` emitting RunStarted, ModelSummary, Metric (train loss / lr /
  samples_per_s / tokens_per_s; val loss and perplexity at each evaluation), SampleText,
  CheckpointSaved, Log; Stop keeps the last checkpoint.
- :mod:`~playground.text.models`: ``TEXT_MODELS`` registry (``gpt``, ``lstm``) and
  ``describe_model(cfg, vocab_size) -> {"parameters", "tokens_per_step"}`` for the form.
- :mod:`~playground.text.generate`: ``TextGenerator.from_run(run_dir, device)`` with
  ``.stream(prompt, ...)`` and ``.attention(text, max_tokens=128) -> AttentionMaps``;
  ``make_generate_job`` (``TextChunk`` events with tokens/s, Stop keeps the text so far) and
  ``make_attention_job``; ``latest_text_run()``.
- :mod:`~playground.text.sampling`: temperature / top-k / top-p filters and
  ``generate_stream(model, tokenizer, prompt, ...)``.
- :mod:`~playground.text.gpt` / :mod:`~playground.text.lstm`: the model files.
"""
