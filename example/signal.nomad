# The original driver's signal example, offline: a service that reports every signal it receives. Stopping it
# (Ctrl-C on containerd-driver run) sends its kill_signal, SIGINT, which it handles by exiting cleanly.
# Try: containerd-driver run example/signal.nomad
job "signal" {
  datacenters = ["dc1"]

  group "signal" {
    task "signal" {
      driver       = "containerd-driver"
      kill_signal  = "SIGINT"
      kill_timeout = "10s"

      config {
        image   = "127.0.0.1:5000/test/busybox:latest"
        command = "sh"
        args = ["-c", <<-EOT
          for s in HUP USR1 USR2 TERM; do trap "echo received SIG$s" $s; done
          trap 'echo received SIGINT, exiting; exit 0' INT
          echo ready for signals
          while true; do sleep 1 & wait $!; done
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
