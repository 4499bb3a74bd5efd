"""Docker HEALTHCHECK of Kamailio: a SIP OPTIONS to its own listening address; exit 0 on a 200.

kamailio.cfg answers an OPTIONS addressed to itself with "200 Keepalive". The address is
KAMAILIO_LISTEN ("udp:HOST:PORT"). Standard library only.
"""

from __future__ import annotations

import os
import secrets
import socket
import sys

TIMEOUT = 3.0


def main() -> int:
    listen = os.environ.get("KAMAILIO_LISTEN", "udp:127.0.0.1:5060")
    _, host, port = listen.split(":")
    with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as sock:
        sock.settimeout(TIMEOUT)
        sock.bind(("127.0.0.1", 0))
        me = sock.getsockname()[1]
        tag = secrets.token_hex(6)
        request = (
            f"OPTIONS sip:{host}:{port} SIP/2.0\r\n"
            f"Via: SIP/2.0/UDP 127.0.0.1:{me};branch=z9hG4bK{tag};rport\r\n"
            "Max-Forwards: 70\r\n"
            f"From: <sip:healthcheck@127.0.0.1>;tag={tag}\r\n"
            f"To: <sip:{host}:{port}>\r\n"
            f"Call-ID: health-{tag}@127.0.0.1\r\n"
            "CSeq: 1 OPTIONS\r\n"
            "Content-Length: 0\r\n\r\n"
        )
        sock.sendto(request.encode(), (host, int(port)))
        try:
            reply = sock.recv(4096).decode("utf-8", "replace")
        except OSError as err:
            print(f"healthcheck: no answer from {host}:{port}: {err}", file=sys.stderr)
            return 1
    status = reply.split("\r\n", 1)[0]
    print(status)
    return 0 if status.startswith("SIP/2.0 200") else 1


if __name__ == "__main__":
    raise SystemExit(main())
