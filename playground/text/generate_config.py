"""The sampling options of text generation: one schema for the Generate form and the CLI.

``playground generate``'s flags (``--max-new-tokens --temperature --top-k --top-p --seed``)
and the Generate page's "Sampling" form are both generated from :class:`GenerateConfig`, so
they share names, bounds, help and defaults. Qt-free and torch-free (the CLI parser imports it).
"""

from __future__ import annotations

from dataclasses import dataclass

from playground.core.schema import option


@dataclass
class GenerateConfig:
    """How to sample a continuation."""

    max_new_tokens: int = option(300, label="Max new tokens", min=0, max=100_000, step=50,
                                 help="How many tokens to generate.")
    temperature: float = option(0.8, label="Temperature", min=0.0, max=5.0, step=0.05,
                                help="Below 1: safer, more repetitive; above 1: more "
                                     "surprising; 0: always the most likely token (greedy).")
    top_k: int = option(0, label="Top-k", min=0, max=65_536,
                        help="Sample only from the k most likely tokens; 0 = off.")
    top_p: float = option(0.95, label="Top-p", min=0.01, max=1.0, step=0.01,
                          help="Sample from the smallest set of likely tokens whose "
                               "probabilities add up to p (nucleus sampling); 1 = off.")
    seed: int = option(-1, label="Seed", min=-1, max=2**31 - 1,
                       help="The same seed and settings give the same text; -1 = a "
                            "different draw each time.")

    @property
    def seed_or_none(self) -> int | None:
        return None if self.seed < 0 else self.seed
