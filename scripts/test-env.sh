#!/usr/bin/env bash
# The real environment for integration tests and CI: containerd, loopback docker-registry instances and the test
# images built offline by scripts/build-test-images.mjs:
#   5000  plain HTTP, anonymous (the images are pushed here, library/busybox too for the docker.io mirror set-up)
#   5001  plain HTTP, htpasswd basic auth
#   5002  HTTPS (certificate from a test CA made here), Bearer tokens from the token service on 5003
#   5003  the token service (test/support/tokenService.mjs, HTTPS), signing JWTs the 5002 registry trusts
#   5004  HTTPS requiring a client certificate issued by the test CA
# 5002 and 5004 serve 5000's storage read-only, so they hold the same images without a push of their own.
# $TEST_TLS_DIR holds ca.crt, client.cert/client.key; $TEST_HOSTS_DIR is a containerd hosts dir (certs.d) for these:
# docker.io mirrored by 5000, 5002 and 5004 with the test CA (and 5004 with the client certificate).
#
#   scripts/test-env.sh up       install missing Debian packages, start what is not running, push missing images
#   scripts/test-env.sh down     stop only the daemons that `up` started (by pid file)
#   scripts/test-env.sh status   report daemons and images; exit 1 unless everything is usable
#   scripts/test-env.sh env      print the `export` lines the tests read (eval "$(scripts/test-env.sh env)")
#
# No systemd is assumed: daemons run as detached background processes, their pids and logs under $TEST_ENV_STATE_DIR.
# Overridable (e.g. for a second, isolated instance): CONTAINERD_ADDRESS, TEST_REGISTRY, TEST_AUTH_REGISTRY,
# TEST_TOKEN_REGISTRY, TEST_TOKEN_SERVICE, TEST_MTLS_REGISTRY, TEST_ENV_STATE_DIR. With a non-default CONTAINERD_ADDRESS a started containerd gets its own root/state dirs.
set -euo pipefail

SCRIPT_DIR="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
# runc lives in /usr/sbin; a containerd started from a PATH without it could not start any container.
PATH="$PATH:/usr/local/sbin:/usr/sbin:/sbin"
DEFAULT_CONTAINERD_ADDRESS=/run/containerd/containerd.sock
CONTAINERD_ADDRESS="${CONTAINERD_ADDRESS:-$DEFAULT_CONTAINERD_ADDRESS}"
TEST_REGISTRY="${TEST_REGISTRY:-127.0.0.1:5000}"
TEST_AUTH_REGISTRY="${TEST_AUTH_REGISTRY:-127.0.0.1:5001}"
TEST_TOKEN_REGISTRY="${TEST_TOKEN_REGISTRY:-127.0.0.1:5002}"
TEST_TOKEN_SERVICE="${TEST_TOKEN_SERVICE:-127.0.0.1:5003}"
TEST_MTLS_REGISTRY="${TEST_MTLS_REGISTRY:-127.0.0.1:5004}"
TEST_REGISTRY_USER=testuser
TEST_REGISTRY_PASSWORD=testpassword
STATE_DIR="${TEST_ENV_STATE_DIR:-/var/lib/containerd-driver-test}"
RUN_DIR="$STATE_DIR/run"
TEST_TLS_DIR="$STATE_DIR/tls"
TEST_HOSTS_DIR="$STATE_DIR/certs.d"
REPO_DIR="$(dirname "$SCRIPT_DIR")"
# The registry's auth.token service and issuer, and what the token service puts in its tokens.
TOKEN_SERVICE_NAME=containerd-driver-test
TOKEN_ISSUER=containerd-driver-test-token-service
# libprotobuf-dev holds the well-known .proto files (google/protobuf/any.proto, ...) protoc imports; it is only a
# Recommends of protobuf-compiler, which --no-install-recommends leaves out.
PACKAGES=(containerd runc docker-registry busybox-static apache2-utils protobuf-compiler libprotobuf-dev containernetworking-plugins iptables openssl shellcheck)
READY_TIMEOUT_SECONDS=30
STOP_TIMEOUT_SECONDS=15

log() { printf 'test-env: %s\n' "$*" >&2; }
die() {
  printf 'test-env: error: %s\n' "$*" >&2
  exit 1
}

require_root() {
  [[ $EUID -eq 0 ]] || die "must run as root (starts containerd, installs packages)"
}

