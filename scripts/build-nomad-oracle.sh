#!/usr/bin/env bash
# Builds the config-bytes oracle (test/oracle/nomadcty/main.go) into .cache/nomad-oracle/nomadcty: the real
# hcldec + cty msgpack pipeline of a Nomad client, from Debian's Go packages only (GOPATH mode, no network).
# Installs the packages it needs when missing (root). Idempotent: does nothing while the binary is newer than
# its source and this script; silent on success unless it had work to do.
set -euo pipefail

ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
SOURCE="$ROOT/test/oracle/nomadcty/main.go"
OUT_DIR="$ROOT/.cache/nomad-oracle"
BINARY="$OUT_DIR/nomadcty"
LOG="$OUT_DIR/build.log"
# golang-go is Go 1.19; hcl 2.14.1 and cty 1.12.1 are the versions the worked example in
# test/integration/nomad-oracle.test.ts was recorded with.
PACKAGES=(golang-go golang-github-hashicorp-hcl-v2-dev golang-github-zclconf-go-cty-dev)

log() { printf 'nomad-oracle: %s\n' "$*" >&2; }
die() {
  printf 'nomad-oracle: error: %s\n' "$*" >&2
  exit 1
}

if [[ -x $BINARY && $BINARY -nt $SOURCE && $BINARY -nt ${BASH_SOURCE[0]} ]]; then
  exit 0
fi

mkdir -p "$OUT_DIR"
: >"$LOG"
started=$SECONDS

missing=()
for pkg in "${PACKAGES[@]}"; do
  if ! dpkg-query -W -f='${Status}' "$pkg" 2>/dev/null | grep -q 'install ok installed'; then
    missing+=("$pkg")
  fi
done
if [[ ${#missing[@]} -gt 0 ]]; then
  [[ $EUID -eq 0 ]] || die "missing Debian packages ${missing[*]}; install them as root or run this script as root"
  log "installing ${missing[*]}"
  apt_install() {
    DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends "${missing[@]}" >>"$LOG" 2>&1
  }
  # Refresh the package lists only when the ones on the machine cannot serve the install.
  if ! apt_install; then
    DEBIAN_FRONTEND=noninteractive apt-get update -qq >>"$LOG" 2>&1 || die "apt-get update failed; see $LOG"
    apt_install || die "apt-get install ${missing[*]} failed; see $LOG"
  fi
  log "installed in $((SECONDS - started)) s"
fi

built=$SECONDS
# GOPATH mode against Debian's source tree; GOPROXY=off and GOFLAGS= keep the go tool off the network.
GO111MODULE=off GOPATH=/usr/share/gocode GOPROXY=off GOFLAGS='' GOCACHE="$OUT_DIR/go-build" \
  go build -trimpath -o "$BINARY.tmp" "$SOURCE" >>"$LOG" 2>&1 || {
  cat "$LOG" >&2
  die "go build failed"
}
mv "$BINARY.tmp" "$BINARY"
log "built $BINARY in $((SECONDS - built)) s"
