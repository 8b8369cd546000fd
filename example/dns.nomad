# The original driver's dns example, offline: the group's DNS settings and two sysctls in the task's namespace.
# Try: containerd-driver run example/dns.nomad
job "dns" {
  datacenters = ["dc1"]
  type        = "batch"

  group "dns" {
    network {
      dns {
        servers  = ["127.0.0.1", "127.0.0.2"]
        searches = ["internal.corp"]
        options  = ["ndots:2"]
      }
    }

    task "dns" {
      driver = "containerd-driver"

      config {
        image   = "127.0.0.1:5000/test/busybox:latest"
        command = "sh"
        args    = ["-c", "cat /etc/resolv.conf; echo somaxconn=$(cat /proc/sys/net/core/somaxconn) ip_forward=$(cat /proc/sys/net/ipv4/ip_forward)"]
        sysctl = {
          "net.core.somaxconn"  = "16384"
          "net.ipv4.ip_forward" = "1"
        }
      }

      resources {
        cpu    = 100
        memory = 32
      }
    }
  }
}
