"""What every store backend shares: the model it is bound to (checked by fingerprint, loaded from
its record), the checks and embedding of items to write, and the checks of a query vector.

:class:`ModelBound` is a mixin; a backend provides ``path``, ``meta`` (its recorded settings:
``model``, ``model_fingerprint``, ``dim``, ...), ``dim``, ``metric``, ``model_spec``, ``_encoder``
and ``_lock``.
"""

from __future__ import annotations

import json
import math
import uuid
from collections.abc import Mapping, Sequence

import numpy as np

from ..encoder import encode_as
from ..errors import InvalidInput, ModelMismatch, StoreError
from ..identity import fingerprint_of
from ..similarity import as_matrix, l2_normalize

__all__ = ["ModelBound"]


class ModelBound:
    """The model-record and input-checking half of a store (see the module doc)."""

    def _check_encoder(self, encoder) -> None:
        """Refuse an encoder that is not the model the store's vectors were made by."""
        name, dim = self.meta.get("model"), self.meta.get("dim")
        recorded, theirs = self.meta.get("model_fingerprint"), fingerprint_of(encoder)
        if recorded is not None and theirs is not None:
            if recorded != theirs:
                raise ModelMismatch(
                    f"the store {self.path} holds vectors made by the model {name!r} (fingerprint "
                    f"{recorded[:12]}); {encoder.name!r} is a different model (fingerprint "
                    f"{theirs[:12]}), whatever its name or folder. Use the same model, or a new store."
                )
        elif name is not None and name != encoder.name:
            raise ModelMismatch(
                f"the store {self.path} holds vectors made by the model {name!r}; it cannot be "
                f"searched or extended with {encoder.name!r}. Use the same model, or a new store."
            )
        if dim is not None and int(dim) != encoder.dim:
            raise ModelMismatch(f"the store {self.path} holds {dim}-dimensional vectors; the encoder "
                                f"{encoder.name!r} makes {encoder.dim}-dimensional ones")

    @property
    def encoder(self):
        """The encoder that embeds texts (and other items) for this store.

        Loaded on first use from the spec the store recorded (``embedkit.load(store.model_spec)``)
        when none was given, and checked against the record.
        """
        if self._encoder is None and self.model_spec is not None:
            with self._lock:
                if self._encoder is None:
                    self.encoder = self._load_recorded_model()
        return self._encoder

    @encoder.setter
    def encoder(self, value) -> None:
        if value is not None:
            self._check_encoder(value)
        self._encoder = value

    def _load_recorded_model(self):
        from ..errors import EmbedkitError
        from ..models import load

        spec = self.model_spec
        if spec == "default":  # recorded before 0.2, when the default model was all-MiniLM-L6-v2
            spec = "all-MiniLM-L6-v2"
        try:
            return load(spec)
        except EmbedkitError as exc:
            raise type(exc)(f"the store {self.path} was made with the model {spec!r}, which cannot be "
                            f"loaded now ({exc}); open it with VectorStore(path, encoder=...)") from exc

    def _prepare(self, texts, ids, metadata, vectors, batch_size, progress):
        if texts is None and vectors is None:
            raise InvalidInput("add() needs texts, vectors, or both")
        if texts is not None:
            if isinstance(texts, str) or not isinstance(texts, Sequence):
                raise InvalidInput(f"texts must be a list of str, got {type(texts).__name__}")
            for i, t in enumerate(texts):
                if not isinstance(t, str):
                    raise InvalidInput(f"text {i} must be a str, got {type(t).__name__}")
        n = len(texts) if texts is not None else len(vectors)
        if ids is None:
            ids = [uuid.uuid4().hex for _ in range(n)]
        else:
            if isinstance(ids, str) or len(ids) != n:
                raise InvalidInput(f"ids must be a list with one id per item ({n}), got {ids!r:.80}")
            for i in ids:
                if not isinstance(i, str) or not i:
                    raise InvalidInput(f"ids must be non-empty strings, got {i!r}")
            if len(set(ids)) != n:
                dup = next(i for i in ids if ids.count(i) > 1)
                raise InvalidInput(f"the id {dup!r} is given more than once")
        if metadata is None:
            metas = ["{}"] * n
        else:
            if len(metadata) != n:
                raise InvalidInput(f"metadata must have one dict per item ({n}), got {len(metadata)}")
            metas = []
            for i, m in enumerate(metadata):
                if not isinstance(m, Mapping):
                    raise InvalidInput(f"metadata {i} must be a dict, got {type(m).__name__}")
                try:
                    metas.append(json.dumps(dict(m), ensure_ascii=False, allow_nan=False))
                except (TypeError, ValueError) as exc:
                    raise InvalidInput(f"metadata {i} cannot be stored as JSON: {exc}") from exc
        if vectors is None:
            if self.encoder is None:
                raise InvalidInput("this store has no encoder: pass vectors=, or open it with "
                                   "VectorStore(path, encoder=embedkit.load(...))")
            for i, t in enumerate(texts):
                if not t.strip():
                    raise InvalidInput(f"text {i} is empty; there is nothing to embed")
            vectors = encode_as(self.encoder, texts, "document", batch_size=batch_size, progress=progress)
        dim = self.dim if self.dim is not None else getattr(self._encoder, "dim", None)
        vectors = as_matrix(vectors, name="vectors", dim=dim)
        if len(vectors) != n:
            raise InvalidInput(f"got {len(vectors)} vectors for {n} items")
        if self.metric == "cosine":
            vectors = l2_normalize(vectors)
        return list(texts) if texts is not None else [""] * n, list(ids), metas, vectors

    def _query_vector(self, query) -> np.ndarray:
        if isinstance(query, str):
            if self.encoder is None:
                raise InvalidInput("a text query needs the store's encoder: open the store with "
                                   f"VectorStore(path, encoder=embedkit.load({self.model_spec!r}))")
            q = encode_as(self.encoder, [query], "query", progress=False)
        else:
            q = query
        dim = self.dim
        if dim is None:
            raise StoreError("the store is empty: add items before a vector search")
        if not (isinstance(q, np.ndarray) and q.dtype == np.float32 and q.shape == (dim,)):
            q = as_matrix(q, name="query vector", dim=dim)
            if len(q) != 1:
                raise InvalidInput(f"search takes one query vector, got {len(q)}")
            q = q[0]
        # One dot product checks finiteness (NaN and inf propagate into it) and gives the norm.
        squared = float(q @ q)
        if not math.isfinite(squared):
            raise InvalidInput("the query vector contains NaN or infinite values (or values too large to square)")
        if squared == 0.0 and self.metric == "cosine":
            raise InvalidInput("the query vector is all zeros: it has no direction to compare by cosine")
        if self.metric == "cosine" and abs(squared - 1.0) > 1e-6:  # not unit length already
            q = q / max(math.sqrt(squared), 1e-12)
        return q
