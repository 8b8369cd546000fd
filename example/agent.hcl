# A Nomad agent (server + client, for trying the driver on one machine) that loads containerd-driver
# from /opt/nomad/plugins. Start it with: nomad agent -dev -config=example/agent.hcl
# (Install the plugin first: npm ci && npm run build &&
#  install -D -m 0755 dist/containerd-driver.cjs /opt/nomad/plugins/containerd-driver)

log_level  = "INFO"
plugin_dir = "/opt/nomad/plugins"

server {
  default_scheduler_config {
    memory_oversubscription_enabled = true
  }
}

client {
  host_volume "s1" {
    path      = "/tmp/host_volume/s1"
    read_only = false
  }
}

plugin "containerd-driver" {
  config {
    enabled            = true
    containerd_runtime = "io.containerd.runc.v2"
    stats_interval     = "5s"
    # New options, shown with their defaults:
    # containerd_address = "/run/containerd/containerd.sock"
    # snapshotter        = "overlayfs"
    # allow_privileged   = true
  }
}
