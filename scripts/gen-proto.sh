#!/usr/bin/env bash
# Regenerates src/gen from proto/ with ts-proto. The output is committed; CI checks that
# regenerating leaves it unchanged. Generates into a temporary directory first so a broken
# .proto never leaves src/gen half-written.
set -euo pipefail
cd "$(dirname "$0")/.."
if ! command -v protoc >/dev/null; then
  echo "protoc not found: apt-get install -y protobuf-compiler libprotobuf-dev" >&2
  exit 1
fi
out=$(mktemp -d)
trap 'rm -rf "$out"' EXIT
mapfile -t files < <(cd proto && find . -name '*.proto' | sed 's|^\./||' | LC_ALL=C sort)
[ "${#files[@]}" -gt 0 ] || { echo "no .proto files under proto/" >&2; exit 1; }
protoc \
  --plugin=protoc-gen-ts_proto=./node_modules/.bin/protoc-gen-ts_proto \
  --ts_proto_out="$out" \
  --ts_proto_opt=outputServices=grpc-js,env=node,esModuleInterop=true,forceLong=bigint,oneof=unions-value,useOptionals=messages,importSuffix=.js,outputJsonMethods=false,annotateFilesWithVersion=false \
  -I proto \
  "${files[@]}"
rm -rf src/gen
mv "$out" src/gen
chmod 755 src/gen
trap - EXIT
