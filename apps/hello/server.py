"""The demo app: answers every request with a greeting and the host's name.

Deployed by the nodejs_demo cookbook; reads PORT and GREETING from its environment.
"""

import os
import socket
from http.server import BaseHTTPRequestHandler, HTTPServer


class Hello(BaseHTTPRequestHandler):
    def do_GET(self) -> None:  # noqa: N802 - the http.server API
        if self.path == "/health":
            body = b"ok\n"
        else:
            greeting = os.environ.get("GREETING", "hello")
            body = f"{greeting} from {socket.gethostname()}\n".encode()
        self.send_response(200)
        self.send_header("Content-Type", "text/plain; charset=utf-8")
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)


def main() -> None:
    port = int(os.environ.get("PORT", "8080"))
    HTTPServer(("", port), Hello).serve_forever()


if __name__ == "__main__":
    main()
