"""The classical baseline for texts: TF-IDF of character n-grams, scored by PCA reconstruction error.

scikit-learn counts each text's n-grams (``CountVectorizer``) and weighs them (``TfidfTransformer``);
the PCA detector's principal subspace of the normal texts says what they share, and the score is
how much of a text's unit TF-IDF vector lies outside it. One extra column counts the n-grams the
vocabulary has not seen and lies outside the subspace, so a text of unseen n-grams scores high
instead of as an empty, typical vector. A saved detector keeps the vocabulary (JSON), the idf
weights and the PCA arrays (safetensors), and scores exactly like the fitted one.
"""

from __future__ import annotations

from typing import Any

import numpy as np

from gentoolkit.errors import ConfigError
from gentoolkit_anomaly.base import check_strings
from gentoolkit_anomaly.classical import PCADetector
from gentoolkit_anomaly.errors import AnomalyInputError

ANALYZERS = ("char_wb", "char", "word")
CHUNK = 512  # texts made dense at a time when scoring


class TfidfDetector(PCADetector):
    """Squared PCA reconstruction error of a text's TF-IDF vector (``analyzer`` "char_wb": character
    n-grams inside word boundaries, or "word"/"char"); ``n_components`` < 1 keeps that share of the
    variance. Text bench (bench/anomaly_text.py): AUROC 0.933, beside a small LM's perplexity 0.937."""

    registered_name = "anomaly-tfidf"

    def __init__(self, analyzer: str = "char_wb", ngram_range: Any = (2, 4), min_df: int = 2,
                 max_features: int | None = None, sublinear_tf: bool = True, lowercase: bool = True,
                 n_components: float = 0.9, contamination: float = 0.1):
        super().__init__(n_components, contamination)
        self.analyzer = analyzer
        self.ngram_range = ngram_range
        self.min_df = min_df
        self.max_features = max_features
        self.sublinear_tf = sublinear_tf
        self.lowercase = lowercase

    def _counter(self, vocabulary: dict[str, int] | None = None) -> Any:
        from sklearn.feature_extraction.text import CountVectorizer

        return CountVectorizer(analyzer=self.analyzer, ngram_range=tuple(self.ngram_range), min_df=self.min_df,
                               max_features=self.max_features, lowercase=self.lowercase, vocabulary=vocabulary)

    def _weigher(self) -> Any:
        from sklearn.feature_extraction.text import TfidfTransformer

        return TfidfTransformer(sublinear_tf=self.sublinear_tf)

    def _check_items(self, X: Any, reset: bool = False) -> list[str]:
        X = check_strings(X, "text")
        if reset:
            self.item_shape_, self.n_features_in_ = (), 1
        return X

    def _counts(self, X: list[str]) -> Any:
        """Sparse (n, vocabulary + 1): each text's n-gram counts, and last the number of unseen n-grams."""
        import scipy.sparse as sp

        counts = self.counter_.transform(X)
        analyze = self.counter_.build_analyzer()
        unseen = np.array([len(analyze(text)) for text in X]) - np.asarray(counts.sum(axis=1)).ravel()
        return sp.hstack([counts, unseen[:, None]], format="csr")

    def _fit(self, X: list[str]) -> None:
        if self.analyzer not in ANALYZERS:
            raise ConfigError(f"analyzer must be one of {', '.join(ANALYZERS)}; got {self.analyzer!r}.")
        try:
            self.counter_ = self._counter().fit(X)
            counts = self._counts(X)
            self.weigher_ = self._weigher().fit(counts)
            vectors = self.weigher_.transform(counts).toarray()
            vectors[:, -1] = 0.0  # the subspace holds seen n-grams only: unseen ones always count as residual
            super()._fit(vectors)
        except ValueError as err:  # no n-gram left after min_df, a parameter out of range, ...
            raise AnomalyInputError(f"TF-IDF could not be fitted on X ({len(X)} text(s)): {err}") from None

    def _anomaly_scores(self, X: list[str]) -> np.ndarray:
        vectors, pca_scores = self.weigher_.transform(self._counts(X)), super()._anomaly_scores
        return np.concatenate([pca_scores(vectors[start:start + CHUNK].toarray()) for start in range(0, len(X), CHUNK)])

    def _save_state(self, folder: Any) -> tuple[dict[str, np.ndarray], dict[str, Any]]:
        arrays, values = super()._save_state(folder)
        terms = sorted(self.counter_.vocabulary_, key=self.counter_.vocabulary_.get)
        return {**arrays, "idf_": self.weigher_.idf_}, {**values, "vocabulary": terms}

    def _load_state(self, folder, arrays, values, toolkit, device) -> None:
        super()._load_state(folder, arrays, values, toolkit, device)
        self.counter_ = self._counter({term: i for i, term in enumerate(values["vocabulary"])})
        self.weigher_ = self._weigher()
        self.weigher_.idf_, self.weigher_.n_features_in_ = arrays["idf_"], len(arrays["idf_"])
