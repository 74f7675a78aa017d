# Two commands for a fresh machine: `make report` runs the whole study, `make test` the tests.
# Both create .venv and install the project into it first. `make` alone lists every target.
# Each target's line in that list is the `## <group>: <text>` comment on its rule line below.

## option: VENV: the virtual environment every target uses (made by make setup)
VENV ?= .venv
PY := $(VENV)/bin/python
SNAKEMAKE := $(VENV)/bin/snakemake
STAMP := $(VENV)/.installed-stamp
# Empty: Snakemake's own choice, profiles/default beside the Snakefile, as a plain `snakemake`
# takes it; so make and a plain snakemake plan alike (same cores, rerun triggers, checksums).
## option: PROFILE: a workflow profile instead of profiles/default, e.g. profiles/slurm
PROFILE ?=
# DRY=1: every Snakemake call plans only (-n) and says what it would run; the steps outside
# Snakemake (history record, judging, tables printed, pytest, rm) are shown, not run.
## option: DRY: DRY=1 plans only (snakemake -n), and shows the other steps without running them
DRY ?=
# DRY=0 (or empty) runs for real.
IS_DRY := $(filter-out 0,$(strip $(DRY)))
SNAKEMAKE_RUN := $(SNAKEMAKE)$(if $(PROFILE), --workflow-profile $(PROFILE))
SNAKEMAKE_PLAN := $(SNAKEMAKE_RUN)$(if $(IS_DRY), -n)
# $(call unless_dry,<recipe line>): the line itself, or under DRY=1 the line printed, not run.
unless_dry = $(if $(IS_DRY),@echo 'DRY=1 (not run): $(subst ','\'',$(patsubst @%,%,$(1)))',$(1))

.DEFAULT_GOAL := help
.PHONY: help setup dataset-layer report carry-over compare quick replicate pilot pilot-runs \
	design pilot-penalty status docs keep keep-replicate unlock \
	unlock-quick unlock-replicate unlock-pilot test check-report lint lint-imports test-slurm \
	bench clean

# The list `make help` prints: each rule line's `## group: text`, grouped in this order, then
# the options (a `## option: NAME: text` line above each).
HELP_GROUPS := run check cluster maintain
help: ## maintain: this list (the default target)
	@echo 'make <target> [OPTION=value ...]  (README.md tells more)'
	@awk -v groups='$(HELP_GROUPS)' ' \
		/^[a-z][a-z0-9-]*:.*## [a-z]+: / { \
			target = substr($$0, 1, index($$0, ":") - 1); rest = substr($$0, index($$0, "## ") + 3); \
			group = substr(rest, 1, index(rest, ": ") - 1); \
			lines[group] = lines[group] sprintf("  %-17s %s\n", target, substr(rest, length(group) + 3)); } \
		/^## option: [A-Z_]+: / { \
			rest = substr($$0, 12); name = substr(rest, 1, index(rest, ": ") - 1); \
			options = options sprintf("  %-17s %s\n", name "=", substr(rest, length(name) + 3)); } \
		END { n = split(groups, order, " "); \
			for (i = 1; i <= n; i++) if (order[i] in lines) printf "\n%s:\n%s", order[i], lines[order[i]]; \
			printf "\noptions:\n%s", options; }' $(firstword $(MAKEFILE_LIST))

$(STAMP): pyproject.toml
	@test -x $(PY) || python3 -m venv $(VENV)
	$(PY) -m pip install --quiet --disable-pip-version-check --upgrade pip
	$(PY) -m pip install --quiet --disable-pip-version-check -e '.[test]'
	@touch $@

setup: $(STAMP) ## maintain: create the venv (VENV) and install the project; every target runs it

# Run Snakemake with $(1), the extra arguments, in folder $(2). When it fails and lock files
# remain there (another Snakemake runs there, or a killed one left them), workflow/lock-hint.sh
# prints the one command that unlocks it, make $(3), and when that is safe. Nothing is unlocked
# automatically. The learning-rate sweeps and their choices run first (rules/tuning.smk): a
# choice that stands then reruns nothing after it.
define run_snakemake
{ $(SNAKEMAKE_PLAN) $(1) --until sweeps && \
	$(SNAKEMAKE_PLAN) $(1); } || { status=$$?; \
	sh workflow/lock-hint.sh $(2) 'make $(3)'; exit $$status; }
endef

# The same with one Snakemake call, for targets that need no sweep (the data, the report).
define snakemake_once
$(SNAKEMAKE_PLAN) $(1) || { status=$$?; sh workflow/lock-hint.sh $(2) 'make $(3)'; exit $$status; }
endef

