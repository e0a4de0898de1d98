#!/usr/bin/env bash
# Records what the Apache CXF client (Client.java) sends for each policy of
# echo-sc.wsdl into wsse/wstrust/testdata/cxf/POLICY/: capture.py plays the
# STS and the service on loopback HTTPS (a throwaway CA made here), answers
# the RST with an RSTR in the computed-key mode, the call with an
# EchoResponse, the cancel with RequestedTokenCancelled, and writes each
# request as it arrived. keys.txt there gives the key material, and
# verify.py checks the signed call and cancel with it. Run
# test/cxf/build.sh first. Usage: test/cxf/record.sh [POLICY...], where
# POLICY-digest bootstraps with a PasswordDigest UsernameToken (-digest).
set -euo pipefail
here=$(cd "$(dirname "$0")" && pwd)
root=$(cd "$here/../.." && pwd)
dest=$root/wsse/wstrust/testdata/cxf
policies=("$@")
[ ${#policies[@]} -gt 0 ] || policies=(T M T2005 M2005 T-digest)
cp="$here/target/cxf-client.jar:$here/target/lib/*"
[ -f "$here/target/cxf-client.jar" ] || { echo "record.sh: run test/cxf/build.sh first" >&2; exit 1; }

tmp=$(mktemp -d)
srv=
cleanup() { [ -n "$srv" ] && kill "$srv" 2>/dev/null; rm -rf "$tmp"; }
trap cleanup EXIT
cd "$tmp"
openssl req -x509 -newkey ec -pkeyopt ec_paramgen_curve:P-256 -nodes -keyout ca.key -out ca.pem \
  -days 1 -subj /CN=throwaway-capture-ca 2>/dev/null
openssl req -newkey ec -pkeyopt ec_paramgen_curve:P-256 -nodes -keyout key.pem -out srv.csr \
  -subj /CN=127.0.0.1 2>/dev/null
printf 'subjectAltName=IP:127.0.0.1\nextendedKeyUsage=serverAuth\n' > ext
openssl x509 -req -in srv.csr -CA ca.pem -CAkey ca.key -CAcreateserial -out cert.pem -days 1 \
  -extfile ext 2>/dev/null

for p in "${policies[@]}"; do
  rm -rf "$dest/$p"
  mkdir -p "$dest/$p"
  /usr/bin/python3 "$here/capture.py" --dir "$dest/$p" --cert cert.pem --key key.pem > "srv-$p.out" 2> "srv-$p.err" &
  srv=$!
  for _ in $(seq 1 600); do [ -s "srv-$p.out" ] && break; sleep 0.1; done
  port=$(awk '{print $2}' "srv-$p.out")
  [ -n "$port" ] || { echo "record.sh: capture.py did not start" >&2; cat "srv-$p.err" >&2; exit 1; }
  flags=(-policy "${p%-digest}" -ca ca.pem -out "cli-$p" -cancel)
  [ "$p" = "${p%-digest}" ] || flags+=(-digest)
  set +e
  java -cp "$cp" authsvc.cxf.Client -url "https://127.0.0.1:$port/echo" "${flags[@]}" > "cli-$p.out" 2> "cli-$p.err"
  rc=$?
  set -e
  kill "$srv"; wait "$srv" 2>/dev/null || true; srv=
  {
    echo "java -cp test/cxf/target/cxf-client.jar:test/cxf/target/lib/* authsvc.cxf.Client -url https://127.0.0.1:$port/echo ${flags[*]/#cli-$p/DIR}"
    echo "exit status $rc"
    cat "cli-$p.out"
    grep '^cxf-client: error:' "cli-$p.err" || true
  } > "$dest/$p/client.txt"
  echo "$p: exit $rc, $(ls "$dest/$p" | grep -c request) requests"
  # The recorded key material verifies the signed call and cancel.
  for n in 02 03; do
    [ -f "$dest/$p/$n-request.http" ] && /usr/bin/python3 "$here/verify.py" "$dest/$p" "$n"
  done
done
