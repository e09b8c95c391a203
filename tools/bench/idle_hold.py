#!/usr/bin/env python3
"""Helper for tools/bench/idle_connections (not a test): opens N TCP connections to HOST:PORT,
sends nothing, prints "held N" once all are open, and keeps them until stdin closes."""
import resource
import socket
import sys


def main():
    host, port, count = sys.argv[1], int(sys.argv[2]), int(sys.argv[3])
    soft, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
    if soft < count + 64:
        resource.setrlimit(resource.RLIMIT_NOFILE, (min(hard, count + 64), hard))
    held = []
    for _ in range(count):
        held.append(socket.create_connection((host, port), timeout=30))
    print("held %d" % len(held), flush=True)
    sys.stdin.read()  # until the bench closes our stdin
    for s in held:
        s.close()


if __name__ == "__main__":
    main()
