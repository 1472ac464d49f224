"""The demo app: answers every request with a greeting, the host's name and the release it runs from.

Deployed by the nodejs_demo cookbook; reads PORT and GREETING from its environment.
"""

import os
import socket
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

# /srv/<app>/releases/<id>/server.py: the id of the release this process was started from
RELEASE = os.path.basename(os.path.dirname(os.path.realpath(__file__)))


class Hello(BaseHTTPRequestHandler):
    def do_GET(self) -> None:  # noqa: N802 - the http.server API
        if self.path == "/health":
            body = b"ok\n"
        else:
            greeting = os.environ.get("GREETING", "hello")
            body = f"{greeting} from {socket.gethostname()}, release {RELEASE}\n".encode()
        self.send_response(200)
        self.send_header("Content-Type", "text/plain; charset=utf-8")
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)


def main() -> None:
    port = int(os.environ.get("PORT", "8080"))
    ThreadingHTTPServer(("", port), Hello).serve_forever()


if __name__ == "__main__":
    main()
