"""CTC greedy and beam decoding on hand-made posteriors; WER/CER on known strings."""

from __future__ import annotations

import itertools

import numpy as np
import pytest

from playground.speech.decode import (
    beam_search,
    emissions,
    forced_frames,
    forced_spans,
    greedy_decode,
    greedy_decode_batch,
    greedy_spans,
    phrases,
    word_segments,
)
from playground.speech.metrics import cer, edit_counts, wer

LABELS = ["∅", "a", "b", " "]


def _collapse(path, blank=0):
    out, prev = [], None
    for p in path:
        if p != prev and p != blank:
            out.append(p)
        prev = p
    return tuple(out)


def test_greedy_collapses_repeats_and_drops_blanks():
    P = np.array([[.1, .8, .05, .05], [.1, .8, .05, .05], [.8, .1, .05, .05],
                  [.1, .8, .05, .05], [.1, .1, .7, .1], [.1, .1, .1, .7], [.1, .1, .7, .1]])
    assert greedy_decode(np.log(P)) == [1, 1, 2, 3, 2]
    assert emissions(P, LABELS) == [(0, "a"), (3, "a"), (4, "b"), (5, " "), (6, "b")]
    batch = np.stack([np.log(P), np.log(P)])
    assert greedy_decode_batch(batch, [7, 2]) == [[1, 1, 2, 3, 2], [1]]


def test_beam_search_finds_the_most_probable_labelling():
    # Greedy picks blank at every frame ("" with p = 0.6^3 = 0.216), but "a" collects
    # more probability over its many alignments: beam search must find it.
    P = np.array([[0.6, 0.4, 0.0], [0.6, 0.4, 0.0], [0.6, 0.4, 0.0]]) + 1e-9
    P /= P.sum(1, keepdims=True)
    assert greedy_decode(np.log(P)) == []
    best, score = beam_search(np.log(P), beam_width=4)[0]
    assert best == (1,)
    # brute force: sum the probability of every path, grouped by its labelling
    totals: dict[tuple[int, ...], float] = {}
    for path in itertools.product(range(3), repeat=3):
        p = float(np.prod([P[t, c] for t, c in enumerate(path)]))
        totals[_collapse(path)] = totals.get(_collapse(path), 0.0) + p
    assert max(totals, key=totals.get) == (1,)
    assert np.exp(score) == pytest.approx(totals[(1,)], rel=1e-6)


def test_beam_search_matches_brute_force_on_random_posteriors():
    rng = np.random.default_rng(0)
    for _ in range(5):
        P = rng.dirichlet(np.ones(3) * 0.7, size=5)
        totals: dict[tuple[int, ...], float] = {}
        for path in itertools.product(range(3), repeat=5):
            p = float(np.prod([P[t, c] for t, c in enumerate(path)]))
            totals[_collapse(path)] = totals.get(_collapse(path), 0.0) + p
        results = beam_search(np.log(P), beam_width=64, top_symbols=3)
        best, score = results[0]
        assert best == max(totals, key=totals.get)
        assert np.exp(score) == pytest.approx(totals[best], rel=1e-6)
        assert beam_search(P, beam_width=64, top_symbols=3)[0][0] == best  # probabilities


def test_forced_frames_and_segments():
    P = np.full((10, 4), 0.02)
    for t, c in enumerate([1, 1, 0, 2, 3, 3, 0, 2, 0, 0]):
        P[t, c] = 0.94
    ids = greedy_decode(np.log(P))
    assert ids == [1, 2, 3, 2]
    assert forced_frames(np.log(P), ids) == [0, 3, 4, 7]
    spans = greedy_spans(np.log(P))
    assert spans == [(0, 2, 1), (3, 4, 2), (4, 6, 3), (7, 8, 2)]
    assert forced_spans(np.log(P), ids) == spans
    assert forced_spans(np.log(P), [1, 2, 1, 2, 1, 2, 1, 2, 1, 2, 1]) == [
        (k, k + 1, i) for k, i in enumerate([1, 2, 1, 2, 1, 2, 1, 2, 1, 2, 1])]  # no alignment
    words = word_segments([(s, e, LABELS[i]) for s, e, i in spans], frame_seconds=0.02,
                          offset=1.0)
    assert words == [{"start": 1.0, "end": 1.08, "text": "ab"},
                     {"start": 1.14, "end": 1.16, "text": "b"}]
    joined = phrases(words + [{"start": 3.0, "end": 3.2, "text": "a"}], pause=0.5)
    assert [p["text"] for p in joined] == ["ab b", "a"]


def test_wer_and_cer_on_known_strings():
    assert wer("the cat sat on the mat", "the cat sat on the mat") == 0.0
    assert wer("the cat sat", "the bat sat down") == pytest.approx(2 / 3)  # 1 sub + 1 ins
    assert wer(["one two", "three"], ["one", "three four"]) == pytest.approx(2 / 3)
    assert cer("abcd", "abd") == pytest.approx(1 / 4)
    assert cer("seven  one", "seven one") == 0.0  # whitespace runs collapse
    assert edit_counts("kitten", "sitting", unit="char") == (3, 6)
    assert wer("", "") == 0.0 and wer("", "extra") == 1.0
    with pytest.raises(ValueError):
        wer(["a"], ["a", "b"])
