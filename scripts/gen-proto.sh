#!/usr/bin/env bash
# Regenerates src/gen from proto/ with ts-proto. The output is committed; CI checks that
# regenerating leaves it unchanged.
set -euo pipefail
cd "$(dirname "$0")/.."
if ! command -v protoc >/dev/null; then
  echo "protoc not found: apt-get install -y protobuf-compiler" >&2
  exit 1
fi
rm -rf src/gen
mkdir -p src/gen
# shellcheck disable=SC2046
protoc \
  --plugin=protoc-gen-ts_proto=./node_modules/.bin/protoc-gen-ts_proto \
  --ts_proto_out=src/gen \
  --ts_proto_opt=outputServices=grpc-js,env=node,esModuleInterop=true,forceLong=bigint,oneof=unions-value,useOptionals=messages,importSuffix=.js,outputJsonMethods=false,annotateFilesWithVersion=false \
  -I proto \
  $(cd proto && find . -name '*.proto' | sed 's|^\./||' | LC_ALL=C sort | sed 's|^|proto/|')