# The dataset studied: MNIST in place by default; any other, e.g. DATASET=fashion-mnist, runs in
# results/<name>/ with workflow/datasets/<name>.yaml layered on config.yaml (the make quick
# mechanism), shares the data folder and never touches the MNIST study's files.
## option: DATASET: the dataset studied: mnist, or a layer of workflow/datasets/
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

dataset-layer: ## maintain: check that DATASET names a layer (and install Debian's Fashion-MNIST)
	@test "$(DATASET)" = mnist || test -f workflow/datasets/$(DATASET).yaml || { \
		echo "DATASET=$(DATASET): workflow/datasets/$(DATASET).yaml not found; valid:" \
			"mnist $$(ls workflow/datasets | sed -n 's/\.yaml$$//p' | tr '\n' ' ')" >&2; \
		exit 2; }
	@if [ "$(DATASET)" = fashion-mnist ] && [ ! -d $(FASHION_DEB) ] && [ "$$(id -u)" = 0 ] \
		&& command -v apt-get >/dev/null; then \
		if [ -n "$(IS_DRY)" ]; then echo "DRY=1 (not run): apt-get install dataset-fashion-mnist"; \
		else { apt-get install -y -qq dataset-fashion-mnist >/dev/null 2>&1 || { apt-get update -qq && \
			apt-get install -y -qq dataset-fashion-mnist >/dev/null; }; } || \
			echo "apt-get install dataset-fashion-mnist failed; the mirrors are tried" >&2; fi; fi

# SINCE=<record id or git commit>: the report's "What changed" compares with that study. Quoted
# so that YAML reads a commit of digits as text. After the run the study joins history/ (outside
# Snakemake: keeping it plans no job); a study already kept is not kept twice.
## option: SINCE: make report: the study "What changed" compares with (record id or commit)
SINCE ?=
report: setup dataset-layer ## run: the whole study of DATASET, its report and its history record
	$(call run_snakemake,$(STUDY_ARGS) $(if $(SINCE),--config "since='$(SINCE)'"),$(STUDY),$(UNLOCK))
	$(call unless_dry,$(PY) -m mnist_study.record.history record $(STUDY))
	$(call unless_dry,@cat $(STUDY)/results/analysis/claims.md)
	$(call unless_dry,@echo "Report: $(abspath $(STUDY))/results/report.html")

# Which findings carry over from MNIST to DATASET, judged by the difference of the effects;
# run both studies first (make report; make report DATASET=...).
CARRY_OVER := $(PY) -m mnist_study.record.crossdata results $(STUDY)/results \
	--names mnist $(DATASET) --out $(STUDY)/carry-over.md
carry-over: setup dataset-layer ## run: which findings carry over from MNIST to DATASET
	@test "$(DATASET)" != mnist || { echo "name the other dataset: make carry-over DATASET=..." >&2; exit 2; }
	$(call unless_dry,$(CARRY_OVER))

# One seed, few epochs, the same rules; runs in results/quick/ beside the full study.
QUICK := --directory results/quick \
	--configfile $(CURDIR)/config.yaml $(CURDIR)/workflow/quick.yaml

quick: setup ## run: the baseline study on one seed and one epoch, in results/quick/
	$(call run_snakemake,$(QUICK),results/quick,unlock-quick)
	$(call unless_dry,$(PY) -m mnist_study.record.history record results/quick)
	$(call unless_dry,@cat results/quick/results/analysis/claims.md)
	$(call unless_dry,@echo "Report: $(CURDIR)/results/quick/results/report.html")

# The full study again with disjoint seeds (workflow/replicate.yaml), judged claim by claim
# against the main study (mnist_study.record.replication; docs/evidence.md, "Replication"): the
# study's report is rendered again with each outcome beside its verdict; exit 1 on a disagreement
# or on fewer identical verdicts than the design forecast, 2 where the two cannot be judged (no
# committed design, another design or test set). DATASET=<name> replicates that dataset's study
# (its layer, then the replicate's) in results/<name>-replicate/. Run make report first, or
# name a kept first run with FIRST=<its claims.json> (docs/records/): the study's own report is
# then not rendered again.
REPLICATE := --directory $(REPLICATE_DIR) \
	--configfile $(CURDIR)/config.yaml $(LAYER) $(CURDIR)/workflow/replicate.yaml
## option: FIRST: make replicate: a kept first run's claims.json to judge against
FIRST ?=
FIRST_CLAIMS := $(or $(FIRST),$(STUDY)/results/analysis/claims.json)
RENDER_STUDY := $(call snakemake_once,$(STUDY_ARGS) results/report.html,$(STUDY),$(UNLOCK))
REPLICATION := $(PY) -m mnist_study.record.replication $(FIRST_CLAIMS) \
	$(REPLICATE_DIR)/results/analysis/claims.json --out $(REPLICATE_DIR)/replication.md

