# The original driver's extra_hosts example, offline: entries added to the task's /etc/hosts, on the host network.
# Try: containerd-driver run example/extra_hosts.nomad
job "extra_hosts" {
  datacenters = ["dc1"]
  type        = "batch"

  group "extra_hosts" {
    task "extra_hosts" {
      driver = "containerd-driver"

      config {
        image        = "127.0.0.1:5000/test/busybox:latest"
        command      = "cat"
        args         = ["/etc/hosts"]
        host_network = true
        extra_hosts  = ["postgres:127.0.1.1", "redis:127.0.1.2"]
      }

      resources {
        cpu    = 100
        memory = 32
      }
    }
  }
}