# Serialises up/down between concurrent callers sharing the machine.
take_lock() {
  mkdir -p "$RUN_DIR"
  exec 9>"$STATE_DIR/lock"
  flock -w 600 9 || die "could not lock $STATE_DIR/lock within 600 s (another test-env.sh up/down running?)"
}

ensure_packages() {
  local missing=() pkg
  for pkg in "${PACKAGES[@]}"; do
    if ! dpkg-query -W -f='${Status}' "$pkg" 2>/dev/null | grep -q 'install ok installed'; then
      missing+=("$pkg")
    fi
  done
  command -v node >/dev/null || die "node is required (Node 20) but not on PATH"
  [[ ${#missing[@]} -eq 0 ]] && return 0
  log "installing ${missing[*]}"
  local started=$SECONDS
  DEBIAN_FRONTEND=noninteractive apt-get update -qq >"$STATE_DIR/apt.log" 2>&1 ||
    die "apt-get update failed; see $STATE_DIR/apt.log"
  DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends "${missing[@]}" >>"$STATE_DIR/apt.log" 2>&1 ||
    die "apt-get install ${missing[*]} failed; see $STATE_DIR/apt.log"
  log "installed in $((SECONDS - started)) s"
}

# ---------------------------------------------------------------------------------------------------------------
# Processes started by `up`: $RUN_DIR/<name>.pid, checked against the executable name so a recycled pid is never
# mistaken for ours.

pid_file() { printf '%s/%s.pid' "$RUN_DIR" "$1"; }

# Prints the pid recorded for <name> if that process is alive and runs <executable>.
our_pid() {
  local name=$1 executable=$2 file pid argv0
  file="$(pid_file "$name")"
  [[ -s $file ]] || return 1
  pid="$(<"$file")"
  [[ $pid =~ ^[0-9]+$ && -r /proc/$pid/cmdline ]] || return 1
  argv0="$(tr '\0' '\n' <"/proc/$pid/cmdline" | head -n 1)"
  [[ "$(basename -- "$argv0")" == "$executable" ]] || return 1
  printf '%s' "$pid"
}

# start_daemon <name> <logfile> <command...>: detached (own session, stdin closed), pid written by the process itself.
start_daemon() {
  local name=$1 logfile=$2 file
  shift 2
  file="$(pid_file "$name")"
  rm -f "$file"
  # The daemon must not inherit fd 9 (the up/down lock) or it would hold the lock for its whole life.
  # shellcheck disable=SC2016 # $$ and $@ belong to the inner shell
  setsid sh -c 'echo $$ >"$0.tmp" && mv "$0.tmp" "$0" && exec "$@"' "$file" "$@" >>"$logfile" 2>&1 </dev/null 9>&- &
  local i
  for ((i = 0; i < 50; i++)); do
    [[ -s $file ]] && return 0
    sleep 0.1
  done
  die "$name did not record its pid in $file; see $logfile"
}

stop_daemon() {
  local name=$1 executable=$2 pid i
  if ! pid="$(our_pid "$name" "$executable")"; then
    if [[ -e "$(pid_file "$name")" ]]; then
      log "$name: recorded process is gone; removing stale pid file"
      rm -f "$(pid_file "$name")"
    else
      log "$name: not started by test-env; leaving it alone"
    fi
    return 0
  fi
  log "$name: stopping pid $pid"
  kill -TERM "$pid" 2>/dev/null || true
  for ((i = 0; i < STOP_TIMEOUT_SECONDS * 10; i++)); do
    [[ -d /proc/$pid ]] || break
    sleep 0.1
  done
  if [[ -d /proc/$pid ]]; then
    log "$name: pid $pid ignored SIGTERM for ${STOP_TIMEOUT_SECONDS} s; sending SIGKILL"
    kill -KILL "$pid" 2>/dev/null || true
  fi
  rm -f "$(pid_file "$name")"
}

# ---------------------------------------------------------------------------------------------------------------
# containerd

containerd_answers() {
  timeout 10 ctr --address "$CONTAINERD_ADDRESS" --connect-timeout 2s --timeout 5s version >/dev/null 2>&1
}

ensure_containerd() {
  local pid
  if containerd_answers; then
    if pid="$(our_pid containerd containerd)"; then
      log "containerd: running (started by test-env, pid $pid) at $CONTAINERD_ADDRESS"
    else
      log "containerd: already running at $CONTAINERD_ADDRESS (not started by test-env; down leaves it alone)"
    fi
    return 0
  fi
  local logfile="$STATE_DIR/containerd.log" args=(containerd --address "$CONTAINERD_ADDRESS")
  if pid="$(our_pid containerd containerd)"; then
    log "containerd: pid $pid (ours) is not answering yet; waiting"
  else
    # Debian's /etc/containerd/config.toml (read by default) sets no socket path, so the daemon listens on
    # --address and creates its parent directory itself; make sure it exists anyway.
    mkdir -p "$(dirname "$CONTAINERD_ADDRESS")"
    if [[ $CONTAINERD_ADDRESS != "$DEFAULT_CONTAINERD_ADDRESS" ]]; then
      # A second daemon must not share the system daemon's metadata database (bolt lock) or task state.
      args+=(--root "$STATE_DIR/containerd-root" --state "$STATE_DIR/containerd-state")
    fi
    log "containerd: starting (log: $logfile)"
    start_daemon containerd "$logfile" "${args[@]}"
    pid="$(<"$(pid_file containerd)")"
  fi
  local deadline=$((SECONDS + READY_TIMEOUT_SECONDS))
  while ((SECONDS < deadline)); do
    if containerd_answers; then
      log "containerd: ready (pid $pid) at $CONTAINERD_ADDRESS"
      return 0
    fi
    if [[ ! -d /proc/$pid ]]; then
      tail -n 20 "$logfile" >&2 || true
      die "containerd exited during startup; see $logfile"
    fi
    sleep 0.5
  done
  tail -n 20 "$logfile" >&2 || true
  die "containerd did not answer at $CONTAINERD_ADDRESS within ${READY_TIMEOUT_SECONDS} s; see $logfile"
}

# ---------------------------------------------------------------------------------------------------------------
# Registries

# http_status <url> [with-credentials|with-client-certificate]: prints the HTTP status of GET <url>, or 000 if
# nothing answers (or the TLS handshake fails). HTTPS URLs are checked against the test CA.
http_status() {
  local url=$1 credentials=${2:-}
  PROBE_URL="$url" PROBE_AUTH="${credentials:+$TEST_REGISTRY_USER:$TEST_REGISTRY_PASSWORD}" PROBE_MODE="$credentials" \
    PROBE_TLS_DIR="$TEST_TLS_DIR" node -e '
    const fs = require("node:fs")
    const env = process.env
    const url = new URL(env.PROBE_URL)
    const tls = (name) => fs.readFileSync(`${env.PROBE_TLS_DIR}/${name}`)
    const options = { timeout: 5000, headers: {} }
    if (env.PROBE_MODE === "with-credentials") {
      options.headers.Authorization = "Basic " + Buffer.from(env.PROBE_AUTH).toString("base64")
    }
    if (url.protocol === "https:") {
      try {
        options.ca = tls("ca.crt")
        if (env.PROBE_MODE === "with-client-certificate") Object.assign(options, { cert: tls("client.cert"), key: tls("client.key") })
      } catch {
        console.log("000")
        process.exit(0)
      }
    }
    const request = require(url.protocol === "https:" ? "node:https" : "node:http").get(url, options, (response) => {
      response.resume()
      console.log(String(response.statusCode))
    })
    request.on("timeout", () => request.destroy(new Error("timeout")))
    request.on("error", () => console.log("000"))
  '
}

write_registry_config() {
  local dir=$1 addr=$2 with_auth=$3
  mkdir -p "$dir/storage"
  {
    printf 'version: 0.1\n'
    printf 'log:\n  level: info\n'
    printf 'storage:\n  filesystem:\n    rootdirectory: %s\n  delete:\n    enabled: true\n' "$dir/storage"
    printf 'http:\n  addr: %s\n  secret: containerd-driver-test-upload-state\n' "$addr"
    if [[ $with_auth == yes ]]; then
      printf 'auth:\n  htpasswd:\n    realm: containerd-driver-test\n    path: %s\n' "$dir/htpasswd"
    fi
  } >"$dir/config.yml.tmp"
  mv "$dir/config.yml.tmp" "$dir/config.yml"
  if [[ $with_auth == yes ]] &&
    ! printf '%s' "$TEST_REGISTRY_PASSWORD" | htpasswd -iv "$dir/htpasswd" "$TEST_REGISTRY_USER" >/dev/null 2>&1; then
    # docker-registry only accepts bcrypt entries (-B); -i keeps the password out of argv.
    printf '%s' "$TEST_REGISTRY_PASSWORD" | htpasswd -iBc "$dir/htpasswd" "$TEST_REGISTRY_USER" >/dev/null 2>&1 ||
      die "htpasswd failed for $dir/htpasswd"
  fi
}

# ensure_registry <name> <addr> <with_auth yes|no>
ensure_registry() {
  local name=$1 addr=$2 with_auth=$3 expected=200 status pid
  [[ $with_auth == yes ]] && expected=401
  local dir="$STATE_DIR/$name" logfile="$STATE_DIR/$name.log"
  status="$(http_status "http://$addr/v2/")"
  if [[ $status == "$expected" ]]; then
    if pid="$(our_pid "$name" docker-registry)"; then
      log "$name: running (started by test-env, pid $pid) at $addr"
    else
      log "$name: something not started by test-env already answers at $addr (GET /v2/ -> $status); using it"
    fi
    return 0
  fi
  if pid="$(our_pid "$name" docker-registry)"; then
    log "$name: pid $pid (ours) is not answering yet; waiting"
  else
    [[ $status == 000 ]] ||
      die "$addr is taken by another server (GET /v2/ -> $status, expected $expected); free the port or set TEST_REGISTRY/TEST_AUTH_REGISTRY"
    write_registry_config "$dir" "$addr" "$with_auth"
    log "$name: starting on $addr (log: $logfile)"
    start_daemon "$name" "$logfile" docker-registry serve "$dir/config.yml"
    pid="$(<"$(pid_file "$name")")"
  fi
  local deadline=$((SECONDS + READY_TIMEOUT_SECONDS))
  while ((SECONDS < deadline)); do
    status="$(http_status "http://$addr/v2/")"
    if [[ $status == "$expected" ]]; then
      log "$name: ready (pid $pid) at $addr (GET /v2/ -> $status)"
      return 0
    fi
    if [[ ! -d /proc/$pid ]]; then
      tail -n 20 "$logfile" >&2 || true
      die "$name exited during startup; see $logfile"
    fi
    sleep 0.25
  done
  tail -n 20 "$logfile" >&2 || true
  die "$name did not answer GET http://$addr/v2/ with $expected within ${READY_TIMEOUT_SECONDS} s (last: $status); see $logfile"
}

check_auth_registry_credentials() {
  local status
  status="$(http_status "http://$TEST_AUTH_REGISTRY/v2/" with-credentials)"
  [[ $status == 200 ]] ||
    die "registry-auth at $TEST_AUTH_REGISTRY answers $status (expected 200) to $TEST_REGISTRY_USER's credentials"
}

# ---------------------------------------------------------------------------------------------------------------
# TLS: a test CA, a server certificate for 127.0.0.1/localhost, a client certificate, and the token signing key
# (self-signed: the registry's rootcertbundle is that certificate alone, so no other key can sign tokens).

TLS_FILES=(ca.crt ca.key server.crt server.key client.cert client.key token-signing.crt token-signing.key)

tls_material_usable() {
  local file
  for file in "${TLS_FILES[@]}"; do [[ -s $TEST_TLS_DIR/$file ]] || return 1; done
  for file in ca.crt server.crt client.cert token-signing.crt; do
    openssl x509 -checkend 86400 -noout -in "$TEST_TLS_DIR/$file" >/dev/null 2>&1 || return 1
  done
}

# sign_certificate <dir> <name> <subject> <extensions> <certificate file>: <name>.key and its certificate, signed by
# the CA in <dir>.
sign_certificate() {
  local dir=$1 name=$2 subject=$3 extensions=$4 out=$5
  openssl req -new -newkey rsa:2048 -nodes -keyout "$dir/$name.key" -out "$dir/$name.csr" -subj "$subject" 2>/dev/null ||
    return 1
  printf '%b' "$extensions" >"$dir/$name.ext"
  openssl x509 -req -in "$dir/$name.csr" -CA "$dir/ca.crt" -CAkey "$dir/ca.key" -set_serial "0x$(openssl rand -hex 12)" \
    -days 3650 -sha256 -extfile "$dir/$name.ext" -out "$dir/$out" 2>/dev/null || return 1
  rm -f "$dir/$name.csr" "$dir/$name.ext"
}

ensure_tls_material() {
  if tls_material_usable; then
    log "tls: test CA and certificates present in $TEST_TLS_DIR"
    return 0
  fi
  # Daemons started with older certificates would keep serving them.
  local daemon
  for daemon in registry-mtls:docker-registry registry-token:docker-registry token-service:node; do
    if our_pid "${daemon%%:*}" "${daemon#*:}" >/dev/null; then stop_daemon "${daemon%%:*}" "${daemon#*:}"; fi
  done
  log "tls: making a test CA and certificates in $TEST_TLS_DIR"
  local dir="$TEST_TLS_DIR.new"
  rm -rf "$dir"
  mkdir -p "$dir"
  chmod 700 "$dir"
  local failed="openssl could not make the test certificates in $dir"
  openssl req -x509 -newkey rsa:2048 -nodes -keyout "$dir/ca.key" -out "$dir/ca.crt" -days 3650 -sha256 \
    -subj "/CN=containerd-driver test CA" -addext "basicConstraints=critical,CA:TRUE" \
    -addext "keyUsage=critical,keyCertSign,cRLSign" 2>/dev/null || die "$failed"
  sign_certificate "$dir" server "/CN=127.0.0.1" \
    'basicConstraints=CA:FALSE\nkeyUsage=critical,digitalSignature,keyEncipherment\nextendedKeyUsage=serverAuth\nsubjectAltName=IP:127.0.0.1,DNS:localhost\n' \
    server.crt || die "$failed"
  sign_certificate "$dir" client "/CN=containerd-driver test client" \
    'basicConstraints=CA:FALSE\nkeyUsage=critical,digitalSignature\nextendedKeyUsage=clientAuth\n' client.cert || die "$failed"
  openssl req -x509 -newkey rsa:2048 -nodes -keyout "$dir/token-signing.key" -out "$dir/token-signing.crt" -days 3650 \
    -sha256 -subj "/CN=containerd-driver test token signer" 2>/dev/null || die "$failed"
  # The CA's certificate is public; its key and the others stay root's.
  chmod 644 "$dir/ca.crt"
  rm -rf "$TEST_TLS_DIR"
  mv "$dir" "$TEST_TLS_DIR"
  chmod 755 "$TEST_TLS_DIR"
}

# write_tls_registry_config <dir> <addr> <token|client-certificate>: serves registry-anon's storage read-only.
write_tls_registry_config() {
  local dir=$1 addr=$2 kind=$3
  mkdir -p "$dir"
  {
    printf 'version: 0.1\n'
    printf 'log:\n  level: info\n'
    printf 'storage:\n  filesystem:\n    rootdirectory: %s\n' "$STATE_DIR/registry-anon/storage"
    printf '  maintenance:\n    uploadpurging:\n      enabled: false\n    readonly:\n      enabled: true\n'
    printf 'http:\n  addr: %s\n  secret: containerd-driver-test-upload-state\n' "$addr"
    printf '  tls:\n    certificate: %s\n    key: %s\n' "$TEST_TLS_DIR/server.crt" "$TEST_TLS_DIR/server.key"
    if [[ $kind == client-certificate ]]; then
      printf '    clientcas:\n      - %s\n' "$TEST_TLS_DIR/ca.crt"
    else
      printf 'auth:\n  token:\n    realm: https://%s/token\n    service: %s\n    issuer: %s\n    rootcertbundle: %s\n' \
        "$TEST_TOKEN_SERVICE" "$TOKEN_SERVICE_NAME" "$TOKEN_ISSUER" "$TEST_TLS_DIR/token-signing.crt"
    fi
  } >"$dir/config.yml.tmp"
  mv "$dir/config.yml.tmp" "$dir/config.yml"
}

# ensure_daemon <name> <executable> <probe url> <probe mode> <expected status> <command...>: starts the daemon unless
# something already answers the probe as expected, and waits until it does.
ensure_daemon() {
  local name=$1 executable=$2 url=$3 mode=$4 expected=$5 status pid
  shift 5
  local logfile="$STATE_DIR/$name.log"
  status="$(http_status "$url" "$mode")"
  if [[ $status == "$expected" ]]; then
    if pid="$(our_pid "$name" "$executable")"; then
      log "$name: running (started by test-env, pid $pid) at $url"
    else
      log "$name: something not started by test-env already answers $url ($status); using it"
    fi
    return 0
  fi
  if pid="$(our_pid "$name" "$executable")"; then
    log "$name: pid $pid (ours) is not answering yet; waiting"
  else
    log "$name: starting for $url (log: $logfile)"
    start_daemon "$name" "$logfile" "$@"
    pid="$(<"$(pid_file "$name")")"
  fi
  local deadline=$((SECONDS + READY_TIMEOUT_SECONDS))
  while ((SECONDS < deadline)); do
    status="$(http_status "$url" "$mode")"
    if [[ $status == "$expected" ]]; then
      log "$name: ready (pid $pid) at $url ($status)"
      return 0
    fi
    if [[ ! -d /proc/$pid ]]; then
      tail -n 20 "$logfile" >&2 || true
      die "$name exited during startup; see $logfile"
    fi
    sleep 0.25
  done
  tail -n 20 "$logfile" >&2 || true
  die "$name did not answer $url with $expected within ${READY_TIMEOUT_SECONDS} s (last: $status); see $logfile"
}

ensure_token_service() {
  ensure_daemon token-service node "https://$TEST_TOKEN_SERVICE/healthz" "" 200 \
    env TOKEN_SERVICE_ADDR="$TEST_TOKEN_SERVICE" TOKEN_SERVICE_TLS_DIR="$TEST_TLS_DIR" \
    TOKEN_SERVICE_NAME="$TOKEN_SERVICE_NAME" TOKEN_SERVICE_ISSUER="$TOKEN_ISSUER" \
    TOKEN_SERVICE_PASSWORD="$TEST_REGISTRY_PASSWORD" node "$REPO_DIR/test/support/tokenService.mjs"
}

ensure_tls_registries() {
  write_tls_registry_config "$STATE_DIR/registry-token" "$TEST_TOKEN_REGISTRY" token
  ensure_daemon registry-token docker-registry "https://$TEST_TOKEN_REGISTRY/v2/" "" 401 \
    docker-registry serve "$STATE_DIR/registry-token/config.yml"
  write_tls_registry_config "$STATE_DIR/registry-mtls" "$TEST_MTLS_REGISTRY" client-certificate
  ensure_daemon registry-mtls docker-registry "https://$TEST_MTLS_REGISTRY/v2/" with-client-certificate 200 \
    docker-registry serve "$STATE_DIR/registry-mtls/config.yml"
}

# A containerd hosts dir for the registries above (what an operator would write in /etc/containerd/certs.d).
write_hosts_dir() {
  local dir="$TEST_HOSTS_DIR.new"
  rm -rf "$dir"
  mkdir -p "$dir/docker.io" "$dir/$TEST_TOKEN_REGISTRY" "$dir/$TEST_MTLS_REGISTRY"
  printf '# Docker Hub through the local registry, so docker.io images pull offline.\n[host."http://%s"]\n  capabilities = ["pull", "resolve"]\n' \
    "$TEST_REGISTRY" >"$dir/docker.io/hosts.toml"
  printf 'server = "https://%s"\nca = "%s"\n' "$TEST_TOKEN_REGISTRY" "$TEST_TLS_DIR/ca.crt" >"$dir/$TEST_TOKEN_REGISTRY/hosts.toml"
  printf 'server = "https://%s"\nca = "%s"\nclient = [["%s", "%s"]]\n' "$TEST_MTLS_REGISTRY" "$TEST_TLS_DIR/ca.crt" \
    "$TEST_TLS_DIR/client.cert" "$TEST_TLS_DIR/client.key" >"$dir/$TEST_MTLS_REGISTRY/hosts.toml"
  rm -rf "$TEST_HOSTS_DIR"
  mv "$dir" "$TEST_HOSTS_DIR"
}

export_for_children() {
  export CONTAINERD_ADDRESS TEST_REGISTRY TEST_AUTH_REGISTRY TEST_REGISTRY_USER TEST_REGISTRY_PASSWORD
}

push_images() {
  export_for_children
  node "$SCRIPT_DIR/build-test-images.mjs" || die "building or pushing the test images failed"
}

# ---------------------------------------------------------------------------------------------------------------

cmd_up() {
  require_root
  mkdir -p "$STATE_DIR"
  take_lock
  local started=$SECONDS
  ensure_packages
  ensure_containerd
  ensure_registry registry-anon "$TEST_REGISTRY" no
  ensure_registry registry-auth "$TEST_AUTH_REGISTRY" yes
  check_auth_registry_credentials
  push_images
  ensure_tls_material
  ensure_token_service
  ensure_tls_registries
  write_hosts_dir
  bash "$SCRIPT_DIR/build-nomad-oracle.sh"
  log "up: ready in $((SECONDS - started)) s (eval \"\$(scripts/test-env.sh env)\" for the variables)"
}

cmd_down() {
  require_root
  [[ -d $STATE_DIR ]] || {
    log "nothing to stop ($STATE_DIR does not exist)"
    return 0
  }
  take_lock
  stop_daemon registry-mtls docker-registry
  stop_daemon registry-token docker-registry
  stop_daemon token-service node
  stop_daemon registry-auth docker-registry
  stop_daemon registry-anon docker-registry
  stop_daemon containerd containerd
}

# owner <name> <executable>: who runs the daemon, for status lines.
owner() {
  local pid
  if pid="$(our_pid "$1" "$2")"; then printf 'started by test-env, pid %s' "$pid"; else printf 'not started by test-env'; fi
}

cmd_status() {
  local ok=0 status
  if containerd_answers; then
    log "containerd: answering at $CONTAINERD_ADDRESS ($(owner containerd containerd))"
  else
    log "containerd: NOT answering at $CONTAINERD_ADDRESS"
    ok=1
  fi
  status="$(http_status "http://$TEST_REGISTRY/v2/")"
  log "registry-anon: $TEST_REGISTRY GET /v2/ -> $status (expected 200; $(owner registry-anon docker-registry))"
  [[ $status == 200 ]] || ok=1
  status="$(http_status "http://$TEST_AUTH_REGISTRY/v2/")"
  local with_credentials
  with_credentials="$(http_status "http://$TEST_AUTH_REGISTRY/v2/" with-credentials)"
  log "registry-auth: $TEST_AUTH_REGISTRY GET /v2/ -> $status without / $with_credentials with credentials (expected 401 / 200; $(owner registry-auth docker-registry))"
  [[ $status == 401 && $with_credentials == 200 ]] || ok=1
  status="$(http_status "https://$TEST_TOKEN_SERVICE/healthz")"
  log "token-service: $TEST_TOKEN_SERVICE GET /healthz -> $status (expected 200; $(owner token-service node))"
  [[ $status == 200 ]] || ok=1
  status="$(http_status "https://$TEST_TOKEN_REGISTRY/v2/")"
  log "registry-token: $TEST_TOKEN_REGISTRY GET /v2/ -> $status (expected 401; $(owner registry-token docker-registry))"
  [[ $status == 401 ]] || ok=1
  status="$(http_status "https://$TEST_MTLS_REGISTRY/v2/")"
  with_credentials="$(http_status "https://$TEST_MTLS_REGISTRY/v2/" with-client-certificate)"
  log "registry-mtls: $TEST_MTLS_REGISTRY GET /v2/ -> $status without / $with_credentials with a client certificate (expected 000 / 200; $(owner registry-mtls docker-registry))"
  [[ $status == 000 && $with_credentials == 200 ]] || ok=1
  [[ -s $TEST_HOSTS_DIR/docker.io/hosts.toml ]] || {
    log "hosts dir: $TEST_HOSTS_DIR/docker.io/hosts.toml missing"
    ok=1
  }
  if [[ $ok == 0 ]]; then
    export_for_children
    node "$SCRIPT_DIR/build-test-images.mjs" --check || ok=1
  fi
  if [[ $ok == 0 ]]; then
    log "status: ready"
  else
    log "status: NOT ready (run scripts/test-env.sh up)"
  fi
  return "$ok"
}

cmd_env() {
  local name
  for name in CONTAINERD_ADDRESS TEST_REGISTRY TEST_AUTH_REGISTRY TEST_REGISTRY_USER TEST_REGISTRY_PASSWORD \
    TEST_TOKEN_REGISTRY TEST_TOKEN_SERVICE TEST_MTLS_REGISTRY TEST_TLS_DIR TEST_HOSTS_DIR; do
    printf "export %s='%s'\n" "$name" "${!name}"
  done
}

case "${1:-}" in
up) cmd_up ;;
down) cmd_down ;;
status) cmd_status ;;
env) cmd_env ;;
*)
  printf 'usage: %s up|down|status|env\n' "$0" >&2
  exit 2
  ;;
esac
