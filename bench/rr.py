#!/usr/bin/env python3
"""TCP request/response for the routed benchmark: one byte each way, one
connection, as many transactions as fit in SECONDS; prints the count and
the mean round trip in microseconds. Server: rr.py serve PORT.
Client: rr.py run HOST PORT SECONDS."""
import socket
import sys
import time


def serve(port):
    s = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
    s.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    s.bind(("0.0.0.0", int(port)))
    s.listen(16)
    print("listening", flush=True)
    while True:
        c, _ = s.accept()
        c.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
        while True:
            b = c.recv(1)
            if not b:
                break
            c.sendall(b)
        c.close()


def run(host, port, seconds):
    c = socket.create_connection((host, int(port)), timeout=5)
    c.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
    n = 0
    start = time.perf_counter()
    end = start + float(seconds)
    while True:
        c.sendall(b"x")
        if not c.recv(1):
            raise SystemExit("Cannot finish: the server closed")
        n += 1
        if n % 64 == 0 and time.perf_counter() >= end:
            break
    took = time.perf_counter() - start
    c.close()
    print(n, took / n * 1e6)


if __name__ == "__main__":
    {"serve": serve, "run": run}[sys.argv[1]](*sys.argv[2:])
