#!/usr/bin/python3
"""A loopback HTTPS server that records what the Apache CXF client sends.

It stands in for authsvc's STS (issue 12) to record real CXF messages into
wsse/wstrust/testdata/cxf/: every request is written as it arrived (request
line, headers, body after chunked decoding) to DIR/NN-request.http, and
answered by hand-written messages:

  an RST (Issue)   an RSTR with a SecurityContextToken and the computed key
                   mode: wst:Entropy with the fixed server entropy below and
                   RequestedProofToken/ComputedKey {wst}/CK/PSHA1, so that CXF
                   keys the context with P_SHA1(client entropy, server entropy)
                   (WS-Trust 1.3: inside an RSTR collection; Feb 2005: bare)
  an RST (Cancel)  an RSTR with RequestedTokenCancelled
  anything else    an EchoResponse (the application message), or with
                   --json a JSON Subject as authsvc's API mode answers

Each answer carries wsa:Action, wsa:RelatesTo and a wsse:Security header with
a wsu:Timestamp. DIR/keys.txt records per RST: the client entropy CXF sent,
the server entropy, the key size and the resulting key (hex).

  capture.py --dir DIR --cert cert.pem --key key.pem [--port 0] [--max N]
             [--omit addressing] [--omit timestamp] [--json]

It prints "listening PORT" and serves until killed (or --max requests).
"""
import argparse
import base64
import hashlib
import hmac
import http.server
import os
import re
import ssl
import sys
import threading
import uuid
from datetime import datetime, timedelta, timezone

WST13 = "http://docs.oasis-open.org/ws-sx/ws-trust/200512"
WSC13 = "http://docs.oasis-open.org/ws-sx/ws-secureconversation/200512"
WST05 = "http://schemas.xmlsoap.org/ws/2005/02/trust"
WSC05 = "http://schemas.xmlsoap.org/ws/2005/02/sc"
WSSE = "http://docs.oasis-open.org/wss/2004/01/oasis-200401-wss-wssecurity-secext-1.0.xsd"
WSU = "http://docs.oasis-open.org/wss/2004/01/oasis-200401-wss-wssecurity-utility-1.0.xsd"
WSA = "http://www.w3.org/2005/08/addressing"
SOAP11 = "http://schemas.xmlsoap.org/soap/envelope/"

# The server entropy every RSTR carries: 32 bytes 0x02, as in issue 12's
# known answer for P_SHA1 (client 32x0x01, server 32x0x02).
SERVER_ENTROPY = bytes([2]) * 32


def p_sha1(secret, seed, length):
    """P_SHA1 of RFC 2246 (the WS-Trust computed key, WS-SC derived keys)."""
    out, a = b"", seed
    while len(out) < length:
        a = hmac.new(secret, a, hashlib.sha1).digest()
        out += hmac.new(secret, a + seed, hashlib.sha1).digest()
    return out[:length]


def now_and(minutes):
    t = datetime.now(timezone.utc).replace(microsecond=0)
    f = lambda x: x.strftime("%Y-%m-%dT%H:%M:%SZ")
    return f(t), f(t + timedelta(minutes=minutes))


# Set by --omit: answers without WS-Addressing headers or without the
# Security header, to see what CXF insists on.
OMIT = set()


def envelope(action, relates_to, body):
    created, expires = now_and(5)
    wsa = "" if "addressing" in OMIT else f"""
<wsa:Action>{action}</wsa:Action>
<wsa:MessageID>urn:uuid:{uuid.uuid4()}</wsa:MessageID>
<wsa:To>http://www.w3.org/2005/08/addressing/anonymous</wsa:To>
<wsa:RelatesTo>{relates_to}</wsa:RelatesTo>"""
    sec = "" if "timestamp" in OMIT else f"""
<wsse:Security soap:mustUnderstand="1"><wsu:Timestamp wsu:Id="TS-server"><wsu:Created>{created}</wsu:Created><wsu:Expires>{expires}</wsu:Expires></wsu:Timestamp></wsse:Security>"""
    return f"""<soap:Envelope xmlns:soap="{SOAP11}" xmlns:wsa="{WSA}" xmlns:wsse="{WSSE}" xmlns:wsu="{WSU}">
<soap:Header>{wsa}{sec}
</soap:Header>
<soap:Body>{body}</soap:Body>
</soap:Envelope>""".encode()