# Under DRY=1 a missing first run is named and the plans go on (only the judging reads it).
replicate: setup dataset-layer ## run: the study again on other seeds, judged claim by claim
	@test -f $(FIRST_CLAIMS) || { echo "$(FIRST_CLAIMS): not found; the replicate is judged" \
		"against the study: run make report$(ON_DATASET) first$(if $(IS_DRY),; DRY=1 plans on)" >&2; \
		$(if $(IS_DRY),,exit 2;) }
	$(call run_snakemake,$(REPLICATE),$(REPLICATE_DIR),unlock-replicate$(ON_DATASET))
	$(call unless_dry,$(PY) -m mnist_study.record.history record $(REPLICATE_DIR))
	$(if $(FIRST),,$(RENDER_STUDY))
	$(call unless_dry,$(REPLICATION))

# The design's pilots, run before a design's first full run (docs/evidence.md, "Seeds by design").
# make pilot: every variant with three seeds of its own (workflow/pilot.yaml) in
# results/pilot/<dataset>/, then the seeds each claim needs, into results/pilot/<dataset>/plan.md.
PILOT_DIR := results/pilot/$(DATASET)
PILOT_CONFIG := $(CURDIR)/config.yaml $(LAYER) $(CURDIR)/workflow/pilot.yaml

pilot-runs: setup dataset-layer ## run: the design's pilot runs alone (pilot and design run them)
	$(call run_snakemake,results/tables/runs.csv results/tables/matmul.json --directory $(PILOT_DIR) \
		--configfile $(PILOT_CONFIG),$(PILOT_DIR),unlock-pilot$(ON_DATASET))

POWER := $(PY) -m mnist_study.evidence.power $(PILOT_DIR) $(PILOT_CONFIG) > $(PILOT_DIR)/plan.md
pilot: pilot-runs ## run: the pilots, then the seeds each claim needs (results/pilot/*/plan.md)
	$(call unless_dry,$(POWER))
	$(call unless_dry,@cat $(PILOT_DIR)/plan.md)

# make design: the pilot's runs (Snakemake reruns only pilot runs that are new or changed), then
# every variant's seeds within config.yaml's design budget and each claim's forecasts, into
# workflow/designs/<dataset>.yaml and .md, with what the change from the committed design
# retrains. BUDGET=<tflop> explores another budget and writes nothing.
## option: BUDGET: make design: explore this budget (TFLOP) and write nothing
BUDGET ?=
DESIGN := $(PY) -m mnist_study.evidence.design $(PILOT_DIR) $(PILOT_CONFIG) \
	--out workflow/designs/$(DATASET) --study $(STUDY) $(if $(BUDGET),--budget $(BUDGET))
design: pilot-runs ## run: the pilots, then the seeds within the budget, into workflow/designs/
	$(call unless_dry,$(DESIGN))

# make pilot-penalty: which form of weight penalty, on validation only
# (workflow/pilots/weight_penalty.yaml), into results/pilot/weight_penalty-<dataset>/choice.md.
PENALTY_RUNS := $(PY) -m mnist_study.engine.pilot workflow/pilots/weight_penalty.yaml \
	--cache $(STUDY)/results/data/$(DATASET).pt --config config.yaml $(LAYER) \
	--out results/pilot/weight_penalty-$(DATASET)
PENALTY_CHOICE := $(PY) -m mnist_study.evidence.pilot workflow/pilots/weight_penalty.yaml \
	--out results/pilot/weight_penalty-$(DATASET)
pilot-penalty: setup dataset-layer ## run: which form of weight penalty, on validation only
	$(call snakemake_once,results/data/$(DATASET).pt $(STUDY_ARGS),$(STUDY),$(UNLOCK))
	$(call unless_dry,$(PENALTY_RUNS))
	$(call unless_dry,$(PENALTY_CHOICE))

# What changed from study A to study B, as text: a record id, git commit, record folder or study
# folder; by default the latest record that differs from this study, and this study. Exit 1 when
# METRIC (test_acc or gap) got worse beyond seed noise, so a CI job can guard a change.
## option: A: make compare: the study before (record id, commit or folder)
A ?= previous
## option: B: make compare: the study after (default: this one)
B ?= $(STUDY)
## option: METRIC: make compare: test_acc or gap, the metric that must not get worse
METRIC ?= test_acc

compare: setup ## run: what changed from study A to study B; exit 1 where METRIC got worse
	$(call unless_dry,$(PY) -m mnist_study.record.compare $(A) $(B) --metric $(METRIC))

# How far the study of DATASET is (TFLOP and runs done, time left), during or after a run.
status: setup dataset-layer ## run: how far the study is: TFLOP and runs done, and time left
	$(call unless_dry,$(PY) -m mnist_study.record.progress $(STUDY))

