#!/bin/sh
# Installs the routetable-ipam executable into the CNI bin directory atomically (temp file, chmod, rename).
# (The DaemonSet and hosts without a checkout use `routetable-ipam install --cni-bin-dir DIR --cni-conf-dir DIR`, which
# also writes the conflist; this script remains for copying a build from a checkout.)
set -eu

usage() {
  cat >&2 <<'USAGE'
usage: scripts/install.sh [--sea] [--from FILE] [BIN_DIR]

Copies dist/routetable-ipam (or, with --sea, the single executable dist/routetable-ipam-linux-x64;
or FILE) to BIN_DIR/routetable-ipam. BIN_DIR defaults to $BIN_DIR, else /opt/cni/bin. The copy is
written to a temporary file in BIN_DIR and renamed over the target, so a runtime calling the plugin
at the same moment sees either the old or the new executable, never a partial one.
USAGE
}

dist_dir="$(cd "$(dirname "$0")/.." && pwd)/dist"
source_file="$dist_dir/routetable-ipam"
bin_dir="${BIN_DIR:-/opt/cni/bin}"

while [ "$#" -gt 0 ]; do
  case "$1" in
    --sea) source_file="$dist_dir/routetable-ipam-linux-x64" ;;
    --from)
      [ "$#" -ge 2 ] || { usage; exit 2; }
      source_file="$2"
      shift
      ;;
    -h | --help) usage; exit 0 ;;
    -*) echo "install.sh: unknown option $1" >&2; usage; exit 2 ;;
    *) bin_dir="$1" ;;
  esac
  shift
done

if [ ! -f "$source_file" ]; then
  echo "install.sh: $source_file does not exist (run npm run build, or npm run build:sea for --sea)" >&2
  exit 1
fi

target="$bin_dir/routetable-ipam"
mkdir -p "$bin_dir"
staging="$(mktemp "$bin_dir/.routetable-ipam.XXXXXX")"
trap 'rm -f "$staging"' EXIT INT TERM
cp "$source_file" "$staging"
chmod 0755 "$staging"
sync "$staging" 2>/dev/null || true
mv -f "$staging" "$target"
trap - EXIT INT TERM
echo "installed $source_file -> $target"
