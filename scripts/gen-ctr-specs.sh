#!/usr/bin/env bash
# Regenerates test/fixtures/ctr-specs/: OCI runtime specs produced by containerd's own Go client (`ctr`), used by
# test/unit/oci-golden.test.ts to compare our pure spec builder (src/oci) against the real thing.
#
# Needs: root, a running containerd (1.6.20 on the reference machine; `scripts/test-env.sh up` starts one; ctr honours
# CONTAINERD_ADDRESS), ctr, jq, tar, sha256sum. No registry is used. Nothing is started or pulled: two tiny OCI images (no binaries, only /etc/passwd and /etc/group,
# which is all spec generation reads) are built here and imported with `ctr images import`. Containers are only
# *created* (never started), their spec is read back with `ctr containers info --spec`, and everything is removed
# again (containers, images, the namespace).
#
# Output files:
#   images/<name>/config.json, passwd, group   the image inputs (the test feeds exactly these to src/oci)
#   host-facts.json                             CapEff of the shell that ran ctr (as names), every /dev node
#                                               (path, type, major, minor, mode, uid, gid), kernel release, arch
#   oci-spec-default.json                       `ctr -n ocispec-golden oci spec`: the bare default spec (no image)
#   <case>.json                                 `ctr containers info --spec` output for one case
#   cases.json                                  every case: the exact ctr arguments used
set -euo pipefail

here="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
out="$here/test/fixtures/ctr-specs"
ns="ocispec-golden"
work="$(mktemp -d)"
trap 'rm -rf "$work"' EXIT

command -v ctr >/dev/null || { echo "ctr not found" >&2; exit 1; }
ctr version >/dev/null || { echo "containerd is not reachable (start it with: scripts/test-env.sh up)" >&2; exit 1; }
mkdir -p "$out/images"

# --- images -------------------------------------------------------------------------------------------------------
# make_image NAME CONFIG_JSON PASSWD GROUP: writes an OCI image layout archive to $work/NAME.tar and the inputs to
# $out/images/NAME/.
make_image() {
  local name="$1" config="$2" passwd="$3" group="$4"
  local dir="$work/$name" root="$work/$name-rootfs"
  mkdir -p "$dir/blobs/sha256" "$root/etc" "$out/images/$name"
  printf '%s' "$passwd" >"$root/etc/passwd"
  printf '%s' "$group" >"$root/etc/group"
  printf '%s' "$passwd" >"$out/images/$name/passwd"
  printf '%s' "$group" >"$out/images/$name/group"
  tar --sort=name --owner=0 --group=0 --numeric-owner --mtime=@0 -cf "$work/$name-layer.tar" -C "$root" etc
  local layer_digest layer_size
  layer_digest="$(sha256sum "$work/$name-layer.tar" | cut -d' ' -f1)"
  layer_size="$(stat -c %s "$work/$name-layer.tar")"
  cp "$work/$name-layer.tar" "$dir/blobs/sha256/$layer_digest"

  printf '%s' "$config" | jq -c . >"$out/images/$name/config.json"
  jq -c --arg d "sha256:$layer_digest" \
    '{architecture: "amd64", os: "linux", config: ., rootfs: {type: "layers", diff_ids: [$d]}}' \
    "$out/images/$name/config.json" >"$work/$name-config.json"
  local config_digest config_size
  config_digest="$(sha256sum "$work/$name-config.json" | cut -d' ' -f1)"
  config_size="$(stat -c %s "$work/$name-config.json")"
  cp "$work/$name-config.json" "$dir/blobs/sha256/$config_digest"

  jq -nc --arg cd "sha256:$config_digest" --argjson cs "$config_size" \
    --arg ld "sha256:$layer_digest" --argjson ls "$layer_size" \
    '{schemaVersion: 2, mediaType: "application/vnd.oci.image.manifest.v1+json",
      config: {mediaType: "application/vnd.oci.image.config.v1+json", digest: $cd, size: $cs},
      layers: [{mediaType: "application/vnd.oci.image.layer.v1.tar", digest: $ld, size: $ls}]}' >"$work/$name-manifest.json"
  local manifest_digest manifest_size
  manifest_digest="$(sha256sum "$work/$name-manifest.json" | cut -d' ' -f1)"
  manifest_size="$(stat -c %s "$work/$name-manifest.json")"
  cp "$work/$name-manifest.json" "$dir/blobs/sha256/$manifest_digest"

  jq -nc --arg md "sha256:$manifest_digest" --argjson ms "$manifest_size" --arg ref "localhost/ocispec/$name:latest" \
    '{schemaVersion: 2, manifests: [{mediaType: "application/vnd.oci.image.manifest.v1+json", digest: $md,
      size: $ms, platform: {architecture: "amd64", os: "linux"},
      annotations: {"io.containerd.image.name": $ref, "org.opencontainers.image.ref.name": "latest"}}]}' >"$dir/index.json"
  printf '{"imageLayoutVersion":"1.0.0"}' >"$dir/oci-layout"
  tar -cf "$work/$name.tar" -C "$dir" oci-layout index.json blobs
}

