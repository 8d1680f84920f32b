# The README's commands, as make targets. Run `make setup` once, then `. .venv/bin/activate`.
PYTHON ?= python3
NOTEBOOKS := $(sort $(wildcard notebooks/*.ipynb))

.PHONY: setup test unit lint lab notebooks student bench claims book slides clean

setup:            ## create .venv and install the course (editable) with the test tools
	$(PYTHON) -m venv .venv && . .venv/bin/activate && pip install -e ".[dev]"

WORKERS ?= 2       # pytest-xdist workers; each gets its share of the cores (tests/conftest.py)

test: lint        ## unit tests + every notebook under nbval (fast profile on a CPU), on $(WORKERS) workers
	pytest -n $(WORKERS) --dist loadscope --durations=0

unit: lint        ## the quick loop: unit tests only (no notebook executed, no browser), on $(WORKERS) workers
	pytest tests -n $(WORKERS) -m "not slow and not browser" --durations=10

lint:             ## ruff format (120 columns) and ruff check, on the code and the notebooks
	ruff format --check . && ruff check .

lab:              ## open the notebooks
	jupyter lab notebooks/

notebooks:        ## re-execute every notebook in place (fresh kernel, top to bottom, fast profile)
	COURSE_PROFILE=$${COURSE_PROFILE:-fast} COURSE_PROGRESS=0 jupyter nbconvert --to notebook --execute --inplace \
	    --ExecutePreprocessor.timeout=1800 $(NOTEBOOKS)

student:          ## nbgrader's student edition (solutions and outputs cleared) -> student/; SOURCE=dir: the source version too
	python -m course_lib.tools.student notebooks student $(if $(SOURCE),--source $(SOURCE))

bench:            ## images/s of course_lib.fit vs the pytorch/examples loop
	python -m course_lib.tools.bench

PROFILE ?= $(or $(COURSE_PROFILE),fast)
SEEDS ?= 0 1 2 3 4
claims:           ## the claims report -> reports/claims.md; e.g. make claims PROFILE=full SEEDS=0 NB="02_alexnet_ablations"
	python -m course_lib.tools.claims --profile $(PROFILE) --seeds $(SEEDS) $(NB)

book:             ## the Jupyter Book (book/_config.yml, book/_toc.yml; warnings are errors) -> _build/html/index.html
	python -m course_lib.tools.book book

slides:           ## reveal.js slides of every notebook (a slide per section) -> _build/slides/
	python -m course_lib.tools.book slides

clean:
	rm -rf student checkpoints _build .pytest_cache .ruff_cache
