# The original driver's hello example, offline: a batch job that greets three times and ends.
# Try: containerd-driver run example/hello.nomad   (and -var greeting=Bonjour)
variable "greeting" {
  type    = string
  default = "Hello"
}

variable "image" {
  type    = string
  default = "127.0.0.1:5000/test/busybox:latest"
}

job "hello" {
  datacenters = ["dc1"]
  type        = "batch"

  group "hello" {
    task "hello" {
      driver = "containerd-driver"

      config {
        image   = var.image
        command = "sh"
        args    = ["-c", "for i in 1 2 3; do echo \"${var.greeting} world from $${NOMAD_TASK_NAME}: sleeping for 1 second.\"; sleep 1; done"]
      }

      resources {
        cpu    = 100
        memory = 32
      }
    }
  }
}