# "plain" looks like busybox: default PATH, CMD sh, root listed as a member of wheel.
make_image plain \
  '{"Env":["PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin"],"Cmd":["sh"]}' \
  $'root:x:0:0:root:/root:/bin/sh\ndaemon:x:1:1:daemon:/usr/sbin:/bin/false\nnobody:x:65534:65534:nobody:/home:/bin/false\n' \
  $'root:x:0:\ndaemon:x:1:\nwheel:x:10:root\nnogroup:x:65534:\n'

# "app" has ENTRYPOINT + CMD, WORKDIR, USER by name, extra env and supplementary groups.
make_image app \
  '{"Env":["PATH=/usr/bin:/bin","APP_MODE=image","LANG=C.UTF-8"],"Entrypoint":["/usr/bin/app","--serve"],"Cmd":["--port","8080"],"WorkingDir":"/srv/app","User":"app","StopSignal":"SIGINT"}' \
  $'root:x:0:0:root:/root:/bin/sh\napp:x:1000:1000:app:/srv/app:/bin/sh\nbob:x:1001:1001::/home/bob:/bin/sh\n' \
  $'root:x:0:\napp:x:1000:\nbob:x:1001:\naudio:x:29:app\nvideo:x:44:bob,app\nstaff:x:50:bob\n'

cleanup_ns() {
  for c in $(ctr -n "$ns" containers ls -q 2>/dev/null); do ctr -n "$ns" containers rm "$c" >/dev/null 2>&1 || true; done
  for i in $(ctr -n "$ns" images ls -q 2>/dev/null); do ctr -n "$ns" images rm --sync "$i" >/dev/null 2>&1 || true; done
  ctr namespaces rm "$ns" >/dev/null 2>&1 || true
}
cleanup_ns
trap 'cleanup_ns; rm -rf "$work"' EXIT

for name in plain app; do
  ctr -n "$ns" images import "$work/$name.tar" >/dev/null
done

# --- host facts (what the spec depended on when ctr generated it) ---------------------------------------------------
cap_names=(CAP_CHOWN CAP_DAC_OVERRIDE CAP_DAC_READ_SEARCH CAP_FOWNER CAP_FSETID CAP_KILL CAP_SETGID CAP_SETUID
  CAP_SETPCAP CAP_LINUX_IMMUTABLE CAP_NET_BIND_SERVICE CAP_NET_BROADCAST CAP_NET_ADMIN CAP_NET_RAW CAP_IPC_LOCK
  CAP_IPC_OWNER CAP_SYS_MODULE CAP_SYS_RAWIO CAP_SYS_CHROOT CAP_SYS_PTRACE CAP_SYS_PACCT CAP_SYS_ADMIN CAP_SYS_BOOT
  CAP_SYS_NICE CAP_SYS_RESOURCE CAP_SYS_TIME CAP_SYS_TTY_CONFIG CAP_MKNOD CAP_LEASE CAP_AUDIT_WRITE CAP_AUDIT_CONTROL
  CAP_SETFCAP CAP_MAC_OVERRIDE CAP_MAC_ADMIN CAP_SYSLOG CAP_WAKE_ALARM CAP_BLOCK_SUSPEND CAP_AUDIT_READ CAP_PERFMON
  CAP_BPF CAP_CHECKPOINT_RESTORE)
