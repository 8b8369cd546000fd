# The original driver's stress example, offline: CPU and memory load within the task's limits, with its restart
# policy. busybox has no stress-ng, so two shells burn CPU and one fills 64 MB of memory for a few seconds.
# Try: containerd-driver run example/stress.nomad -var seconds=30
variable "seconds" {
  type    = number
  default = 3
}

job "stress" {
  datacenters = ["dc1"]
  type        = "batch"

  group "stress" {
    restart {
      attempts = 5
      delay    = "30s"
    }

    task "stress" {
      driver = "containerd-driver"

      config {
        image   = "127.0.0.1:5000/test/busybox:latest"
        command = "sh"
        args = ["-c", <<-EOT
          for i in 1 2; do timeout ${var.seconds} sh -c 'while :; do :; done' & done
          timeout ${var.seconds} sh -c 'dd if=/dev/zero bs=1M count=64 | tail -c 1 >/dev/null; sleep ${var.seconds}' &
          wait
          echo stressed for ${var.seconds} seconds
        EOT
        ]
      }

      resources {
        cpu    = 500
        memory = 256
      }
    }
  }
}
