"""The ranking's TF-IDF vectors are scikit-learn's `TfidfVectorizer` with its defaults, which the
content service used before (scikit-learn is a test dependency only now)."""

from __future__ import annotations

import random
from typing import TYPE_CHECKING

import numpy as np
import pytest

from advocacy_content.ranking import analysed
from advocacy_content.tfidf import TfidfVectors, tokenize

if TYPE_CHECKING:
    from sklearn.feature_extraction.text import TfidfVectorizer

TEXTS = [
    "Bæredygtige løsninger til fremtidens energi og bæredygtighed",
    "Sustainable energy: how our engineers cut emissions, and what sustainability means",
    "We are hiring: graduates in Aarhus and Copenhagen, hiring hiring",
    "",
    "a I ! ?",  # no word of two characters or more
    "Cloud security for the public sector; security by design",
]


def _sklearn(**options: object) -> TfidfVectorizer:
    """scikit-learn's vectorizer, imported when a test runs: importing it takes 0.8 s, which every
    pytest-xdist worker would otherwise pay while collecting."""
    from sklearn.feature_extraction.text import TfidfVectorizer

    return TfidfVectorizer(**options)


def _random_documents(count: int, seed: int) -> list[list[str]]:
    chance = random.Random(seed)
    terms = [f"t{n}" for n in range(60)]
    return [chance.choices(terms, k=chance.randrange(0, 25)) for _ in range(count)]


@pytest.mark.parametrize(
    "documents",
    [
        analysed(TEXTS),
        _random_documents(200, seed=1),
        _random_documents(7, seed=2),
        [["solo"]],
    ],
    ids=["stemmed texts", "200 random", "7 random", "one term"],
)
def test_the_vectors_are_scikit_learns(documents: list[list[str]]) -> None:
    ours, theirs = TfidfVectors(), _sklearn(analyzer=lambda stemmed: stemmed, dtype=np.float32)
    fitted = ours.fit_transform(documents)
    expected = theirs.fit_transform(documents)
    assert ours.vocabulary == theirs.vocabulary_
    np.testing.assert_allclose(ours.idf, theirs.idf_, rtol=1e-6)
    assert fitted.dtype == np.float32
    assert fitted.shape == expected.shape
    np.testing.assert_allclose(fitted.toarray(), expected.toarray(), rtol=1e-5, atol=1e-7)

    queries = [["t3", "t3", "unknown"], [], ["unknown"], *documents[:3]]
    np.testing.assert_allclose(
        ours.transform(queries).toarray(), theirs.transform(queries).toarray(), rtol=1e-5, atol=1e-7
    )


def test_every_row_with_a_term_has_unit_length_and_one_without_stays_empty() -> None:
    vectors = TfidfVectors().fit_transform([["a", "b", "b"], [], ["c"]])
    lengths = np.sqrt(np.asarray(vectors.multiply(vectors).sum(axis=1)).ravel())
    np.testing.assert_allclose(lengths, [1.0, 0.0, 1.0], rtol=1e-6)


def test_words_are_found_as_scikit_learns_tokenizer_finds_them() -> None:
    sklearn_tokenize = _sklearn().build_tokenizer()
    for text in [*TEXTS, "e-mail x2 ok_then 3d ÆØÅ æøå naïve café"]:
        assert tokenize(text) == sklearn_tokenize(text)