# The README's and docs/'s generated blocks, written anew from docs/records and the schema
# (tests/test_pages.py fails while one is stale).
docs: setup ## maintain: write the generated blocks of README.md and docs/ anew
	$(call unless_dry,$(PY) -m mnist_study.report.pages)

# Keep a finished study's small files (claims, summary, efficiency, provenance, config; no
# weights) under docs/records/<name>/<record id>/, for the pages to quote; then make docs.
KEEP := $(PY) -m mnist_study.report.pages keep
keep: setup dataset-layer ## maintain: keep the finished study of DATASET in docs/records/
	$(call unless_dry,$(KEEP) $(STUDY) $(DATASET) $(CURDIR)/config.yaml $(LAYER))

keep-replicate: setup dataset-layer ## maintain: keep its finished replicate in docs/records/
	$(call unless_dry,$(KEEP) $(REPLICATE_DIR) $(DATASET)-replicate $(CURDIR)/config.yaml \
		$(LAYER) $(CURDIR)/workflow/replicate.yaml)

# Remove the locks a killed Snakemake left (make report / make quick print this when needed).
# Only when no other Snakemake uses the folder: unlocking under a running one lets two runs
# write the same files.
unlock: setup dataset-layer ## maintain: remove the locks a killed make report left
	$(call unless_dry,$(SNAKEMAKE_RUN) $(STUDY_ARGS) --unlock)

unlock-quick: setup ## maintain: the same for make quick
	$(call unless_dry,$(SNAKEMAKE_RUN) $(QUICK) --unlock)

unlock-replicate: setup dataset-layer ## maintain: the same for make replicate
	$(call unless_dry,$(SNAKEMAKE_RUN) $(REPLICATE) --unlock)

unlock-pilot: setup dataset-layer ## maintain: the same for make pilot, design and pilot-runs
	$(call unless_dry,$(SNAKEMAKE_RUN) --directory $(PILOT_DIR) --configfile $(PILOT_CONFIG) --unlock)

test: setup ## check: the tests (pytest)
	$(call unless_dry,$(PY) -m pytest)

# The browser test's checks on a real study's report (make report first; DATASET=<name> for
# another dataset's): tables fit at 1280 and 1920 px, sorting, filter, forest plot, explorer,
# console errors, and axe-core and the Nu validator where .ci/run installed them.
CHECK_REPORT := MNIST_STUDY_REPORT=$(abspath $(STUDY))/results/report.html $(PY) -m pytest \
	tests/test_browser.py -k "not fashion_like" -rs -p no:cacheprovider
check-report: setup ## check: the browser test on a real study's report (make report first)
	$(call unless_dry,$(CHECK_REPORT))

# The import contracts of pyproject.toml ([tool.importlinter]): the stages import downward only.
lint-imports: setup ## check: the import contracts (the stages import downward only)
	$(call unless_dry,$(VENV)/bin/lint-imports --no-cache)

lint: setup lint-imports ## check: ruff, ruff format, snakefmt and snakemake --lint
	$(call unless_dry,$(VENV)/bin/ruff check .)
	$(call unless_dry,$(VENV)/bin/ruff format --check .)
	$(call unless_dry,$(VENV)/bin/snakefmt --check Snakefile rules)
	$(call unless_dry,$(SNAKEMAKE_RUN) --lint)

# The real-SLURM test, as root: installs Debian's SLURM and munge when missing, starts a one-node
# cluster (state in $(SLURM_STATE)), runs the tests marked slurm, and always stops the daemons it
# started again, also when a test fails or the run is interrupted (bash's EXIT trap).
SLURM_STATE ?= /tmp/mnist-study-slurm
SLURM_STAMP := $(VENV)/.slurm-stamp

$(SLURM_STAMP): pyproject.toml $(STAMP)
	$(PY) -m pip install --quiet --disable-pip-version-check -e '.[test,slurm]'
	@touch $@

TEST_SLURM := bash -c 'trap "tests/slurm/down.sh $(SLURM_STATE)" EXIT; \
	tests/slurm/up.sh $(SLURM_STATE) && \
	MNIST_REQUIRE_SLURM=1 $(PY) -m pytest -m slurm -rs --durations=5'
test-slurm: $(SLURM_STAMP) ## cluster: the smoke study on a one-node SLURM it starts (as root)
	$(call unless_dry,$(TEST_SLURM))

# The training-speed benchmark reads the MNIST files (torchvision's layout under data/): the
# study's own fetch_data fetches and verifies them first, and plans nothing where they are.
bench: setup ## check: this engine's speed against pytorch/examples' loop and a matmul
	$(call snakemake_once,fetch_data,.,unlock)
	$(call unless_dry,$(PY) -m mnist_study.engine.bench)

clean: ## maintain: delete results, logs, benchmarks and .snakemake (data/ and history/ stay)
	$(call unless_dry,rm -rf results logs benchmarks .snakemake)
