# The original driver's entrypoint example, offline: the image's entrypoint replaced, and the task's logs.
# Try: containerd-driver run example/entrypoint.nomad
job "entrypoint" {
  datacenters = ["dc1"]
  type        = "batch"

  group "entrypoint" {
    task "entrypoint" {
      driver = "containerd-driver"

      config {
        image      = "127.0.0.1:5000/test/multilayer:latest"
        entrypoint = ["/bin/sh"]
        args       = ["-c", "for i in 1 2 3; do echo container1 container2; sleep 1; done"]
      }

      resources {
        cpu    = 100
        memory = 32
      }
    }
  }
}
