#!/usr/bin/env bash
# The main job on a fresh machine, as root: install and start containerd (and the local test
# registry), build the plugin, and show what the driver sees on this node.
set -euo pipefail
cd "$(dirname "$0")/.."
bash scripts/test-env.sh up
eval "$(bash scripts/test-env.sh env)"
npm run --silent build
node dist/containerd-driver.cjs doctor
