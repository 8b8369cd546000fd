# The original driver's redis example: runs unchanged with this driver.
job "redis" {
  datacenters = ["dc1"]

  group "redis-group" {
    task "redis-task" {
      driver = "containerd-driver"

      config {
        image    = "redis:alpine"
        hostname = "foobar"
        seccomp  = true
        cwd      = "/home/redis"
      }

      resources {
        cpu        = 500
        memory     = 256
        memory_max = 512
      }
    }
  }
}
