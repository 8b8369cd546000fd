# A Nomad client for a node shared by teams that must not reach the host: every route from a task to the host
# is closed, and only the trusted `infra` namespace gets them back. Images pulled for tasks are removed once
# unused; containers left behind by lost DestroyTask calls are removed. (docs/security.md says which option
# closes which route; example/hardened-plugin-config.json is the same config block for
# `containerd-driver doctor --config` and `containerd-driver spec --config`.)

plugin_dir = "/opt/nomad/plugins"

client {
  enabled = true
}

plugin "containerd-driver" {
  config {
    # privileged = true: every capability and every host device.
    allow_privileged = false
    # cap_add beyond these is refused, and the default set is cut down to them: containerd's default set without
    # NET_RAW, as the Docker driver's default allow_caps.
    allow_caps = ["audit_write", "chown", "dac_override", "fowner", "fsetid", "kill", "mknod",
                  "net_bind_service", "setfcap", "setgid", "setpcap", "setuid", "sys_chroot"]
    # runtime: no task picks its own (a runtime name is a binary the runc shim runs as root); all use
    # containerd_runtime. Allow e.g. ["runsc"] to offer gVisor.
    allow_runtimes = []
    # mounts of absolute host paths (bind or volume); relative ones inside the task's directories stay allowed.
    volumes {
      enabled = false
    }
    # devices: none; device-plugin devices Nomad assigns (GPUs) are not affected.
    allowed_devices = []
    # pid_mode = "host" and host_network = true.
    allow_host_pid     = false
    allow_host_network = false
    # Every task runs under containerd's default seccomp profile; seccomp = false is refused.
    default_seccomp          = true
    allow_seccomp_unconfined = false

    # System jobs (log shippers, monitoring agents) in the `infra` namespace may do what the original driver
    # allowed everyone. Other namespaces, `default` included, keep the node's settings above.
    namespace_policy "infra" {
      allow_privileged         = true
      allow_caps               = ["all"]
      allow_runtimes           = ["*"]
      volumes {
        enabled = true
      }
      allowed_devices          = ["*"]
      allow_host_pid           = true
      allow_host_network       = true
      allow_seccomp_unconfined = true
    }

    gc {
      image       = true
      image_delay = "10m"
      dangling_containers {
        enabled        = true
        period         = "5m"
        creation_grace = "5m"
        dry_run        = false
      }
    }
  }
}
