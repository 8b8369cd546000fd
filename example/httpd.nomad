# A service on Nomad's bridge network: busybox httpd serves a page rendered by a template, on a dynamic host port
# mapped to port 8080 in the allocation's network namespace. Try: containerd-driver run example/httpd.nomad
# then curl the host port it prints (Ctrl-C stops it).
job "httpd" {
  datacenters = ["dc1"]

  group "web" {
    network {
      mode     = "bridge"
      hostname = "web-${NOMAD_ALLOC_INDEX}"
      port "http" {
        to = 8080
      }
    }

    task "httpd" {
      driver       = "containerd-driver"
      kill_timeout = "3s"

      config {
        image   = "127.0.0.1:5000/test/busybox:latest"
        command = "httpd"
        args    = ["-f", "-v", "-p", "${NOMAD_PORT_http}", "-h", "/local/www"]
      }

      template {
        destination = "local/www/index.html"
        data        = <<-EOT
          hello from {{ env "NOMAD_ALLOC_NAME" }} on port {{ env "NOMAD_PORT_http" }}
        EOT
      }

      resources {
        cpu    = 100
        memory = 32
      }
    }
  }
}