capeff_hex="$(awk '/^CapEff:/ {print $2}' /proc/self/status)"
caps_json="$(for i in "${!cap_names[@]}"; do
  if (( (16#$capeff_hex >> i) & 1 )); then printf '%s\n' "${cap_names[$i]}"; fi
done | jq -R . | jq -sc .)"
# Every block/char device node under /dev, not following symlinks (containerd's WithHostDevices uses lstat).
devices_json="$(find /dev \( -type c -o -type b \) -print0 2>/dev/null | sort -z |
  xargs -0 stat -c '%n|%F|%Hr|%Lr|%a|%u|%g' |
  jq -R 'split("|") | {path: .[0], type: (if .[1] == "block special file" then "b" else "c" end),
         major: (.[2] | tonumber), minor: (.[3] | tonumber),
         fileMode: (.[4] | explode | reduce .[] as $c (0; . * 8 + ($c - 48))),
         uid: (.[5] | tonumber), gid: (.[6] | tonumber)}' | jq -sc .)"
jq -n --argjson caps "$caps_json" --argjson devices "$devices_json" --arg kernel "$(uname -r)" \
  --arg ctr "$(ctr version | awk '/Version:/ {print $2; exit}')" \
  '{ctrVersion: $ctr, arch: "amd64", kernelRelease: $kernel, capabilities: $caps, devices: $devices}' \
  >"$out/host-facts.json"

ctr -n "$ns" oci spec | jq . >"$out/oci-spec-default.json"

# --- cases --------------------------------------------------------------------------------------------------------
# case NAME IMAGE [ctr flags...] -- [args...]
cases_json="[]"
run_case() {
  local name="$1" image="$2"; shift 2
  local flags=() args=()
  while (($#)); do
    if [[ "$1" == "--" ]]; then shift; args=("$@"); break; fi
    flags+=("$1"); shift
  done
  local id="golden-$name"
  ctr -n "$ns" containers create "${flags[@]}" "localhost/ocispec/$image:latest" "$id" "${args[@]}" >/dev/null
  ctr -n "$ns" containers info --spec "$id" | jq . >"$out/$name.json"
  ctr -n "$ns" containers rm "$id" >/dev/null
  local cmd="ctr -n $ns containers create ${flags[*]} localhost/ocispec/$image:latest $id ${args[*]}"
  cases_json="$(jq -c --arg n "$name" --arg i "$image" --arg c "$cmd" '. + [{name: $n, image: $i, command: $c}]' <<<"$cases_json")"
}

run_case default plain
run_case privileged plain --privileged
run_case caps-readonly-cwd-env plain --cap-add CAP_SYS_ADMIN --cap-add CAP_NET_ADMIN --cap-drop CAP_NET_RAW \
  --cap-drop CAP_MKNOD --read-only --cwd /tmp --env FOO=bar --env PATH=/custom/bin
run_case net-host plain --net-host
run_case netns plain --with-ns network:/var/run/netns/golden
run_case resources plain --memory-limit 268435456 --cpu-quota 50000 --cpu-period 100000
run_case seccomp plain --seccomp
run_case seccomp-sys-admin plain --seccomp --cap-add CAP_SYS_ADMIN --cap-add CAP_SYS_PTRACE --cap-drop CAP_SYS_CHROOT
run_case seccomp-conditional-caps plain --seccomp --cap-add CAP_DAC_READ_SEARCH --cap-add CAP_SYS_BOOT \
  --cap-add CAP_SYS_MODULE --cap-add CAP_SYS_PACCT --cap-add CAP_SYS_RAWIO --cap-add CAP_SYS_TIME \
  --cap-add CAP_SYS_TTY_CONFIG --cap-add CAP_SYS_NICE --cap-add CAP_SYSLOG --cap-add CAP_BPF --cap-add CAP_PERFMON
run_case mounts plain --mount type=bind,src=/srv/data,dst=/data,options=rbind:ro \
  --mount type=tmpfs,src=tmpfs,dst=/scratch,options=size=16m
run_case device plain --device /dev/fuse
run_case app-image app
run_case app-args app -- --port 9090 --verbose

jq . <<<"$cases_json" >"$out/cases.json"
echo "wrote $(find "$out" -name "*.json" | wc -l) JSON files to $out" >&2
