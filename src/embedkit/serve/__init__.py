"""The HTTP service (OpenAI-compatible ``/v1/embeddings``, search, similarity) and its web pages.

``embedkit serve`` runs it; :func:`create_app` builds the FastAPI app for other servers. FastAPI,
uvicorn and prometheus-client come with ``pip install 'embedkit[serve]'``.
"""

from __future__ import annotations

__all__ = ["create_app", "Limits"]


def __getattr__(name):
    if name == "create_app":
        from .app import create_app

        return create_app
    if name == "Limits":
        from .service import Limits

        return Limits
    raise AttributeError(name)
