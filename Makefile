# Two commands for a fresh machine: `make report` runs the whole study, `make test` the tests.
# Both create .venv and install the project into it first.

VENV ?= .venv
PY := $(VENV)/bin/python
SNAKEMAKE := $(VENV)/bin/snakemake
STAMP := $(VENV)/.installed-stamp
PROFILE := workflow/profiles/default

.PHONY: setup dataset-layer report carry-over compare quick replicate pilot pilot-runs design \
	pilot-penalty unlock \
	unlock-quick unlock-replicate unlock-pilot test check-report lint lint-imports test-slurm \
	bench clean

$(STAMP): pyproject.toml
	@test -x $(PY) || python3 -m venv $(VENV)
	$(PY) -m pip install --quiet --disable-pip-version-check --upgrade pip
	$(PY) -m pip install --quiet --disable-pip-version-check -e '.[test]'
	@touch $@

setup: $(STAMP)

# Run Snakemake with $(1), the extra arguments, in folder $(2). When it fails and lock files
# remain there (another Snakemake runs there, or a killed one left them), workflow/lock-hint.sh
# prints the one command that unlocks it, make $(3), and when that is safe. Nothing is unlocked
# automatically. The learning-rate sweeps and their choices run first (rules/tuning.smk): a
# choice that stands then reruns nothing after it.
define run_snakemake
{ $(SNAKEMAKE) --workflow-profile $(PROFILE) $(1) --until sweeps && \
	$(SNAKEMAKE) --workflow-profile $(PROFILE) $(1); } || { status=$$?; \
	sh workflow/lock-hint.sh $(2) 'make $(3)'; exit $$status; }
endef

# The dataset studied: MNIST in place by default; any other, e.g. DATASET=fashion-mnist, runs in
# results/<name>/ with workflow/datasets/<name>.yaml layered on config.yaml (the make quick
# mechanism), shares the data folder and never touches the MNIST study's files.
DATASET ?= mnist
ifeq ($(DATASET),mnist)
STUDY := .
STUDY_ARGS :=
LAYER :=
REPLICATE_DIR := results/replicate
else
STUDY := results/$(DATASET)
LAYER := $(CURDIR)/workflow/datasets/$(DATASET).yaml
STUDY_ARGS := --directory $(STUDY) --configfile $(CURDIR)/config.yaml $(LAYER)
REPLICATE_DIR := results/$(DATASET)-replicate
endif
ON_DATASET := $(if $(filter-out mnist,$(DATASET)), DATASET=$(DATASET))
UNLOCK := unlock$(ON_DATASET)

# Fashion-MNIST's download mirrors need the internet; Debian ships its four files too, so the
# package is installed where apt-get is at hand (as root) and the files are not there yet.
FASHION_DEB := /usr/share/datasets/fashion-mnist

dataset-layer:
	@test "$(DATASET)" = mnist || test -f workflow/datasets/$(DATASET).yaml || { \
		echo "DATASET=$(DATASET): workflow/datasets/$(DATASET).yaml not found; valid:" \
			"mnist $$(ls workflow/datasets | sed -n 's/\.yaml$$//p' | tr '\n' ' ')" >&2; \
		exit 2; }
	@if [ "$(DATASET)" = fashion-mnist ] && [ ! -d $(FASHION_DEB) ] && [ "$$(id -u)" = 0 ] \
		&& command -v apt-get >/dev/null; then \
		{ apt-get install -y -qq dataset-fashion-mnist >/dev/null 2>&1 || { apt-get update -qq && \
			apt-get install -y -qq dataset-fashion-mnist >/dev/null; }; } || \
			echo "apt-get install dataset-fashion-mnist failed; the mirrors are tried" >&2; fi

# SINCE=<record id or git commit>: the report's "What changed" compares with that study. Quoted
# so that YAML reads a commit of digits as text. After the run the study joins history/ (outside
# Snakemake: keeping it plans no job); a study already kept is not kept twice.
report: setup dataset-layer
	$(call run_snakemake,$(STUDY_ARGS) $(if $(SINCE),--config "since='$(SINCE)'"),$(STUDY),$(UNLOCK))
	$(PY) -m mnist_study.record.history record $(STUDY)
	@cat $(STUDY)/results/analysis/claims.md
	@echo "Report: $(abspath $(STUDY))/results/report.html"

