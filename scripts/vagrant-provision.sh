#!/usr/bin/env bash
# Provisions the Vagrant VM (Vagrantfile): Debian 12 with containerd, runc, CNI plugins, Node 20 and Nomad, this
# driver built and installed in Nomad's plugin_dir, and a Nomad dev agent (example/agent.hcl) as a service, so that
# `vagrant ssh -c 'nomad job run /vagrant/example/redis.nomad'` runs a job through the driver.
# Versions are pinned to a release series; the tests shellcheck this file, since CI cannot boot the VM.
set -euo pipefail

NODE_MAJOR=20
NOMAD_SERIES=1.9
SOURCE=${SOURCE:-/vagrant}
PLUGIN_DIR=/opt/nomad/plugins

export DEBIAN_FRONTEND=noninteractive
apt-get update -qq
apt-get install -y -qq containerd runc containernetworking-plugins iptables curl gnupg ca-certificates
systemctl enable --now containerd

# Node 20 (Debian 12 ships 18) and Nomad come from their vendors' apt repositories.
curl -fsSL https://deb.nodesource.com/gpgkey/nodesource-repo.gpg.key | gpg --batch --yes --dearmor -o /usr/share/keyrings/nodesource.gpg
echo "deb [signed-by=/usr/share/keyrings/nodesource.gpg] https://deb.nodesource.com/node_${NODE_MAJOR}.x nodistro main" \
  >/etc/apt/sources.list.d/nodesource.list
curl -fsSL https://apt.releases.hashicorp.com/gpg | gpg --batch --yes --dearmor -o /usr/share/keyrings/hashicorp.gpg
echo "deb [signed-by=/usr/share/keyrings/hashicorp.gpg] https://apt.releases.hashicorp.com bookworm main" \
  >/etc/apt/sources.list.d/hashicorp.list
apt-get update -qq
apt-get install -y -qq "nodejs=${NODE_MAJOR}.*" "nomad=${NOMAD_SERIES}.*"

# Nomad's bridge networking looks for the CNI plugins in /opt/cni/bin; Debian installs them in /usr/lib/cni.
mkdir -p /opt/cni
ln -sfn /usr/lib/cni /opt/cni/bin
modprobe br_netfilter || true
sysctl -q -w net.bridge.bridge-nf-call-iptables=1 net.bridge.bridge-nf-call-ip6tables=1 || true

cd "$SOURCE"
npm ci --no-audit --no-fund
npm run --silent build
install -D -m 0755 dist/containerd-driver.cjs "$PLUGIN_DIR/containerd-driver"
# What the driver sees on this node; a problem is shown, not fatal, so the VM still comes up to be looked at.
node dist/containerd-driver.cjs doctor || true

mkdir -p /tmp/host_volume/s1
cat >/etc/systemd/system/nomad-dev.service <<UNIT
[Unit]
Description=Nomad dev agent with containerd-driver
After=containerd.service network-online.target
[Service]
ExecStart=/usr/bin/nomad agent -dev -bind=0.0.0.0 -config=$SOURCE/example/agent.hcl
Restart=on-failure
[Install]
WantedBy=multi-user.target
UNIT
systemctl daemon-reload
systemctl enable --now nomad-dev
