#!/usr/bin/env bash
# Installs what the browser tests need beyond the Python packages: Debian's chromium and
# chromium-driver (apt-get), only when /usr/bin/chromium is missing. Idempotent and quiet.
# Without root or apt-get it says why and exits 0: the browser tests then skip with that reason.
set -u
if [ -x /usr/bin/chromium ]; then
    exit 0
fi
if ! command -v apt-get >/dev/null 2>&1; then
    echo "install-test-deps: apt-get not found; install chromium yourself (browser tests will skip)" >&2
    exit 0
fi
SUDO=""
if [ "$(id -u)" -ne 0 ]; then
    if command -v sudo >/dev/null 2>&1 && sudo -n true 2>/dev/null; then
        SUDO="sudo -n"
    else
        echo "install-test-deps: not root and no sudo; cannot install chromium (browser tests will skip)" >&2
        exit 0
    fi
fi
export DEBIAN_FRONTEND=noninteractive
if ! $SUDO apt-get update -qq >/dev/null 2>&1 ||
   ! $SUDO apt-get install -y -qq --no-install-recommends chromium chromium-driver >/dev/null 2>&1; then
    echo "install-test-deps: apt-get could not install chromium (browser tests will skip)" >&2
    exit 0
fi
[ -x /usr/bin/chromium ] || echo "install-test-deps: chromium still missing after install" >&2
exit 0
