"""The HTTP service (OpenAI-compatible ``/v1/embeddings``, search, similarity) and its web pages."""
