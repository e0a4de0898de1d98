#!/usr/bin/python3
"""Make or send SOAP messages with python3-zeep's own WS-Security UsernameToken.

The interop tests use this so that the messages authsvc must accept come from a
SOAP client no one on the project wrote. Run it with Debian's /usr/bin/python3,
which has python3-zeep.

  print mode (default): write the envelope zeep would send to stdout
  --call URL:           send it with zeep to URL and print the echoed text
  --count K:            print mode only: write K envelopes, each with its own
                        nonce, separated by a NUL byte (one zeep start-up for
                        many tokens)
"""
import argparse
import datetime
import os
import sys

from lxml import etree
from zeep import Client, Settings
from zeep.transports import Transport
from zeep.wsse.username import UsernameToken
from zeep.wsse import utils

HERE = os.path.dirname(os.path.abspath(__file__))


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--soap", choices=["11", "12"], default="11")
    ap.add_argument("--user", required=True)
    ap.add_argument("--password", required=True)
    ap.add_argument("--digest", action="store_true")
    ap.add_argument("--created-offset", type=int, default=0,
                    help="seconds to add to now for Created (negative: in the past)")
    ap.add_argument("--timestamp", type=int, default=0,
                    help="add a wsu:Timestamp that expires after this many seconds")
    ap.add_argument("--text", default="hello")
    ap.add_argument("--text-repeat", type=int, default=1, help="repeat --text this many times (large bodies)")
    ap.add_argument("--call", metavar="URL")
    ap.add_argument("--count", type=int, default=1,
                    help="print mode: write this many envelopes separated by NUL bytes")
    ap.add_argument("--header", action="append", default=[], metavar="NAME=VALUE",
                    help="extra HTTP header in call mode")
    a = ap.parse_args()
    if a.count < 1 or (a.call and a.count != 1):
        ap.error("--count must be at least 1, and is for print mode only")

    created = None
    if a.created_offset:
        created = datetime.datetime.now(datetime.timezone.utc) + datetime.timedelta(seconds=a.created_offset)
    ts = None
    if a.timestamp:
        now = datetime.datetime.now(datetime.timezone.utc)
        ts = utils.WSU.Timestamp()
        ts.append(utils.WSU.Created(utils.get_timestamp(now)))
        ts.append(utils.WSU.Expires(utils.get_timestamp(now + datetime.timedelta(seconds=a.timestamp))))
    token = UsernameToken(a.user, a.password, use_digest=a.digest, created=created, timestamp_token=ts)

    transport = Transport()
    for h in a.header:
        k, v = h.split("=", 1)
        transport.session.headers[k] = v
    client = Client(os.path.join(HERE, "echo.wsdl"), wsse=token, transport=transport,
                    settings=Settings(strict=True))
    binding = "{urn:example:echo}EchoSoap%s" % a.soap
    service = client.create_service(binding, a.call or "http://127.0.0.1:1/echo")
    text = a.text * a.text_repeat
    if a.call:
        print(service.Echo(text=text))
        return
    for i in range(a.count):
        if i:
            sys.stdout.buffer.write(b"\0")
        msg = client.create_message(service, "Echo", text=text)
        sys.stdout.buffer.write(etree.tostring(msg, xml_declaration=True, encoding="utf-8"))


if __name__ == "__main__":
    main()
