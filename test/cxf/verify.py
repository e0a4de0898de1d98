#!/usr/bin/python3
"""Checks a message record.sh captured against the key material it recorded.

  verify.py DIR NN

DIR is wsse/wstrust/testdata/cxf/POLICY, NN the number of a signed request
(02 the call, 03 the cancel). The key is the one keys.txt gives (P_SHA1 of
CXF's client entropy and capture.py's server entropy); a DerivedKeyToken's
key is P_SHA1(key, "WS-SecureConversationWS-SecureConversation" + Nonce) at
its Offset and Length. Every ds:Reference digest (exclusive C14N, SHA-1) and
the HMAC-SHA1 SignatureValue must match. Prints what it checked; exits 1 if
anything does not match. Needs python3-lxml.
"""
import base64
import hashlib
import hmac
import os
import re
import sys

from lxml import etree

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from capture import p_sha1  # noqa: E402

DS = {"ds": "http://www.w3.org/2000/09/xmldsig#"}
WSU = "{http://docs.oasis-open.org/wss/2004/01/oasis-200401-wss-wssecurity-utility-1.0.xsd}Id"


def c14n(el, holder):
    incl = holder.xpath('*[local-name()="InclusiveNamespaces"]/@PrefixList') if holder is not None else []
    return etree.tostring(el, method="c14n", exclusive=True,
                          inclusive_ns_prefixes=incl[0].split() if incl else None)


def main():
    d, n = sys.argv[1], sys.argv[2]
    keys = open(os.path.join(d, "keys.txt")).read()
    key = bytes.fromhex(re.search(r"\(hex\): ([0-9a-f]+)", keys).group(1))
    raw = open(os.path.join(d, f"{n}-request.http"), "rb").read()
    doc = etree.fromstring(raw.split(b"\n\n", 1)[1])
    sig = doc.find(".//ds:Signature", DS)
    si = sig.find("ds:SignedInfo", DS)
    ok = True
    for ref in si.findall("ds:Reference", DS):
        uri = ref.get("URI")[1:]
        target = [e for e in doc.iter() if e.get(WSU) == uri]
        tr = ref.find("ds:Transforms/ds:Transform", DS)
        digest = base64.b64encode(hashlib.sha1(c14n(target[0], tr)).digest()).decode()
        good = digest == ref.find("ds:DigestValue", DS).text
        ok &= good
        print(f"{d} {n}: reference #{uri} ({etree.QName(target[0]).localname}) digest {'ok' if good else 'MISMATCH'}")
    dkt = doc.xpath('//*[local-name()="DerivedKeyToken"]')
    if dkt:
        t = dkt[0]
        nonce = base64.b64decode(t.xpath('*[local-name()="Nonce"]/text()')[0])
        length = int(t.xpath('*[local-name()="Length"]/text()')[0])
        offset = int((t.xpath('*[local-name()="Offset"]/text()') or ["0"])[0])
        k = p_sha1(key, b"WS-SecureConversationWS-SecureConversation" + nonce, offset + length)[offset:]
        kind = f"derived key (Offset {offset}, Length {length})"
    else:
        k, kind = key, "the context's own key"
    mac = hmac.new(k, c14n(si, si.find("ds:CanonicalizationMethod", DS)), hashlib.sha1).digest()
    good = mac == base64.b64decode(sig.find("ds:SignatureValue", DS).text)
    ok &= good
    print(f"{d} {n}: HMAC-SHA1 with {kind} {'ok' if good else 'MISMATCH'}")
    sys.exit(0 if ok else 1)


if __name__ == "__main__":
    main()
