#!/usr/bin/env bash
# npm run soak: the fault-injection and soak suite (test/soak) at its full sizes — 50 tasks under a plugin SIGKILL,
# 20 under a containerd SIGKILL, registry faults, hostile images, 200 start/stop/destroy cycles, 10 000 fuzzed inputs — against the
# real environment and the built plugin, one case after another so that they do not skew each other's figures;
# then docs/reliability.md is written from the figures the cases measured (test/soak/report.mjs).
# SOAK=short runs the short form that `npm test` runs too (and labels the report so). Arguments go to vitest.
set -euo pipefail
cd "$(dirname "$0")/.."

bash scripts/test-env.sh up
eval "$(bash scripts/test-env.sh env)"
npm run --silent build

export SOAK="${SOAK:-full}"
# The figures stay in .cache/soak-figures (the last run's), so the page can be rewritten from them:
# node test/soak/report.mjs .cache/soak-figures docs/reliability.md
SOAK_FIGURES=.cache/soak-figures
rm -rf "$SOAK_FIGURES"
mkdir -p "$SOAK_FIGURES"
SOAK_FIGURES=$(cd "$SOAK_FIGURES" && pwd)
TMPDIR=$(mktemp -d /tmp/cdd-soak-XXXXXX)
export SOAK_FIGURES TMPDIR
trap 'rm -rf "$TMPDIR"' EXIT

status=0
npx vitest run --no-file-parallelism test/soak "$@" || status=$?
node test/soak/report.mjs "$SOAK_FIGURES" docs/reliability.md
exit "$status"
