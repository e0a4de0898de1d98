#!/usr/bin/env bash
# Builds the Apache CXF interop client (issue 12) with Maven from Maven
# Central: test/cxf/target/cxf-client.jar and its whole runtime classpath in
# test/cxf/target/lib/ (about 18 MB, 51 jars). test/setup.sh runs it; so can
# anyone, as often as they like (Maven's local repository makes a rebuild
# offline and quick). Needs Maven and a JDK 17 (test/setup.sh installs both).
set -euo pipefail
cd "$(dirname "$0")"
# Up to date: nothing under src/ and no pom.xml newer than the jar.
if [ -f target/cxf-client.jar ] && [ -d target/lib ] && [ -z "$(find pom.xml src -newer target/cxf-client.jar -print -quit)" ]; then
  exit 0
fi
command -v mvn >/dev/null 2>&1 || { echo "test/cxf/build.sh: mvn not found (apt-get install maven)" >&2; exit 1; }
mvn -q -B package
touch target/cxf-client.jar
test -d target/lib
