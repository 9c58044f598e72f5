"""Chunking and rank fusion: pure functions, tested on their own."""

from __future__ import annotations

import itertools

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from tenantry.workloads.knowledge.chunking import ChunkingPolicy, split_into_chunks
from tenantry.workloads.knowledge.fusion import reciprocal_rank_fusion

SMALL = ChunkingPolicy(max_chars=100, overlap_chars=30)


def test_short_paragraphs_share_a_chunk() -> None:
    text = "First paragraph here.\n\nSecond one.\n\n\n   Third.  "
    assert split_into_chunks(text) == ["First paragraph here. Second one. Third."]


def test_nothing_but_whitespace_gives_no_chunk() -> None:
    assert split_into_chunks("  \n\n \t ") == []


def test_paragraphs_that_do_not_fit_start_a_chunk_with_an_overlap() -> None:
    first = "Alpha beta gamma delta. " * 2 + "Epsilon zeta eta."  # 65 characters
    second = "Theta iota kappa lambda mu nu xi omicron pi rho sigma."  # 54 characters
    chunks = split_into_chunks(f"{first}\n\n{second}", SMALL)
    assert chunks == [
        first.strip(),
        # The last sentence of the first chunk (17 characters, within the 30) comes along.
        f"Epsilon zeta eta. {second}",
    ]


def test_a_long_paragraph_is_cut_between_sentences() -> None:
    sentences = [f"Sentence number {n} says something short." for n in range(6)]  # 40 each
    policy = ChunkingPolicy(max_chars=100, overlap_chars=45)
    chunks = split_into_chunks(" ".join(sentences), policy)
    assert len(chunks) == 5
    assert all(len(chunk) <= policy.max_chars for chunk in chunks)
    for chunk in chunks:
        assert chunk.endswith("short.")  # never a sentence cut in two
    # Every sentence is somewhere, in order, and each chunk after the first repeats one.
    assert [s for s in sentences if any(s in c for c in chunks)] == sentences
    for before, after in itertools.pairwise(chunks):
        assert after.split(". ")[0] + "." in before


def test_a_long_sentence_is_cut_between_words_and_a_long_word_where_it_must() -> None:
    words = " ".join(f"word{n:03d}" for n in range(40))  # 319 characters, no sentence end
    chunks = split_into_chunks(words, ChunkingPolicy(max_chars=50, overlap_chars=0))
    assert all(len(c) <= 50 for c in chunks)
    assert " ".join(chunks) == words
    giant = "x" * 120
    assert split_into_chunks(giant, ChunkingPolicy(max_chars=50, overlap_chars=0)) == [
        "x" * 50,
        "x" * 50,
        "x" * 20,
    ]


def test_the_same_text_always_gives_the_same_chunks() -> None:
    text = "\n\n".join(f"Paragraph {n}. " + "Some words follow here. " * 9 for n in range(30))
    first = split_into_chunks(text)
    assert first == split_into_chunks(text)
    assert len(first) > 5
    assert all(len(chunk) <= 1200 for chunk in first)


@pytest.mark.parametrize(("max_chars", "overlap"), [(10, 0), (100, 50), (100, -1)])
def test_a_policy_must_make_sense(max_chars: int, overlap: int) -> None:
    with pytest.raises(ValueError, match="must be"):
        ChunkingPolicy(max_chars=max_chars, overlap_chars=overlap)


@settings(max_examples=200, deadline=None)
@given(
    st.text(alphabet=st.sampled_from("ab .!?\n"), max_size=600),
    st.integers(min_value=20, max_value=120),
)
def test_chunks_respect_the_budget_and_keep_every_word(text: str, max_chars: int) -> None:
    policy = ChunkingPolicy(max_chars=max_chars, overlap_chars=max_chars // 4)
    chunks = split_into_chunks(text, policy)
    assert all(0 < len(chunk) <= max_chars for chunk in chunks)
    assert all(chunk == chunk.strip() for chunk in chunks)
    # Every word of the text is in some chunk (words longer than the budget in pieces).
    joined = " ".join(chunks)
    for word in text.split():
        assert word[:max_chars] in joined


def test_fusion_rewards_what_both_rankings_agree_on() -> None:
    fused = reciprocal_rank_fusion([["a", "b", "c"], ["c", "a", "d"]])
    assert [item for item, _ in fused] == ["a", "c", "b", "d"]
    scores = dict(fused)
    assert scores["a"] == pytest.approx(1 / 61 + 1 / 62)
    assert scores["c"] == pytest.approx(1 / 63 + 1 / 61)
    assert scores["d"] == pytest.approx(1 / 63)


def test_fusion_of_one_ranking_keeps_its_order() -> None:
    assert [item for item, _ in reciprocal_rank_fusion([["x", "y", "z"], []])] == ["x", "y", "z"]
    assert reciprocal_rank_fusion([[], []]) == []
