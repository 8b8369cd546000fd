#!/usr/bin/env bash
# The main job on a fresh machine, as root: install and start containerd and a local registry (with images
# built offline), build the plugin, check the node with `doctor`, then run a real Nomad job file through
# `containerd-driver run` — the plugin launched as Nomad launches it, its task on the local containerd — and
# exit with the job's result. `npm run demo -- -var greeting=Bonjour` passes the job a variable.
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
echo "== containerd-driver run example/hello.nomad"
"${cli[@]}" run --config "$config" "$@" example/hello.nomad
echo
echo "== done: the job ran and left nothing behind in containerd; next, try"
echo "   node dist/containerd-driver.cjs run --config $config example/httpd.nomad   (a service with a port; Ctrl-C stops it)"
echo "   node dist/containerd-driver.cjs spec --config $config example/demo.nomad   (the OCI spec a task gets)"
