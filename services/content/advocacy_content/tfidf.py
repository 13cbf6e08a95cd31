"""TF-IDF vectors of stemmed documents, on SciPy's sparse matrices.

The ranking used scikit-learn's `TfidfVectorizer` with its defaults for this: raw term counts,
smoothed idf (`ln((1 + n) / (1 + df)) + 1`), each row scaled to unit length, float32. Importing
scikit-learn cost the content service 1.6-2 s of CPU at every start (measured in
docs/content.md, "Start-up"), for these few lines; `tests/content/test_tfidf.py` checks that the
vectors are scikit-learn's, to float32 precision, with scikit-learn as a test dependency only.
"""

from __future__ import annotations

import re
from collections.abc import Sequence

import numpy as np
import numpy.typing as npt
from scipy import sparse

_WORD = re.compile(r"(?u)\b\w\w+\b")


def tokenize(text: str) -> list[str]:
    """The words of `text` as scikit-learn's default tokenizer finds them: runs of two or more
    word characters."""
    return _WORD.findall(text)


class TfidfVectors:
    """Fitted on a list of documents (each a list of terms), then maps any document to a row."""

    def __init__(self) -> None:
        self.vocabulary: dict[str, int] = {}
        """Each term's column, the terms in sorted order."""
        self.idf: npt.NDArray[np.float32] = np.zeros(0, dtype=np.float32)

    def fit_transform(self, documents: Sequence[Sequence[str]]) -> sparse.csr_matrix:
        terms = sorted({term for document in documents for term in document})
        self.vocabulary = {term: column for column, term in enumerate(terms)}
        counts = self._counts(documents)
        documents_with = np.bincount(counts.indices, minlength=len(terms)).astype(np.float32)
        idf = np.full(len(terms), len(documents) + 1, dtype=np.float32)
        idf /= documents_with + np.float32(1)
        np.log(idf, out=idf)
        idf += np.float32(1)
        self.idf = idf
        return self._weighted(counts)

    def transform(self, documents: Sequence[Sequence[str]]) -> sparse.csr_matrix:
        """Terms not seen at fitting are left out, as scikit-learn does."""
        return self._weighted(self._counts(documents))

    def _counts(self, documents: Sequence[Sequence[str]]) -> sparse.csr_matrix:
        vocabulary = self.vocabulary
        indices: list[int] = []
        values: list[int] = []
        indptr = [0]
        for document in documents:
            counted: dict[int, int] = {}
            for term in document:
                column = vocabulary.get(term)
                if column is not None:
                    counted[column] = counted.get(column, 0) + 1
            for column in sorted(counted):
                indices.append(column)
                values.append(counted[column])
            indptr.append(len(indices))
        return sparse.csr_matrix(
            (
                np.asarray(values, dtype=np.float32),
                np.asarray(indices, dtype=np.int32),
                np.asarray(indptr, dtype=np.int64),
            ),
            shape=(len(documents), len(vocabulary)),
        )

    def _weighted(self, counts: sparse.csr_matrix) -> sparse.csr_matrix:
        """Counts times idf, each row scaled to unit length (a row without terms stays empty)."""
        counts.data *= self.idf[counts.indices]
        per_row = np.diff(counts.indptr)
        rows = np.repeat(np.arange(counts.shape[0]), per_row)
        lengths = np.sqrt(
            np.bincount(rows, weights=counts.data * counts.data, minlength=counts.shape[0])
        )
        counts.data /= np.repeat(lengths, per_row).astype(np.float32)
        return counts
