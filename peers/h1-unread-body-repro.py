#!/usr/bin/env python3
"""Reproduces a server bug over HTTP/1.1 (not run by run.sh; exits 1 while the bug is there).

An error response sent before the request body has arrived (here: 404 for an unknown method)
is followed by the server closing the connection, although the response carries no
`connection: close`. A client that is still sending the body gets EPIPE/ECONNRESET, and a
client that pools the connection sends its next request into a closed socket.

    python3 peers/h1-unread-body-repro.py PORT     # against a running greet-server
"""
import socket
import sys
import time

port = int(sys.argv[1]) if len(sys.argv) > 1 else 8080
head = (b"POST /greet.v1.GreetService/Nope HTTP/1.1\r\nHost: 127.0.0.1\r\n"
        b"Content-Type: application/proto\r\nTransfer-Encoding: chunked\r\n\r\n")
body = b"3\r\n\x0a\x01x\r\n0\r\n\r\n"

s = socket.create_connection(("127.0.0.1", port))
s.settimeout(2)
s.sendall(head)          # headers first, body a moment later: what node's http client does
time.sleep(0.3)
try:
    s.sendall(body)
except OSError as e:
    print(f"writing the body failed: {e!r}")
raw = b""
closed = False
try:
    while True:
        d = s.recv(65536)
        if not d:
            closed = True
            break
        raw += d
except socket.timeout:
    pass
except OSError as e:
    print(f"read failed: {e!r}")
    closed = True
print(raw.decode(errors="replace"))
head_part = raw.split(b"\r\n\r\n", 1)[0].lower()
announced = b"connection: close" in head_part
print(f"connection closed by server: {closed}; 'connection: close' announced: {announced}")
if closed and not announced:
    print("BUG: keep-alive connection closed without `connection: close`")
    sys.exit(1)
print("ok")
