#!/usr/bin/env bash
# Installs Debian's Docker engine, docker-compose v1 and debootstrap, without
# letting apt start the daemon (test_compose.sh starts its own, privately).
# Idempotent.
set -euo pipefail
packages=(docker.io docker-compose containerd runc tini iptables debootstrap)
missing=()
for p in "${packages[@]}"; do
  dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "install ok installed" || missing+=("$p")
done
((${#missing[@]} == 0)) && exit 0

SUDO=""
[[ $(id -u) -ne 0 ]] && SUDO="sudo"
# policy-rc.d exiting 101 tells invoke-rc.d not to start services during the install.
policy=/usr/sbin/policy-rc.d
added_policy=0
if [[ ! -e $policy ]]; then
  printf '#!/bin/sh\nexit 101\n' | $SUDO tee "$policy" > /dev/null
  $SUDO chmod +x "$policy"
  added_policy=1
fi
trap '[[ $added_policy -eq 1 ]] && $SUDO rm -f "$policy"' EXIT
export DEBIAN_FRONTEND=noninteractive
$SUDO apt-get update -q
$SUDO apt-get install -y -q --no-install-recommends "${missing[@]}"
