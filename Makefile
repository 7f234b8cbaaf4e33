# `make run` starts the service (with a simulated cluster unless CEPH_CONF names a real one);
# `make test` runs the whole test suite. Both create .venv/ on first use.
PY ?= python3
VENV := .venv
BIN := $(VENV)/bin
SIM ?= hosts=5,osds=30,pools=4,pgs=1024,seed=7,churn=0.01
DATA ?= ./var

$(BIN)/calamari-server: setup.py
	test -x $(BIN)/python || $(PY) -m venv $(VENV)
	$(BIN)/pip install -q --upgrade pip
	$(BIN)/pip install -q -e '.[test]'
	$(BIN)/python scripts/link_rados.py $(VENV) || true
	touch $@

# The web console (web/): built with the machine's Node.js and npm when missing or stale.
WEB_SOURCES := $(shell find web/src web/public web/scripts -type f 2>/dev/null) \
	web/index.html web/vite.config.ts web/tsconfig.json web/package.json

web/node_modules/.package-lock.json: web/package-lock.json
	cd web && npm ci --no-audit --no-fund

web/dist/index.html: web/node_modules/.package-lock.json $(WEB_SOURCES)
	cd web && npm run build

web: web/dist/index.html

venv: $(BIN)/calamari-server web/dist/index.html

run: venv
	@if [ -n "$$CEPH_CONF" ]; then \
	  echo "real cluster: $$CEPH_CONF"; \
	  key=$$($(BIN)/calamari-ctl --data-dir $(DATA) key server) || exit 1; \
	  $(BIN)/calamari-server --data-dir $(DATA) & srv=$$!; \
	  echo "accept the collector's key: $(BIN)/calamari-ctl --data-dir $(DATA) key accept $$(hostname)"; \
	  $(BIN)/calamari-collector --server tcp://127.0.0.1:5560 --server-key "$$key" --key-dir $(DATA)/collector-keys \
	    --ceph-conf $$CEPH_CONF; kill $$srv; \
	else \
	  $(BIN)/calamari-server --data-dir $(DATA) --simulate $(SIM); \
	fi

test: venv
	$(BIN)/ruff check .
	cd web && npm test
	$(BIN)/python -m pytest -q -p no:cacheprovider tests; rc=$$?; [ $$rc -eq 5 ] && exit 0; exit $$rc

bench: venv
	for b in bench/bench_*.py; do $(BIN)/python $$b || exit 1; done

.PHONY: venv web run test bench
