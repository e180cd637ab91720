# The two commands of the README: `make demo` and `make test`. Both create .venv when it is missing.
PYTHON ?= python3.11
VENV := .venv
BIN := $(VENV)/bin
STAMP := $(VENV)/.installed

.PHONY: demo test test-all lint model labels spread evaluate bench bench-imap bench-nightly lock clean

$(STAMP): requirements.lock pyproject.toml
	test -x $(BIN)/python || $(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install --quiet --upgrade "pip==24.3.1"
	$(BIN)/pip install --quiet -r requirements.lock
	# dostoevsky pins fasttext==0.9.2, which does not build; fasttext-wheel (in the lock) provides the module.
	$(BIN)/pip install --quiet --no-deps "dostoevsky==0.6.0"
	$(BIN)/pip install --quiet --no-deps -e .
	$(BIN)/python -c "import fasttext, dostoevsky.models, spacy, pymorphy3, dawg, sklearn"
	touch $(STAMP)

demo: $(STAMP)
	$(BIN)/clientpulse demo

test: $(STAMP)
	$(BIN)/python -m pytest

test-all: $(STAMP)
	$(BIN)/python -m pytest -m ""

lint: $(STAMP)
	$(BIN)/ruff check .

model: $(STAMP)
	$(BIN)/python -m nlp.training.train_mood

labels: $(STAMP)
	$(BIN)/python -m nlp.training.train_labels

# Ten retrains of the label classifier, each without 1 % of the training rows: the spread of one retrain.
spread: $(STAMP)
	$(BIN)/python -m nlp.training.spread

evaluate: $(STAMP)
	$(BIN)/clientpulse evaluate

bench: $(STAMP)
	$(BIN)/python benchmarks/analyze.py

bench-imap: $(STAMP)
	$(BIN)/python benchmarks/imap_ingest.py --runs 3

# Builds a 1,000,000-message database once (~2 GB under $TMPDIR/clientpulse-nightly-bench), then times the run.
bench-nightly: $(STAMP)
	$(BIN)/python benchmarks/nightly.py

# Upgrade: edit the ranges in pyproject.toml, then `make lock` and commit requirements.lock.
lock:
	rm -rf .lock-venv && $(PYTHON) -m venv .lock-venv
	.lock-venv/bin/pip install --quiet "pip==24.3.1" && .lock-venv/bin/pip install --quiet ".[dev]"
	.lock-venv/bin/pip freeze --exclude clientpulse > requirements.lock
	rm -rf .lock-venv

clean:
	rm -rf $(VENV)
