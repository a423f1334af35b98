# refresh-coordinator: the two commands a newcomer needs are `make demo` and
# `make test`; both install whatever is missing first and are quick when
# everything is already there.

SHELL := /bin/bash
.SHELLFLAGS := -eu -o pipefail -c
.DEFAULT_GOAL := help

# The wasm-bindgen CLI must be the exact version of the wasm-bindgen crate in
# Cargo.lock, or the generated glue does not match the .wasm.
WASM_BINDGEN_VERSION := $(shell awk '/^name = "wasm-bindgen"$$/ { getline; gsub(/version = |"/, ""); print; exit }' Cargo.lock)
WASM_PACK_VERSION := 0.15.1
SUDO := $(shell [ "$$(id -u)" = 0 ] || echo sudo)

export CHROMEDRIVER ?= /usr/bin/chromedriver
export WASM_BINDGEN_TEST_WEBDRIVER_JSON ?= $(CURDIR)/tests/web/webdriver.json

# wasm-opt comes from npm's binaryen (pinned in www/package.json): Debian's
# binaryen 108 predates the reference-types output of current wasm-bindgen
# and produces a module that fails to instantiate. The features are the ones
# rustc enables for wasm32-unknown-unknown.
WASM_OPT := www/node_modules/.bin/wasm-opt -Oz --strip-debug --strip-producers --strip-target-features \
	--enable-bulk-memory --enable-reference-types --enable-nontrapping-float-to-int \
	--enable-sign-ext --enable-mutable-globals --enable-multivalue

PKG := pkg

.PHONY: help setup postgres bench-backend test lint test-native test-browser test-package test-e2e test-npm build pkg size bench bench-loading clean demo demo-cluster test-demo screenshot

help:
	@echo "make demo   set up, build, start the demo page and its two reference backends"
	@echo "make demo-cluster  the same, each backend 3 instances on one PostgreSQL behind a round-robin proxy"
	@echo "make test   set up, run every test"
	@echo "make build  build the npm package into $(PKG)/ and print its size"
	@echo "make bench  benchmarks: sizes, speed and memory beside raw fetch, Axios and peers (www/bench/results.json)"

## Installs what is missing: the wasm target, wasm-pack and wasm-bindgen-cli
## from crates.io, Chromium and ChromeDriver from Debian, the npm tools.
setup: www/node_modules/.installed
	@rustup target list --installed | grep -qx wasm32-unknown-unknown \
		|| rustup target add wasm32-unknown-unknown
	@cargo fmt --version >/dev/null 2>&1 || rustup component add rustfmt
	@cargo clippy --version >/dev/null 2>&1 || rustup component add clippy
	@wasm-pack --version 2>/dev/null | grep -q " $(WASM_PACK_VERSION)$$" \
		|| cargo install wasm-pack --locked --version $(WASM_PACK_VERSION)
	@wasm-bindgen --version 2>/dev/null | grep -q " $(WASM_BINDGEN_VERSION)$$" \
		|| cargo install wasm-bindgen-cli --version =$(WASM_BINDGEN_VERSION)
	@if ! command -v chromium >/dev/null || ! command -v chromedriver >/dev/null; then \
		$(SUDO) apt-get update -qq; \
		DEBIAN_FRONTEND=noninteractive $(SUDO) apt-get install -y -qq chromium chromium-driver; \
	fi

www/node_modules/.installed: www/package.json www/package-lock.json
	cd www && npm ci --no-audit --no-fund
	touch $@

TEST_STEPS := lint test-native test-browser test-package test-e2e test-npm test-demo
# A phony step without a rule would pass silently, so `test` checks each has one.
test: setup $(TEST_STEPS)
	@for step in $(TEST_STEPS); do \
		grep -q "^$$step:" $(firstword $(MAKEFILE_LIST)) || { echo "make test: no rule for $$step"; exit 1; }; \
	done

## The packed tarball as apps use it: installed offline, the TypeScript types
## under `tsc --strict`, loading in Vite, webpack, a plain page and Node, the
## Axios integration, the React hook under React 18 and 19 and the React
## example against the reference backend, the README's React code under
## `tsc --strict`, and the side by side with axios-auth-refresh.
NPM_CI := npm ci --no-audit --no-fund --prefer-offline
test-npm: pkg
	cargo build --profile server -p refresh-backend
	cd www/test/apps && $(NPM_CI)
	cd www/test/apps/react18 && $(NPM_CI)
	cd www/examples/react && $(NPM_CI) && npx vite build --logLevel warn
	node --test --test-concurrency=1 www/test/npm/*.test.mjs

lint:
	cargo fmt --all --check
	cargo clippy --workspace --all-targets -- -D warnings
	cargo clippy --target wasm32-unknown-unknown --all-targets -- -D warnings
	cargo clippy --target wasm32-unknown-unknown --lib --no-default-features -- -D warnings

## The backend's PostgreSQL tests start throw-away clusters of their own
## (under target/, on a free loopback port, as the postgres user when run as
## root); this only installs the server from Debian when it is missing.
postgres:
	@if ! ls /usr/lib/postgresql/*/bin/initdb >/dev/null 2>&1; then \
		$(SUDO) apt-get update -qq; \
		DEBIAN_FRONTEND=noninteractive $(SUDO) apt-get install -y -qq postgresql; \
	fi

