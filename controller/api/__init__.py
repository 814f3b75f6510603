"""The operator API (FastAPI): versioned, OpenAPI-described, on the local socket with peer
credentials or over TCP + TLS with login tokens. ``create_app`` is in ``app``."""
