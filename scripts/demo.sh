#!/usr/bin/env bash
# The main job on a fresh machine, as root: install and start containerd and a local registry
# (with images built offline), build the plugin, then let it work on the local containerd:
# check the node, pull and unpack an image, and show the runtime spec of a job's task.
set -euo pipefail
cd "$(dirname "$0")/.."
bash scripts/test-env.sh up
eval "$(bash scripts/test-env.sh env)"
npm run --silent build
cli=(node dist/containerd-driver.cjs)
config=example/plugin-config.json

echo "== containerd-driver doctor"
"${cli[@]}" doctor --config "$config"
echo
echo "== containerd-driver pull 127.0.0.1:5000/test/multilayer:latest"
"${cli[@]}" pull --config "$config" 127.0.0.1:5000/test/multilayer:latest
echo
echo "== containerd-driver spec example/demo.nomad"
"${cli[@]}" spec --config "$config" example/demo.nomad
