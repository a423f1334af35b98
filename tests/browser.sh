#!/usr/bin/env bash
# Runs one wasm-bindgen browser test binary in headless Chromium:
#   tests/browser.sh BINARY [ATTEMPTS]
#
# wasm-bindgen-test-runner's own file server (tiny_http) now and then never
# answers one of the test page's module requests, so no test starts (about
# 1 page load in 3 on the development machine, more on a loaded one; the
# same files from a Node server load every time). The runner has one limit,
# WASM_BINDGEN_TEST_TIMEOUT, for loading and running the whole page, and
# the page takes 15 s on an idle machine: under its default of 20 s a loaded
# machine timed out pages that were running fine, and those looked like
# loads that failed. So the page gets a limit sized for a loaded machine,
# and this script watches the load itself: a page that has not started its
# tests LOAD_LIMIT seconds after the runner began to open it is stopped and
# loaded again, up to ATTEMPTS times. A page that started and then failed
# or ran out of time fails at once.
set -uo pipefail

binary=$1
attempts=${2:-8}
LOAD_LIMIT=45
export WASM_BINDGEN_TEST_TIMEOUT=${WASM_BINDGEN_TEST_TIMEOUT:-300}
# Chromium's flags, and pageLoadStrategy none: the runner does not wait for
# the page's load event, so a page stuck without a script shows at once.
export WASM_BINDGEN_TEST_WEBDRIVER_JSON=${WASM_BINDGEN_TEST_WEBDRIVER_JSON:-$PWD/tests/web/webdriver.json}
export CHROMEDRIVER=${CHROMEDRIVER:-/usr/bin/chromedriver}
mkdir -p target
log=target/wasm-pack-test-$binary.log

# Whether the page began running its tests: the runner prints the test
# count once the page's first output appears.
started() { grep -q "^running [0-9]* test" "$log"; }

for attempt in $(seq 1 "$attempts"); do
  : >"$log"
  # Its own process group, so a stopped load takes chromedriver and
  # Chromium with it.
  setsid wasm-pack test --headless --chrome --features fault-injection --test "$binary" >"$log" 2>&1 &
  pid=$!
  loading_since=
  while kill -0 "$pid" 2>/dev/null; do
    if [ -z "$loading_since" ] && grep -q "^Running headless tests" "$log"; then
      loading_since=$SECONDS
    fi
    if [ -n "$loading_since" ] && ! started && ((SECONDS - loading_since > LOAD_LIMIT)); then
      # SIGKILL: the runner sits in a driver call that waits out the
      # renderer (up to the page's whole limit) and does not stop for TERM.
      kill -KILL -- -"$pid" 2>/dev/null
      break
    fi
    sleep 1
  done
  wait "$pid"
  status=$?
  cat "$log"
  if [ "$status" = 0 ]; then
    exit 0
  fi
  if started || [ -z "$loading_since" ]; then
    # The tests ran (or the build failed before any page loaded): a real failure.
    exit "$status"
  fi
  echo "tests/browser.sh: the $binary test page never started its tests (attempt $attempt of $attempts)"
done
exit 1