def first(pattern, text):
    m = re.search(pattern, text, re.S)
    return m.group(1) if m else None


class Handler(http.server.BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"

    def log_message(self, fmt, *args):
        sys.stderr.write("capture: " + (fmt % args) + "\n")

    def read_body(self):
        if self.headers.get("Transfer-Encoding", "").lower() == "chunked":
            data = b""
            while True:
                size = int(self.rfile.readline().split(b";")[0].strip(), 16)
                if size == 0:
                    while self.rfile.readline() not in (b"\r\n", b"\n", b""):
                        pass
                    return data
                data += self.rfile.read(size)
                self.rfile.readline()
        return self.rfile.read(int(self.headers.get("Content-Length", "0")))

    def do_POST(self):
        srv = self.server
        body = self.read_body()
        with srv.lock:
            srv.seq += 1
            n = srv.seq
        head = self.requestline + "\n" + "".join(f"{k}: {v}\n" for k, v in self.headers.items())
        with open(os.path.join(srv.dir, f"{n:02d}-request.http"), "wb") as f:
            f.write(head.encode() + b"\n" + body)
        text = body.decode("utf-8", "replace")
        msgid = first(r"<(?:\w+:)?MessageID[^>]*>([^<]+)<", text) or "urn:uuid:none"
        wst = WST13 if WST13 in text else WST05
        wsc = WSC13 if wst == WST13 else WSC05
        rtype = first(r"<(?:\w+:)?RequestType[^>]*>([^<]+)<", text)
        if rtype and rtype.endswith("/Issue"):
            answer = self.issue(n, text, wst, wsc, msgid)
        elif rtype and rtype.endswith("/Cancel"):
            rstr = f'<wst:RequestSecurityTokenResponse xmlns:wst="{wst}"><wst:RequestedTokenCancelled/></wst:RequestSecurityTokenResponse>'
            if wst == WST13:
                # CXF 4.2.3's STS client expects a collection here too.
                rstr = f'<wst:RequestSecurityTokenResponseCollection xmlns:wst="{wst}">{rstr}</wst:RequestSecurityTokenResponseCollection>'
            answer = envelope(wst + "/RSTR/SCT/Cancel", msgid, rstr)
        elif "json" in OMIT:
            answer = b'{"principal": "alice", "method": "SecureConversation"}'
        else:
            echoed = first(r"<(?:\w+:)?text[^>]*>([^<]*)<", text) or ""
            answer = envelope("urn:example:echo#EchoResponse", msgid,
                              f'<e:EchoResponse xmlns:e="urn:example:echo"><e:text>{echoed}</e:text></e:EchoResponse>')
        ctype = "application/json" if answer.startswith(b"{") else "text/xml; charset=UTF-8"
        with open(os.path.join(srv.dir, f"{n:02d}-response.http"), "wb") as f:
            f.write(f"HTTP/1.1 200 OK\nContent-Type: {ctype}\n\n".encode() + answer)
        self.send_response(200)
        self.send_header("Content-Type", ctype)
        self.send_header("Content-Length", str(len(answer)))
        self.end_headers()
        self.wfile.write(answer)
        if srv.max and n >= srv.max:
            threading.Thread(target=srv.shutdown).start()

    def issue(self, n, text, wst, wsc, msgid):
        client_b64 = first(r"<(?:\w+:)?Entropy[^>]*>\s*<(?:\w+:)?BinarySecret[^>]*>([^<]+)<", text)
        keysize = int(first(r"<(?:\w+:)?KeySize[^>]*>(\d+)<", text) or "256")
        ident = f"urn:uuid:{uuid.uuid4()}"
        sid = "sct-" + uuid.uuid4().hex[:12]
        created, expires = now_and(15)
        if client_b64:
            client = base64.b64decode(client_b64)
            key = p_sha1(client, SERVER_ENTROPY, keysize // 8)
            proof = f"<wst:RequestedProofToken><wst:ComputedKey>{wst}/CK/PSHA1</wst:ComputedKey></wst:RequestedProofToken>" \
                    f'<wst:Entropy><wst:BinarySecret Type="{wst}/Nonce">{base64.b64encode(SERVER_ENTROPY).decode()}</wst:BinarySecret></wst:Entropy>'
            with open(os.path.join(self.server.dir, "keys.txt"), "a") as f:
                f.write(f"request {n:02d} identifier {ident}\n"
                        f"  client entropy (base64, from the RST): {client_b64}\n"
                        f"  server entropy (base64, in the RSTR):  {base64.b64encode(SERVER_ENTROPY).decode()}\n"
                        f"  key size: {keysize} bits\n"
                        f"  key = P_SHA1(client entropy, server entropy) (hex): {key.hex()}\n")
        else:
            secret = os.urandom(keysize // 8)
            proof = f'<wst:RequestedProofToken><wst:BinarySecret>{base64.b64encode(secret).decode()}</wst:BinarySecret></wst:RequestedProofToken>'
            with open(os.path.join(self.server.dir, "keys.txt"), "a") as f:
                f.write(f"request {n:02d} identifier {ident}\n  no client entropy; key (hex): {secret.hex()}\n")
        ref = lambda uri: f'<wsse:SecurityTokenReference><wsse:Reference URI="{uri}" ValueType="{wsc}/sct"/></wsse:SecurityTokenReference>'
        rstr = f"""<wst:RequestSecurityTokenResponse xmlns:wst="{wst}" xmlns:wsc="{wsc}">
<wst:TokenType>{wsc}/sct</wst:TokenType>
<wst:RequestedSecurityToken><wsc:SecurityContextToken wsu:Id="{sid}"><wsc:Identifier>{ident}</wsc:Identifier></wsc:SecurityContextToken></wst:RequestedSecurityToken>
<wst:RequestedAttachedReference>{ref('#' + sid)}</wst:RequestedAttachedReference>
<wst:RequestedUnattachedReference>{ref(ident)}</wst:RequestedUnattachedReference>
{proof}
<wst:Lifetime><wsu:Created>{created}</wsu:Created><wsu:Expires>{expires}</wsu:Expires></wst:Lifetime>
<wst:KeySize>{keysize}</wst:KeySize>
</wst:RequestSecurityTokenResponse>"""
        if wst == WST13:
            return envelope(WST13 + "/RSTRC/IssueFinal", msgid,
                            f'<wst:RequestSecurityTokenResponseCollection xmlns:wst="{wst}">{rstr}</wst:RequestSecurityTokenResponseCollection>')
        return envelope(WST05 + "/RSTR/SCT", msgid, rstr)


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--dir", required=True)
    ap.add_argument("--cert", required=True)
    ap.add_argument("--key", required=True)
    ap.add_argument("--port", type=int, default=0)
    ap.add_argument("--max", type=int, default=0, help="stop after this many requests")
    ap.add_argument("--omit", action="append", default=[], choices=["addressing", "timestamp"],
                    help="leave WS-Addressing headers or the Security header out of every answer")
    ap.add_argument("--json", action="store_true",
                    help="answer application messages with a JSON Subject, as authsvc's API mode does")
    a = ap.parse_args()
    OMIT.update(a.omit)
    if a.json:
        OMIT.add("json")
    os.makedirs(a.dir, exist_ok=True)
    srv = http.server.ThreadingHTTPServer(("127.0.0.1", a.port), Handler)
    srv.dir, srv.seq, srv.lock, srv.max = a.dir, 0, threading.Lock(), a.max
    ctx = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
    ctx.load_cert_chain(a.cert, a.key)
    srv.socket = ctx.wrap_socket(srv.socket, server_side=True)
    print("listening", srv.server_address[1], flush=True)
    srv.serve_forever()


if __name__ == "__main__":
    main()
