#!/usr/bin/env bash
# Installs what a fresh machine lacks to run headwater's tests and demo, and nothing twice:
# system packages (apt), the Python venv with pinned dependencies, and the control-plane binaries
# (built from Go modules on first use, cached under ~/.cache/headwater/bin).
set -euo pipefail
cd "$(dirname "$0")/.."

VENV=${VENV:-.venv}
PYTHON=${PYTHON:-python3}

say() { printf '[setup] %s\n' "$*" >&2; }

# --- system packages ------------------------------------------------------------------------------
need_apt=()
command -v git >/dev/null || need_apt+=(git)
command -v make >/dev/null || need_apt+=(make)
[ -x /usr/sbin/sshd ] || need_apt+=(openssh-server)   # the Git-over-SSH test server
command -v ssh >/dev/null || need_apt+=(openssh-client)
command -v gpg >/dev/null || need_apt+=(gnupg)             # OpenPGP commit signatures (verify)
[ -x /usr/lib/git-core/git-http-backend ] || need_apt+=(git)
if [ ${#need_apt[@]} -gt 0 ]; then
  if [ "$(id -u)" = 0 ] && command -v apt-get >/dev/null; then
    say "installing ${need_apt[*]} with apt-get"
    apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq "${need_apt[@]}" >/dev/null
  else
    say "missing system packages: ${need_apt[*]} (install them and re-run)"; exit 1
  fi
fi

if ! command -v go >/dev/null; then
  say "Go toolchain not found on PATH: the local control plane is built from Go modules and needs Go >= 1.26"
  exit 1
fi

# --- Python venv ----------------------------------------------------------------------------------
if ! "$PYTHON" -c 'import sys; sys.exit(sys.version_info < (3, 11))'; then
  say "$PYTHON is older than 3.11"; exit 1
fi
stamp="$VENV/.installed-$(sha256sum pyproject.toml | cut -c1-16)"
if [ ! -f "$stamp" ]; then
  say "creating the venv in $VENV with the pinned dependencies"
  [ -x "$VENV/bin/python" ] || "$PYTHON" -m venv "$VENV"
  "$VENV/bin/python" -m pip install -q --upgrade pip
  "$VENV/bin/python" -m pip install -q -e '.[dev]'
  rm -f "$VENV"/.installed-*
  touch "$stamp"
fi

# --- control-plane binaries -----------------------------------------------------------------------
"$VENV/bin/headwater" dev build
