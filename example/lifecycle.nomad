# Task lifecycle hooks: a prestart task prepares the shared alloc dir, a prestart sidecar runs beside the main
# task, and a poststop task runs after it. Try: containerd-driver run example/lifecycle.nomad
job "lifecycle" {
  datacenters = ["dc1"]
  type        = "batch"

  group "app" {
    task "init" {
      driver = "containerd-driver"
      lifecycle {
        hook = "prestart"
      }
      config {
        image   = "127.0.0.1:5000/test/busybox:latest"
        command = "sh"
        args    = ["-c", "echo prepared by init > /alloc/data/ready; echo init done"]
      }
      resources {
        memory = 32
      }
    }

    task "sidecar" {
      driver      = "containerd-driver"
      kill_signal = "SIGTERM"
      lifecycle {
        hook    = "prestart"
        sidecar = true
      }
      config {
        image   = "127.0.0.1:5000/test/busybox:latest"
        command = "sh"
        args    = ["-c", "trap 'echo sidecar stopping; exit 0' TERM; echo sidecar running; while true; do sleep 1 & wait $!; done"]
      }
      resources {
        memory = 32
      }
    }

    task "main" {
      driver = "containerd-driver"
      config {
        image   = "127.0.0.1:5000/test/busybox:latest"
        command = "sh"
        args    = ["-c", "echo main read: $(cat /alloc/data/ready)"]
      }
      resources {
        memory = 32
      }
    }

    task "cleanup" {
      driver = "containerd-driver"
      lifecycle {
        hook = "poststop"
      }
      config {
        image   = "127.0.0.1:5000/test/busybox:latest"
        command = "sh"
        args    = ["-c", "echo cleanup after main"]
      }
      resources {
        memory = 32
      }
    }
  }
}
