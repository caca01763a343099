#!/usr/bin/env bash
# What `make demo`, `make test` and CI need beyond Python: a JDK 17+ (the Kafka broker, Keycloak,
# and the broker's security tool, which Java compiles from source: a JRE is not enough), Maven
# (fetches Kafka and Keycloak from Maven Central), PostgreSQL's server binaries, Node.js with
# npm (one contract test runs the official AsyncAPI parser; the console's tests run axe-core), and
# Debian's chromium with its driver (the console's tests drive a real browser).
# On Debian/Ubuntu as root, what is missing is installed with apt-get; elsewhere this says exactly
# what to install and fails. The one place both the Makefile and .ci/run call.
set -euo pipefail

missing=()
have_jdk() {
  command -v java >/dev/null 2>&1 || return 1
  java --list-modules 2>/dev/null | grep -q '^jdk.compiler@' || return 1
  local major
  major=$(java -version 2>&1 | sed -n 's/.*version "\([0-9]*\).*/\1/p' | head -1)
  [ "${major:-0}" -ge 17 ]
}
have_jdk || missing+=(openjdk-17-jdk-headless)
command -v mvn >/dev/null 2>&1 || missing+=(maven)
command -v npm >/dev/null 2>&1 || missing+=(nodejs npm)
[ -x /usr/bin/chromium ] || command -v chromium >/dev/null 2>&1 || missing+=(chromium)
[ -x /usr/bin/chromedriver ] || command -v chromedriver >/dev/null 2>&1 || missing+=(chromium-driver)
ls /usr/lib/postgresql/*/bin/initdb >/dev/null 2>&1 || command -v initdb >/dev/null 2>&1 \
  || missing+=(postgresql)

if [ ${#missing[@]} -eq 0 ]; then
  exit 0
fi
if [ "$(id -u)" -eq 0 ] && [ -f /etc/debian_version ]; then
  echo "prerequisites: installing ${missing[*]} (apt-get)"
  apt-get update -q
  DEBIAN_FRONTEND=noninteractive apt-get install -y -q "${missing[@]}"
  exit 0
fi
echo "prerequisites: missing ${missing[*]}." >&2
echo "  On Debian/Ubuntu: sudo apt-get install -y ${missing[*]}" >&2
echo "  Elsewhere: a JDK 17+ (not only a JRE), Maven 3.8+, PostgreSQL 14+ server binaries" >&2
echo "  (initdb, pg_ctl), Node.js 18+ with npm, Chromium and its chromedriver of the same version" >&2
echo "  (COMMANDE_CHROMIUM and COMMANDE_CHROMEDRIVER point the browser tests at them)." >&2
exit 1
