# The original driver's capabilities example, offline: capabilities added and dropped, and a read-only root file
# system. The task shows its effective capability set and that it cannot write to its root file system.
# Try: containerd-driver run example/capabilities.nomad
job "capabilities" {
  datacenters = ["dc1"]
  type        = "batch"

  group "capabilities" {
    task "capabilities" {
      driver = "containerd-driver"

      config {
        image           = "127.0.0.1:5000/test/busybox:latest"
        command         = "sh"
        args            = ["-c", "grep CapEff /proc/self/status; touch /file.txt 2>&1 || true"]
        readonly_rootfs = true
        cap_add         = ["CAP_SYS_ADMIN", "CAP_IPC_OWNER", "CAP_IPC_LOCK"]
        cap_drop        = ["CAP_CHOWN", "CAP_SYS_CHROOT", "CAP_DAC_OVERRIDE"]
      }

      resources {
        cpu    = 100
        memory = 32
      }
    }
  }
}
