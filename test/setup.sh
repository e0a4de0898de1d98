#!/usr/bin/env bash
# Installs what authsvc's test suite needs on a Debian (bookworm) machine:
# the real services the integration tests start (MIT KDC, OpenLDAP, Redis,
# nginx, a Samba AD domain controller), the real clients they drive (python3-zeep, python3-gssapi, MIT
# kinit, curl, Apache WSS4J on Java 17, xmlsec1, and Apache CXF 4.2.3 built
# with Maven from Maven Central by test/cxf/build.sh), and Go 1.26 when no Go
# that new is installed. Run as root. Safe to run again.
set -euo pipefail

GO_VERSION=1.26.8
SUDO=""
need_root() {
  if [ "$(id -u)" != 0 ]; then
    if command -v sudo >/dev/null 2>&1; then SUDO=sudo; else echo "test/setup.sh: run as root (apt-get)" >&2; exit 1; fi
  fi
}

packages=(
  ca-certificates curl git gcc libc6-dev openssl
  krb5-kdc krb5-admin-server krb5-user
  samba samba-ad-dc samba-ad-provision python3-samba util-linux
  slapd ldap-utils
  redis-server redis-sentinel redis-tools
  nginx
  python3 python3-zeep python3-gssapi python3-lxml
  openjdk-17-jdk-headless maven libwss4j-java libxml-security-java libcommons-logging-java libslf4j-java
  xmlsec1
  systemd                 # systemd-analyze verify/security for deploy/systemd (no systemd as PID 1 needed)
  logrotate               # the README's audit rotation, run against the binary (test/e2e)
)

missing=()
for p in "${packages[@]}"; do
  dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "install ok installed" || missing+=("$p")
done
if [ ${#missing[@]} -gt 0 ]; then
  need_root
  echo "test/setup.sh: installing ${missing[*]}"
  export DEBIAN_FRONTEND=noninteractive
  $SUDO apt-get update -qq
  $SUDO env DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends "${missing[@]}" >/dev/null
fi
# The Debian packages start their daemons; the tests run their own on
# loopback ports and do not use the system ones.
for svc in krb5-kdc krb5-admin-server slapd redis-server redis-sentinel nginx; do
  if command -v systemctl >/dev/null 2>&1 && systemctl is-active --quiet "$svc" 2>/dev/null; then
    $SUDO systemctl stop "$svc" >/dev/null 2>&1 || true
  fi
done
# Samba's (smbd, nmbd, samba-ad-dc): test/ad/provision.sh runs its own DCs.
for svc in samba-ad-dc smbd nmbd; do
  if command -v systemctl >/dev/null 2>&1 && systemctl is-active --quiet "$svc" 2>/dev/null; then
    $SUDO systemctl stop "$svc" >/dev/null 2>&1 || true
  fi
done

# Go: use one that is new enough, else bootstrap from Debian's golang-go and
# fetch the Go 1.26 toolchain through the Go module proxy (the same way 'go'
# switches toolchains itself).
go_ok() {
  local g=$1 v
  v=$("$g" env GOVERSION 2>/dev/null || true)
  v=${v#go}
  [ -n "$v" ] && [ "$(printf '%s\n%s\n' 1.26 "$v" | sort -V | head -1)" = 1.26 ]
}
GO=""
for g in "$(command -v go || true)" /usr/local/go/bin/go; do
  if [ -n "$g" ] && [ -x "$g" ] && go_ok "$g"; then GO=$g; break; fi
done
if [ -z "$GO" ]; then
  need_root
  command -v go >/dev/null 2>&1 || { $SUDO env DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends golang-go >/dev/null; }
  tc="golang.org/toolchain@v0.0.1-go${GO_VERSION}.linux-$(dpkg --print-architecture)"
  dir=$(cd /tmp && GOTOOLCHAIN=local GO111MODULE=on GOFLAGS=-modcacherw go mod download -json "$tc" | sed -n 's/.*"Dir": "\(.*\)".*/\1/p')
  chmod +x "$dir"/bin/* "$dir"/pkg/tool/*/* 2>/dev/null || true
  $SUDO ln -sf "$dir/bin/go" /usr/local/bin/go
  $SUDO ln -sf "$dir/bin/gofmt" /usr/local/bin/gofmt
  GO=/usr/local/bin/go
fi
echo "test/setup.sh: $("$GO" version)"

# Apache CXF for the WS-SecureConversation interop tests: Maven fetches CXF
# and its dependencies from Maven Central into ~/.m2 and leaves the client and
# its classpath in test/cxf/target (skipped when that is up to date).
bash "$(dirname "$0")/cxf/build.sh"
echo "test/setup.sh: Apache CXF client built in test/cxf/target"
