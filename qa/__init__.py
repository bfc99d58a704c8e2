"""The question-answering service: retrieval, extractive answers with citations, the
HTTP API and the `qa` command line."""
