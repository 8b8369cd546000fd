#!/usr/bin/env bash
# The whole test suite, on a fresh Debian 12 machine as root: starts the real environment
# (containerd, loopback registries, test images), builds the plugin as Nomad will run it, type-checks,
# then runs every unit and integration test. Ends with a "N passed, N failed" line.
set -euo pipefail
cd "$(dirname "$0")/.."

bash scripts/test-env.sh up
eval "$(bash scripts/test-env.sh env)"

npm run --silent build
npx tsc --noEmit

report=$(mktemp)
# The tests, and the plugins and containers they start, keep their temporary files here (alloc dirs, FIFOs, the
# sockets of plugins a test SIGKILLs as a crashing agent would); the run removes it at the end.
TMPDIR=$(mktemp -d /tmp/cdd-test-XXXXXX)
export TMPDIR
trap 'rm -f "$report"; rm -rf "$TMPDIR"' EXIT
status=0
npx vitest run --reporter=default --reporter=json --outputFile="$report" "$@" || status=$?
node -e '
  const r = JSON.parse(require("fs").readFileSync(process.argv[1], "utf8"))
  const skipped = r.numPendingTests + r.numTodoTests
  console.log(`${r.numPassedTests} passed, ${r.numFailedTests} failed` + (skipped ? `, ${skipped} skipped` : ""))
' "$report" || true
exit "$status"
