# Two entry points for newcomers: `make run` (serve the seeds) and `make test`.
VENV   ?= .venv
PYTHON ?= python3
BIN     = $(VENV)/bin
STAMP   = $(VENV)/.installed

.PHONY: install run test eval bench soak clean

$(STAMP): pyproject.toml
	$(PYTHON) -m venv $(VENV)
	$(BIN)/pip install -q --upgrade pip
	# The CPU build of torch first: otherwise sentence-transformers pulls a multi-GB CUDA build.
	$(BIN)/pip install -q torch==2.13.0
	$(BIN)/pip install -q -e '.[test]'
	touch $(STAMP)

install: $(STAMP)

run: install
	$(BIN)/qa serve --ingest-seeds

test: install
	$(BIN)/python -m pytest

eval: install
	$(BIN)/qa eval ../shared/eval/news-dev --output benchmarks/results/news-dev.json
	$(BIN)/qa eval ../shared/eval/seed-dev --output benchmarks/results/seed-dev.json
	$(BIN)/qa eval ../shared/eval/squad2-dev --output benchmarks/results/squad2-dev.json

# The real server under load (seeds and squad2-dev), against the bare embed + Chroma floor.
bench: install
	$(BIN)/python benchmarks/bench_server.py --duration 20 --corpus both --output benchmarks/results/bench.json

# Ten minutes of mixed reads at concurrency 16 on 127.0.0.1: errors and the server's RSS over time.
soak: install
	$(BIN)/python benchmarks/soak.py --duration 600 --output benchmarks/results/soak.json

clean:
	rm -rf data .pytest_cache
