# The job `npm run demo` shows: its image comes from the local test registry that
# scripts/test-env.sh starts. Try: containerd-driver spec example/demo.nomad
job "demo" {
  datacenters = ["dc1"]

  group "demo" {
    network {
      dns {
        servers  = ["127.0.0.1"]
        searches = ["internal.corp"]
        options  = ["ndots:2"]
      }
    }

    task "hello" {
      driver = "containerd-driver"
      user   = "app"

      config {
        image      = "127.0.0.1:5000/test/multilayer:latest"
        args       = ["echo hello from ${NOMAD_TASK_NAME}; sleep 3600"]
        hostname   = "demo"
        seccomp    = true
        cap_drop   = ["NET_RAW"]
        pids_limit = 64
        ulimit     = { nofile = "4096:8192" }
        sysctl     = { "net.core.somaxconn" = "1024" }
        extra_hosts = ["db:127.0.1.1"]
        mounts = [
          {
            type    = "bind"
            source  = "local/app.conf"
            target  = "/etc/app.conf"
            options = ["rbind", "ro"]
          }
        ]
      }

      template {
        data        = "greeting = hello\n"
        destination = "local/app.conf"
      }

      resources {
        cpu        = 200
        memory     = 64
        memory_max = 128
      }
    }
  }
}
