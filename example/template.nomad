# The original driver's template example (mosquitto), offline: a template rendered into the task's local/ dir and
# bind-mounted into the container from there (a relative source is the task dir).
# Try: containerd-driver run example/template.nomad
job "template" {
  datacenters = ["dc1"]
  type        = "batch"

  group "template" {
    task "mosquitto" {
      driver = "containerd-driver"

      config {
        image   = "127.0.0.1:5000/test/busybox:latest"
        command = "cat"
        args    = ["/mosquitto/config/mosquitto.conf"]
        mounts = [
          {
            type    = "bind"
            source  = "local/mosquitto.conf"
            target  = "/mosquitto/config/mosquitto.conf"
            options = ["rbind", "ro"]
          }
        ]
      }

      template {
        destination = "local/mosquitto.conf"
        data        = <<-EOT
          # rendered for {{ env "NOMAD_ALLOC_NAME" }}
          listener 1883
          {{ range $i, $p := split "," "9001,9002" -}}
          listener {{ $p }}
          {{ end -}}
          allow_anonymous {{ if eq (env "NOMAD_TASK_NAME") "mosquitto" }}true{{ else }}false{{ end }}
        EOT
      }

      resources {
        cpu    = 100
        memory = 32
      }
    }
  }
}
