#!/usr/bin/env bash
# One-command setup: the Debian packages the tests need (as root), then the npm packages.
set -euo pipefail
cd "$(dirname "$0")/.."

# time: GNU time, which `npm run bench` reads CPU and peak memory of each process from
debian_packages=(iproute2 util-linux bird2 containernetworking-plugins iputils-ping podman time)
if [ "$(id -u)" = "0" ] && command -v apt-get >/dev/null 2>&1; then
  missing=()
  for p in "${debian_packages[@]}"; do
    dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "install ok installed" || missing+=("$p")
  done
  if [ "${#missing[@]}" -gt 0 ]; then
    echo "setup: installing Debian packages: ${missing[*]}" >&2
    apt-get update -qq
    # no service start: bird2's package must not run a daemon in the root namespace
    if [ ! -e /usr/sbin/policy-rc.d ]; then
      printf '#!/bin/sh\nexit 101\n' > /usr/sbin/policy-rc.d && chmod +x /usr/sbin/policy-rc.d
      trap 'rm -f /usr/sbin/policy-rc.d' EXIT
    fi
    DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends "${missing[@]}" >&2
  fi
else
  echo "setup: not root (or no apt-get): skipping Debian packages ${debian_packages[*]}; kernel and lab tests will skip" >&2
fi

# npm checks every package's "engines" against the node that runs npm: under an older machine node
# (Debian 12's 20) `npm ci` printed 25 EBADENGINE warnings. Run it under the pinned Node 24 instead:
# fetched once into .tmp/ (an ordinary npm install of the devDependency's version), then first on PATH.
node_major=$(node -p 'process.versions.node.split(".")[0]')
if [ "$node_major" -lt 22 ]; then
  pinned=$(node -p 'require("./package.json").devDependencies.node')
  boot=".tmp/node-$pinned"
  if [ ! -x "$boot/node_modules/.bin/node" ]; then
    mkdir -p "$boot"
    printf '{"private":true,"allowScripts":{"node":true}}\n' > "$boot/package.json"
    (cd "$boot" && npm install --no-audit --no-fund --no-save "node@$pinned" >&2)
  fi
  PATH="$PWD/$boot/node_modules/.bin:$PATH"
fi
npm ci --no-audit --no-fund