test-native: postgres
	cargo test --workspace

## Each test binary's page in headless Chromium; tests/browser.sh loads a
## page again when the runner's file server left it without its scripts.
BROWSER_TESTS := web web_fault
test-browser:
	@for binary in $(BROWSER_TESTS); do tests/browser.sh $$binary 8; done

## The package in Chromium against the reference backend (SimpleJWT rotation
## and blacklist, no grace window): every scenario in cookie and bearer mode,
## refresh-coordinator asserted, the hand-written interceptor reported
## (target/e2e-report.md); cluster.test.mjs runs against 3 instances on a
## throw-away PostgreSQL of its own (hence `postgres`).
test-e2e: build postgres
	cargo build --profile server -p refresh-backend
	node --test --test-concurrency=1 www/e2e/*.test.mjs

## The built package, loaded the way an app loads it.
test-package: build
	node --test www/test/*.test.mjs

## The npm package: the crate built without std (see Cargo.toml) as a cdylib
## alone, through wasm-bindgen, shrunk by wasm-opt, plus the JS entry points
## and the manifest overlay. `cargo rustc --crate-type cdylib`, not `wasm-pack
## build` (which runs `cargo build`, so the rlib too): built beside an rlib,
## every public item and generic instance stays exported into LTO, which
## then neither inlines nor drops them, and the .wasm came out 2.5 KB gzip
## bigger. The wasm-bindgen call is the one wasm-pack makes.
WASM_OUT = $${CARGO_TARGET_DIR:-target}/wasm32-unknown-unknown/release/refresh_coordinator.wasm
build: setup
	rm -rf $(PKG)
	cargo rustc --lib --release --target wasm32-unknown-unknown --no-default-features \
		--crate-type cdylib
	wasm-bindgen $(WASM_OUT) --out-dir $(PKG) --no-typescript --target web
	$(WASM_OPT) $(PKG)/refresh_coordinator_bg.wasm -o $(PKG)/refresh_coordinator_bg.wasm
	cp www/index.js www/node.js www/axios.js www/react.js www/index.d.ts www/axios.d.ts www/react.d.ts \
		src/web/coordinator.js src/web/options.js src/web/errors.js src/web/tabs.js src/web/token-stores.js src/web/dialects.js \
		README.md LICENSE-MIT LICENSE-APACHE $(PKG)/
	version=$$(awk -F'"' '/^version = / { print $$2; exit }' Cargo.toml); \
		node -e 'const [overlay, version, out] = process.argv.slice(1); const fs = require("fs"); fs.writeFileSync(out, JSON.stringify({ ...JSON.parse(fs.readFileSync(overlay, "utf8")), version }, null, 2) + "\n");' \
		pkg.json "$$version" $(PKG)/package.json
	@$(MAKE) --no-print-directory size

## The package as npm ships it: `npm pack` of $(PKG)/, also copied to a
## name without the version, which the test apps and the example install.
TARBALL := target/npm/refresh-coordinator.tgz
pkg: build
	mkdir -p target/npm
	cd $(PKG) && npm pack --silent --pack-destination ../target/npm > ../target/npm/packed-name
	cp target/npm/$$(cat target/npm/packed-name) $(TARBALL)

## What a browser downloads for `createAuthFetch`, file by file, as a server
## sends it (gzip -9).
PAYLOAD := refresh_coordinator_bg.wasm refresh_coordinator.js index.js coordinator.js options.js errors.js tabs.js token-stores.js dialects.js
size:
	@cd $(PKG) && for f in $(PAYLOAD); do \
		printf "%-30s %7d bytes %7d gzip\n" "$$f" "$$(wc -c < $$f)" "$$(gzip -9 -c $$f | wc -c)"; \
	done | awk '{ print; raw += $$2; gz += $$4 } END { printf "%-30s %7d bytes %7d gzip\n", "total", raw, gz }'
	@# What an app's bundle carries after its minifier: each JS file through terser.
	@cd $(PKG) && for f in $(PAYLOAD); do \
		case $$f in *.js) ../www/node_modules/.bin/terser --module -c -m -- $$f > $$f.min ;; *) cp $$f $$f.min ;; esac; \
		printf "%d %d\n" "$$(wc -c < $$f.min)" "$$(gzip -9 -c $$f.min | wc -c)"; rm $$f.min; \
	done | awk '{ raw += $$1; gz += $$2 } END { printf "%-30s %7d bytes %7d gzip\n", "total, JS minified (terser)", raw, gz }'

## How the wasm is loaded: by URL (shipped) against inlined as base64;
## bytes downloaded and time to ready in Chromium.
bench-loading: pkg
	node www/test/npm/measure-loading.mjs

## Benchmarks, never assertions (a few minutes): the backend's refresh
## throughput and latency, then sizes, speed and memory of the package in
## Vite builds and in Chromium beside raw fetch, Axios, axios-auth-refresh
## and the hand-written interceptor (www/bench/bench.mjs); prints the table
## and writes www/bench/results.json and www/bench/results.svg.
bench: pkg postgres
	cargo build --profile server -p refresh-backend
	cd www/test/apps && $(NPM_CI)
	mkdir -p target/bench && rm -f target/bench/backend.json
	REFRESH_BACKEND_BENCH_JSON=$(CURDIR)/target/bench/backend.json $(MAKE) --no-print-directory bench-backend
	node www/bench/bench.mjs

## The backend benchmark on SQLite, then on a throw-away PostgreSQL cluster
## (target/bench-pg, a free loopback port, run as postgres when root, stopped
## through its PID file however the bench ends) with 1 and 3 instances.
## synchronous_commit=off is the durability of the SQLite store's
## synchronous=NORMAL: a crash loses nothing, a power cut the last commits.
PG_BIN = $(lastword $(sort $(wildcard /usr/lib/postgresql/*/bin)))
PG_AS = $(if $(SUDO),,runuser -u postgres --)
BENCH_PG := $(CURDIR)/target/bench-pg
bench-backend:
	rm -rf $(BENCH_PG) && mkdir -p $(BENCH_PG)
	$(if $(PG_AS),chown postgres:postgres $(BENCH_PG))
	$(PG_AS) $(PG_BIN)/initdb --auth=trust --username=postgres --no-sync -D $(BENCH_PG)/data >/dev/null
	port=$$(python3 -c 'import socket; s = socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])'); \
	$(PG_AS) $(PG_BIN)/pg_ctl -D $(BENCH_PG)/data -l $(BENCH_PG)/log -w \
		-o "-h 127.0.0.1 -p $$port -k $(BENCH_PG) -c synchronous_commit=off" start >/dev/null; \
	trap '$(PG_AS) $(PG_BIN)/pg_ctl -D $(BENCH_PG)/data -m fast -w stop >/dev/null; rm -rf $(BENCH_PG)' EXIT; \
	$(PG_BIN)/psql -q -h 127.0.0.1 -p $$port -U postgres -c 'CREATE DATABASE bench'; \
	REFRESH_BACKEND_BENCH_POSTGRES=postgres://postgres@127.0.0.1:$$port/bench \
		cargo bench -p refresh-backend --bench refresh_throughput

