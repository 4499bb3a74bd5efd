"""Docker HEALTHCHECK of the server: GET /healthz on the configured HTTP port; exit 0 when 200.

/healthz answers 200 while the server can record calls (database reachable; Asterisk being away is
reported as "degraded" but still 200) and 503 otherwise. The address comes from the same settings as
the server's (environment and CALLCENTER_CONFIG), so a changed http.port needs no other edit.
Standard library only (no curl in the image).
"""

from __future__ import annotations

import sys
import urllib.error
import urllib.request

from callcenter.settings import ConfigError, load_settings

TIMEOUT = 4.0


def url() -> str:
    http = load_settings().http
    host = http.host
    if host in ("", "0.0.0.0", "::"):
        host = "127.0.0.1"
    elif ":" in host:
        host = f"[{host}]"
    return f"http://{host}:{http.port}/healthz"


def main() -> int:
    try:
        target = url()
    except ConfigError as err:
        print(f"healthcheck: configuration error: {err}", file=sys.stderr)
        return 1
    try:
        with urllib.request.urlopen(target, timeout=TIMEOUT) as response:
            body = response.read(2000).decode("utf-8", "replace")
            print(body)
            return 0 if response.status == 200 else 1
    except urllib.error.HTTPError as err:
        print(f"healthcheck: {target}: HTTP {err.code} {err.read(2000).decode('utf-8', 'replace')}")
        return 1
    except (OSError, ValueError) as err:
        print(f"healthcheck: {target}: {err}", file=sys.stderr)
        return 1


if __name__ == "__main__":
    raise SystemExit(main())
