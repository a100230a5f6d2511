#!/usr/bin/env python3
"""A store's REST API over HTTPS, as a real TLS server (Python's ssl, OpenSSL): the peer for the tests of
woocommerce.caFile. Usage: tls_store.py CERT KEY PORT_FILE. It answers every GET with two products and
X-WP-Total: 2 when the request carries HTTP Basic credentials (401 otherwise), writes its port to PORT_FILE
once it listens on 127.0.0.1, and runs until killed."""
import http.server
import os
import ssl
import sys

cert, key, port_file = sys.argv[1:4]


class Store(http.server.BaseHTTPRequestHandler):
    def do_GET(self):
        if not self.headers.get("Authorization", "").startswith("Basic "):
            body, status = b'{"code":"woocommerce_rest_cannot_view"}', 401
        else:
            body, status = b'[{"id": 1, "sku": "A"}, {"id": 2, "sku": "B"}]', 200
        self.send_response(status)
        self.send_header("Content-Type", "application/json")
        self.send_header("X-WP-Total", "2")
        self.send_header("X-WP-TotalPages", "1")
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)

    def log_message(self, *arguments):
        pass


server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), Store)
context = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
context.load_cert_chain(cert, key)
server.socket = context.wrap_socket(server.socket, server_side=True)
with open(port_file + ".tmp", "w") as f:
    f.write(str(server.server_address[1]))
os.rename(port_file + ".tmp", port_file)
server.serve_forever()
