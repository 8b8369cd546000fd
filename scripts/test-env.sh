#!/usr/bin/env bash
# The real environment for integration tests and CI: containerd, two loopback docker-registry instances (anonymous
# on 5000, htpasswd basic auth on 5001) and the test images built offline by scripts/build-test-images.mjs.
#
#   scripts/test-env.sh up       install missing Debian packages, start what is not running, push missing images
#   scripts/test-env.sh down     stop only the daemons that `up` started (by pid file)
#   scripts/test-env.sh status   report daemons and images; exit 1 unless everything is usable
#   scripts/test-env.sh env      print the `export` lines the tests read (eval "$(scripts/test-env.sh env)")
#
# No systemd is assumed: daemons run as detached background processes, their pids and logs under $TEST_ENV_STATE_DIR.
# Overridable (e.g. for a second, isolated instance): CONTAINERD_ADDRESS, TEST_REGISTRY, TEST_AUTH_REGISTRY,
# TEST_ENV_STATE_DIR. With a non-default CONTAINERD_ADDRESS a started containerd gets its own root/state dirs.
set -euo pipefail

SCRIPT_DIR="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
# runc lives in /usr/sbin; a containerd started from a PATH without it could not start any container.
PATH="$PATH:/usr/local/sbin:/usr/sbin:/sbin"
DEFAULT_CONTAINERD_ADDRESS=/run/containerd/containerd.sock
CONTAINERD_ADDRESS="${CONTAINERD_ADDRESS:-$DEFAULT_CONTAINERD_ADDRESS}"
TEST_REGISTRY="${TEST_REGISTRY:-127.0.0.1:5000}"
TEST_AUTH_REGISTRY="${TEST_AUTH_REGISTRY:-127.0.0.1:5001}"
TEST_REGISTRY_USER=testuser
TEST_REGISTRY_PASSWORD=testpassword
STATE_DIR="${TEST_ENV_STATE_DIR:-/var/lib/containerd-driver-test}"
RUN_DIR="$STATE_DIR/run"
# libprotobuf-dev holds the well-known .proto files (google/protobuf/any.proto, ...) protoc imports; it is only a
# Recommends of protobuf-compiler, which --no-install-recommends leaves out.
PACKAGES=(containerd runc docker-registry busybox-static apache2-utils protobuf-compiler libprotobuf-dev)
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

# http_status <url> [with-credentials]: prints the HTTP status of GET <url>, or 000 if nothing answers.
http_status() {
  local url=$1 credentials=${2:-}
  PROBE_URL="$url" PROBE_AUTH="${credentials:+$TEST_REGISTRY_USER:$TEST_REGISTRY_PASSWORD}" node -e '
    const headers = process.env.PROBE_AUTH
      ? { Authorization: "Basic " + Buffer.from(process.env.PROBE_AUTH).toString("base64") }
      : {}
    fetch(process.env.PROBE_URL, { headers, signal: AbortSignal.timeout(5000) })
      .then((r) => console.log(String(r.status)), () => console.log("000"))
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
  for name in CONTAINERD_ADDRESS TEST_REGISTRY TEST_AUTH_REGISTRY TEST_REGISTRY_USER TEST_REGISTRY_PASSWORD; do
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
