"""Translation data: the numbers demo's rules, reading and cleaning pairs files, the split,
the statistics, and the seq2seq tokenizers (bad input named clearly)."""

from __future__ import annotations

import pytest

from playground.core.errors import DatasetError, TokenizerError
from playground.text.numbers_fr import demo_pairs, english, french
from playground.text.pairs import load_pairs, split_pairs
from playground.text.tokenizers import (
    BOS_ID,
    EOS_ID,
    PAD_ID,
    build_pair_tokenizer,
    load_pair_tokenizer,
)

KNOWN = {
    0: ("zero", "zéro"),
    1: ("one", "un"),
    16: ("sixteen", "seize"),
    17: ("seventeen", "dix-sept"),
    21: ("twenty-one", "vingt et un"),
    22: ("twenty-two", "vingt-deux"),
    61: ("sixty-one", "soixante et un"),
    70: ("seventy", "soixante-dix"),
    71: ("seventy-one", "soixante et onze"),
    77: ("seventy-seven", "soixante-dix-sept"),
    80: ("eighty", "quatre-vingts"),
    81: ("eighty-one", "quatre-vingt-un"),
    91: ("ninety-one", "quatre-vingt-onze"),
    97: ("ninety-seven", "quatre-vingt-dix-sept"),
    100: ("one hundred", "cent"),
    101: ("one hundred and one", "cent un"),
    180: ("one hundred and eighty", "cent quatre-vingts"),
    200: ("two hundred", "deux cents"),
    201: ("two hundred and one", "deux cent un"),
    280: ("two hundred and eighty", "deux cent quatre-vingts"),
    1000: ("one thousand", "mille"),
    1001: ("one thousand and one", "mille un"),
    1080: ("one thousand and eighty", "mille quatre-vingts"),
    2000: ("two thousand", "deux mille"),
    2200: ("two thousand two hundred", "deux mille deux cents"),
    3481: ("three thousand four hundred and eighty-one",
           "trois mille quatre cent quatre-vingt-un"),
    9999: ("nine thousand nine hundred and ninety-nine",
           "neuf mille neuf cent quatre-vingt-dix-neuf"),
}


@pytest.mark.parametrize("n", sorted(KNOWN))
def test_numbers_follow_the_rules(n):
    assert (english(n), french(n)) == KNOWN[n]


def test_demo_covers_every_number_once():
    pairs = demo_pairs()
    assert len(pairs) == 10_000 and len({s for s, _ in pairs}) == 10_000
    assert len({t for _, t in pairs}) == 10_000
    assert not any("mille" in t and "milles" in t for _, t in pairs)
    with pytest.raises(ValueError):
        french(10_000)


def _write(tmp_path, text: str | bytes, name="pairs.tsv"):
    path = tmp_path / name
    if isinstance(text, bytes):
        path.write_bytes(text)
    else:
        path.write_text(text, encoding="utf-8")
    return path


def test_pairs_are_read_cleaned_and_extra_columns_ignored(tmp_path):
    path = _write(tmp_path, "Go.\tGeh.\tCC-BY 2.0 (France)\nHi.\tHallo!\nHi.\tHallo!\n"
                            "Cafe\u0301  now.\tJetzt.\n")
    data = load_pairs(path)
    assert data.pairs == [("Go.", "Geh."), ("Hi.", "Hallo!"), ("Café now.", "Jetzt.")]
    assert data.dropped["duplicate"] == 1
    swapped = load_pairs(path, swap=True, lowercase=True, dedupe=False)
    assert swapped.pairs[0] == ("geh.", "go.") and len(swapped) == 4


def test_bad_lines_are_counted_and_named(tmp_path):
    good = "".join(f"sentence {i}\tSatz {i}\n" for i in range(20))
    data = load_pairs(_write(tmp_path, good + "no tab here\n \tleer\n" + "x" * 300 + "\ty\n"),
                      max_length=200)
    assert data.dropped == {"no_tab": 1, "empty_side": 1, "too_long": 1, "duplicate": 0}
    text = " ".join(data.warnings)
    assert "line 21" in text and "line 22" in text and "longer than 200 characters" in text


def test_a_file_that_is_not_tab_separated_is_refused(tmp_path):
    with pytest.raises(DatasetError, match=r"not usable pairs .*line.* 1, 2"):
        load_pairs(_write(tmp_path, "one, eins\ntwo, zwei\nthree\tdrei\n"))


def test_non_utf8_names_the_line(tmp_path):
    path = _write(tmp_path, "a\tb\nc\td\ncaf\xe9\tx\n".encode("latin-1"))
    with pytest.raises(DatasetError, match="line 3 .*UTF-8"):
        load_pairs(path)


def test_utf16_with_a_byte_order_mark_is_read(tmp_path):
    path = _write(tmp_path, "\ufeffGo.\tGeh.\n".encode("utf-16-le"))
    assert load_pairs(path).pairs == [("Go.", "Geh.")]


def test_split_keeps_translations_of_one_source_together_and_is_seeded():
    pairs = [(f"s{i % 50}", f"t{i}") for i in range(200)]
    a = split_pairs(pairs, 0.1, 0.1, seed=3)
    b = split_pairs(pairs, 0.1, 0.1, seed=3)
    assert a == b and sum(a.sizes().values()) == 200
    sides = [{s for s, _ in part} for part in (a.train, a.val, a.test)]
    assert not (sides[0] & sides[1]) and not (sides[0] & sides[2]) and not (sides[1] & sides[2])
    assert split_pairs(pairs, 0.1, 0.1, seed=4) != a


def test_too_few_pairs_for_the_split():
    with pytest.raises(DatasetError, match="Too few sentence pairs for the split: 6 pairs"):
        split_pairs([(f"s{i}", f"t{i}") for i in range(6)], 0.1, 0.1)


def test_stats(tmp_path):
    data = load_pairs("demo:numbers-en-fr")
    stats = data.stats(seed=1, examples=3)
    assert stats.pairs == 10_000 and len(stats.examples) == 3
    assert stats.source_words[0].sum() == 10_000 and "10,000 pairs" in stats.summary()


def test_pair_tokenizers_round_trip_and_save(tmp_path):
    src = ["the cat sleeps", "a dog runs", "the dog sleeps"] * 10
    tgt = ["die Katze schläft", "ein Hund läuft", "der Hund schläft"] * 10
    for shared in (True, False):
        tok = build_pair_tokenizer("bpe:5000", src, tgt, shared=shared)
        assert tok.shared is shared
        ids = tok.target.encode("der Hund schläft")
        assert min(ids) > EOS_ID and {PAD_ID, BOS_ID, EOS_ID} == {0, 1, 2}
        assert tok.target.decode([BOS_ID, *ids, EOS_ID, PAD_ID]) == "der Hund schläft"
        folder = tmp_path / f"run{shared}"
        folder.mkdir()
        tok.save(folder)
        again = load_pair_tokenizer(folder)
        assert again.shared is shared
        assert again.source.encode("the cat runs") == tok.source.encode("the cat runs")
    char = build_pair_tokenizer("char", src, tgt)
    assert char.source.unknown_chars("the cat ß!") == ["ß", "!"]
    with pytest.raises(TokenizerError, match="never saw"):
        char.source.encode("the cat!", strict=True)
