# The original driver's volume_mount example, offline: the client's host volume "s1" mounted twice, read-write
# and read-only. Try:
#   mkdir -p /tmp/host_volume/s1 && echo hello > /tmp/host_volume/s1/bind.txt
#   containerd-driver run --host-volume s1=/tmp/host_volume/s1 example/volume_mount.nomad
job "volume_mount" {
  datacenters = ["dc1"]
  type        = "batch"

  group "volume_mount" {
    volume "data" {
      type      = "host"
      source    = "s1"
      read_only = false
    }

    volume "read_only_data" {
      type      = "host"
      source    = "s1"
      read_only = true
    }

    task "volume_mount" {
      driver = "containerd-driver"

      volume_mount {
        volume      = "data"
        destination = "/tmp/t1"
      }

      volume_mount {
        volume      = "read_only_data"
        destination = "/tmp/read_only_target"
      }

      config {
        image   = "127.0.0.1:5000/test/busybox:latest"
        command = "sh"
        args = ["-c", <<-EOT
          cat /tmp/t1/bind.txt /tmp/read_only_target/bind.txt
          touch /tmp/read_only_target/read_only_test.txt 2>&1 || true
          touch /tmp/t1/writable_test.txt
        EOT
        ]
      }

      resources {
        cpu    = 100
        memory = 32
      }
    }
  }
}