# Which findings carry over from MNIST to DATASET, judged by the difference of the effects;
# run both studies first (make report; make report DATASET=...).
carry-over: setup dataset-layer
	@test "$(DATASET)" != mnist || { echo "name the other dataset: make carry-over DATASET=..." >&2; exit 2; }
	$(PY) -m mnist_study.record.crossdata results $(STUDY)/results --names mnist $(DATASET) \
		--out $(STUDY)/carry-over.md

# One seed, few epochs, the same rules; runs in results/quick/ beside the full study.
QUICK := --directory results/quick \
	--configfile $(CURDIR)/config.yaml $(CURDIR)/workflow/quick.yaml

quick: setup
	$(call run_snakemake,$(QUICK),results/quick,unlock-quick)
	$(PY) -m mnist_study.record.history record results/quick
	@cat results/quick/results/analysis/claims.md
	@echo "Report: $(CURDIR)/results/quick/results/report.html"

# The full study again with disjoint seeds (workflow/replicate.yaml), judged claim by claim
# against the main study (mnist_study.record.replication, README "Replication"): the study's
# report is rendered again with each outcome beside its verdict; exit 1 on a disagreement or on
# fewer identical verdicts than the design forecast, 2 where the two cannot be judged (no
# committed design, another design or test set). DATASET=<name> replicates that dataset's study
# (its layer, then the replicate's) in results/<name>-replicate/. Run make report first, or
# name a kept first run with FIRST=<its claims.json> (docs/records/): the study's own report is
# then not rendered again.
REPLICATE := --directory $(REPLICATE_DIR) \
	--configfile $(CURDIR)/config.yaml $(LAYER) $(CURDIR)/workflow/replicate.yaml
FIRST_CLAIMS := $(or $(FIRST),$(STUDY)/results/analysis/claims.json)
RENDER_STUDY := $(SNAKEMAKE) --workflow-profile $(PROFILE) $(STUDY_ARGS) results/report.html || \
	{ status=$$?; sh workflow/lock-hint.sh $(STUDY) 'make $(UNLOCK)'; exit $$status; }

replicate: setup dataset-layer
	@test -f $(FIRST_CLAIMS) || { echo "$(FIRST_CLAIMS): not found; the replicate is judged" \
		"against the study: run make report$(ON_DATASET) first" >&2; exit 2; }
	$(call run_snakemake,$(REPLICATE),$(REPLICATE_DIR),unlock-replicate$(ON_DATASET))
	$(PY) -m mnist_study.record.history record $(REPLICATE_DIR)
	$(if $(FIRST),,$(RENDER_STUDY))
	$(PY) -m mnist_study.record.replication $(FIRST_CLAIMS) \
		$(REPLICATE_DIR)/results/analysis/claims.json --out $(REPLICATE_DIR)/replication.md

# The design's pilots, run before a design's first full run (README, "Power by design").
# make pilot: every variant with three seeds of its own (workflow/pilot.yaml) in
# results/pilot/<dataset>/, then the seeds each claim needs, into results/pilot/<dataset>/plan.md.
PILOT_DIR := results/pilot/$(DATASET)
PILOT_CONFIG := $(CURDIR)/config.yaml $(LAYER) $(CURDIR)/workflow/pilot.yaml

pilot-runs: setup dataset-layer
	$(call run_snakemake,results/tables/runs.csv results/tables/matmul.json --directory $(PILOT_DIR) \
		--configfile $(PILOT_CONFIG),$(PILOT_DIR),unlock-pilot$(ON_DATASET))

pilot: pilot-runs
	$(PY) -m mnist_study.evidence.power $(PILOT_DIR) $(PILOT_CONFIG) > $(PILOT_DIR)/plan.md
	@cat $(PILOT_DIR)/plan.md

# make design: the pilot's runs (Snakemake reruns only pilot runs that are new or changed), then
# every variant's seeds within config.yaml's design budget and each claim's forecasts, into
# workflow/designs/<dataset>.yaml and .md, with what the change from the committed design
# retrains. BUDGET=<tflop> explores another budget and writes nothing.
design: pilot-runs
	$(PY) -m mnist_study.evidence.design $(PILOT_DIR) $(PILOT_CONFIG) \
		--out workflow/designs/$(DATASET) --study $(STUDY) $(if $(BUDGET),--budget $(BUDGET))