clean:
	cargo clean
	rm -rf $(PKG)

## The demo: the package, then the page and the coordinator panel's backend
## on 127.0.0.1:8000 and the naive panel's backend on 127.0.0.1:8001
## (rotation + blacklist, no grace window, 15 s access tokens, in-memory
## databases) until Ctrl-C, which stops both.
demo: setup build
	cargo build --profile server -p refresh-backend
	@node www/demo/serve.mjs

## The same demo on the ports of `make demo`, each panel's backend 3
## instances (--atomic-rotation, one shared signing key) on one throw-away
## PostgreSQL (target/pg-demo-*, a free loopback port, run as postgres when
## root) behind a round-robin Node proxy (test tooling); Ctrl-C stops the
## instances, the proxies and PostgreSQL, and removes its directory.
demo-cluster: setup build postgres
	cargo build --profile server -p refresh-backend
	@node www/demo/serve.mjs --cluster

## The demo page in Chromium against both backends on free ports, once as
## `make demo` starts them and once as `make demo-cluster` does.
test-demo: build postgres
	cargo build --profile server -p refresh-backend
	node --test www/demo/demo.test.mjs

## www/demo/screenshot.png: the demo after a burst, in headless Chromium.
screenshot: build
	cargo build --profile server -p refresh-backend
	node www/demo/screenshot.mjs
