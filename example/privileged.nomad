# The original driver's privileged example, offline: a privileged task with two host devices and a read-only bind
# mount of a host directory. It shows its bounding capability set, the bound file and a device.
# Try: mkdir -p /tmp/s1 && echo hello > /tmp/s1/bind.txt && containerd-driver run example/privileged.nomad
variable "host_dir" {
  type    = string
  default = "/tmp/s1"
}

job "privileged" {
  datacenters = ["dc1"]
  type        = "batch"

  group "privileged" {
    task "privileged" {
      driver = "containerd-driver"

      config {
        image      = "127.0.0.1:5000/test/busybox:latest"
        command    = "sh"
        args       = ["-c", "grep CapBnd /proc/self/status; cat /tmp/t1/bind.txt; stat -c '%F %n' /dev/loop0"]
        privileged = true
        devices    = ["/dev/loop0", "/dev/loop1"]
        mounts = [
          {
            type    = "bind"
            source  = var.host_dir
            target  = "/tmp/t1"
            options = ["rbind", "ro"]
          }
        ]
      }

      resources {
        cpu    = 100
        memory = 32
      }
    }
  }
}