# make pilot-penalty: which form of weight penalty, on validation only
# (workflow/pilots/weight_penalty.yaml), into results/pilot/weight_penalty-<dataset>/choice.md.
pilot-penalty: setup dataset-layer
	$(call run_snakemake,results/data/$(DATASET).pt $(STUDY_ARGS),$(STUDY),$(UNLOCK))
	$(PY) -m mnist_study.engine.pilot workflow/pilots/weight_penalty.yaml \
		--cache $(STUDY)/results/data/$(DATASET).pt --config config.yaml $(LAYER) \
		--out results/pilot/weight_penalty-$(DATASET)
	$(PY) -m mnist_study.evidence.pilot workflow/pilots/weight_penalty.yaml \
		--out results/pilot/weight_penalty-$(DATASET)

# What changed from study A to study B, as text: a record id, git commit, record folder or study
# folder; by default the latest record that differs from this study, and this study. Exit 1 when
# METRIC (test_acc or gap) got worse beyond seed noise, so a CI job can guard a change.
A ?= previous
B ?= $(STUDY)
METRIC ?= test_acc

compare: setup
	$(PY) -m mnist_study.record.compare $(A) $(B) --metric $(METRIC)

# Remove the locks a killed Snakemake left (make report / make quick print this when needed).
# Only when no other Snakemake uses the folder: unlocking under a running one lets two runs
# write the same files.
unlock: setup dataset-layer
	$(SNAKEMAKE) --workflow-profile $(PROFILE) $(STUDY_ARGS) --unlock

unlock-quick: setup
	$(SNAKEMAKE) --workflow-profile $(PROFILE) $(QUICK) --unlock

unlock-replicate: setup dataset-layer
	$(SNAKEMAKE) --workflow-profile $(PROFILE) $(REPLICATE) --unlock

unlock-pilot: setup dataset-layer
	$(SNAKEMAKE) --workflow-profile $(PROFILE) --directory $(PILOT_DIR) \
		--configfile $(PILOT_CONFIG) --unlock

test: setup
	$(PY) -m pytest

# The browser test's checks on a real study's report (make report first; DATASET=<name> for
# another dataset's): tables fit at 1280 and 1920 px, sorting, filter, forest plot, explorer,
# console errors, and axe-core and the Nu validator where .ci/run installed them.
check-report: setup
	MNIST_STUDY_REPORT=$(abspath $(STUDY))/results/report.html $(PY) -m pytest \
		tests/test_browser.py -k "not fashion_like" -rs -p no:cacheprovider

# The import contracts of pyproject.toml ([tool.importlinter]): the stages import downward only.
lint-imports: setup
	$(VENV)/bin/lint-imports --no-cache

lint: setup lint-imports
	$(VENV)/bin/ruff check .
	$(VENV)/bin/ruff format --check .
	$(VENV)/bin/snakefmt --check Snakefile rules
	$(SNAKEMAKE) --lint

# The real-SLURM test, as root: installs Debian's SLURM and munge when missing, starts a one-node
# cluster (state in $(SLURM_STATE)), runs the tests marked slurm, and always stops the daemons it
# started again, also when a test fails or the run is interrupted (bash's EXIT trap).
SLURM_STATE ?= /tmp/mnist-study-slurm
SLURM_STAMP := $(VENV)/.slurm-stamp

$(SLURM_STAMP): pyproject.toml $(STAMP)
	$(PY) -m pip install --quiet --disable-pip-version-check -e '.[test,slurm]'
	@touch $@

test-slurm: $(SLURM_STAMP)
	bash -c 'trap "tests/slurm/down.sh $(SLURM_STATE)" EXIT; \
		tests/slurm/up.sh $(SLURM_STATE) && \
		MNIST_REQUIRE_SLURM=1 $(PY) -m pytest -m slurm -rs --durations=5'

bench: setup
	$(PY) -m mnist_study.engine.bench

clean:
	rm -rf results logs benchmarks .snakemake
