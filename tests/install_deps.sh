#!/usr/bin/env bash
# Installs the Debian packages hostgate's tests, demo and benchmarks use.
# Idempotent: does nothing when every command is already there.
set -euo pipefail
need=()
have() { command -v "$1" >/dev/null 2>&1; }
have ip || need+=(iproute2)
have iptables-legacy || need+=(iptables)
have nft || need+=(nftables)
[ -x /usr/lib/cni/portmap ] || need+=(containernetworking-plugins)
have etcd || need+=(etcd-server)
have iperf3 || need+=(iperf3)
have conntrack || need+=(conntrack)
have ping || need+=(iputils-ping)
have busybox || need+=(busybox-static)
have podman || need+=(podman)
have runc || need+=(runc)
have python3 || need+=(python3-minimal)
if [ ${#need[@]} -eq 0 ]; then exit 0; fi
if [ "$(id -u)" != 0 ]; then
  echo "Cannot install ${need[*]}: run as root (hostgate's tests need root for network namespaces)" >&2
  exit 1
fi
echo "installing Debian packages: ${need[*]}" >&2
export DEBIAN_FRONTEND=noninteractive
apt-get update -qq >&2
apt-get install -y -qq --no-install-recommends "${need[@]}" >&2
