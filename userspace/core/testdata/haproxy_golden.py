#!/usr/bin/env python3
"""Regenerates the HAProxy golden data of weir-core's tests.

Runs Debian's `haproxy` (2.6 was used) on 127.0.0.1 with ports chosen at run
time, and prints:
  * the hash converters' values (`sdbm`, `djb2`, `wt6`, `crc32`, each plain and
    with avalanche) for a few request paths  -> src/hash.rs HAPROXY_GOLDEN
  * the server chosen for GET /k0../k299 with `balance uri` and
    `hash-type map-based` / `consistent`     -> src/balance/tests.rs HAPROXY_URI
  * the order of `static-rr` over 24 requests -> static_rr_cycles_in_haproxy_order
  * the server chosen with `balance source` for 120 loopback client addresses
                                              -> HAPROXY_SOURCE

Each server is a `listen` section of the same HAProxy answering its own name.
Usage: python3 userspace/core/testdata/haproxy_golden.py
"""
import socket
import subprocess
import tempfile
import time
import urllib.request


def free_port():
    s = socket.socket()
    s.bind(("127.0.0.1", 0))
    p = s.getsockname()[1]
    s.close()
    return p


def with_haproxy(lines, fn):
    with tempfile.NamedTemporaryFile("w", suffix=".cfg") as f:
        f.write("\n".join(lines) + "\n")
        f.flush()
        p = subprocess.Popen(["haproxy", "-f", f.name, "-db"],
                             stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
        try:
            time.sleep(0.8)
            return fn()
        finally:
            p.terminate()
            p.wait()


HEAD = ["global", "defaults", "  mode http", "  timeout client 5s",
        "  timeout server 5s", "  timeout connect 5s"]


def get(port, path):
    return urllib.request.urlopen(f"http://127.0.0.1:{port}{path}").read().decode()


def converters():
    port = free_port()
    conv = " ".join(f"%[path,{f}] %[path,{f}(1)]" for f in ("sdbm", "djb2", "wt6", "crc32"))
    cfg = HEAD + ["frontend f", f"  bind 127.0.0.1:{port}",
                  f'  http-request return status 200 content-type text/plain lf-string "{conv}"']
    paths = ["/", "/a", "/hello", "/index.html", "/0123456789abcdef", "/10.0.0.1", "/%00%ff"]
    return with_haproxy(cfg, lambda: [(p, get(port, p)) for p in paths])


def routed(weights, balance, hash_type=None, n=300):
    front = free_port()
    ports = [free_port() for _ in weights]
    cfg = HEAD + ["frontend f", f"  bind 127.0.0.1:{front}", "  default_backend b",
                  "backend b", f"  balance {balance}"]
    if hash_type:
        cfg.append(f"  hash-type {hash_type}")
    cfg += [f"  server s{i} 127.0.0.1:{p} weight {w}" for i, (w, p) in enumerate(zip(weights, ports))]
    for i, p in enumerate(ports):
        cfg += [f"listen l{i}", f"  bind 127.0.0.1:{p}",
                f"  http-request return status 200 content-type text/plain string s{i}"]
    return with_haproxy(cfg, lambda: "".join(get(front, f"/k{k}")[1:] for k in range(n)))


def source_addrs():
    return [f"127.{i % 7}.{i * 37 % 256}.{i * 101 % 254 + 1}" for i in range(120)]


def get_from(src, port):
    s = socket.create_connection(("127.0.0.1", port), source_address=(src, 0), timeout=3)
    s.sendall(b"GET / HTTP/1.0\r\n\r\n")
    data = b""
    while chunk := s.recv(4096):
        data += chunk
    s.close()
    return data.split(b"\r\n\r\n", 1)[1][1:].decode()


def routed_by_source(weights, hash_type):
    front = free_port()
    ports = [free_port() for _ in weights]
    cfg = HEAD + ["frontend f", f"  bind 127.0.0.1:{front}", "  default_backend b",
                  "backend b", "  balance source", f"  hash-type {hash_type}"]
    cfg += [f"  server s{i} 127.0.0.1:{p} weight {w}" for i, (w, p) in enumerate(zip(weights, ports))]
    for i, p in enumerate(ports):
        cfg += [f"listen l{i}", f"  bind 127.0.0.1:{p}",
                f"  http-request return status 200 content-type text/plain string s{i}"]
    return with_haproxy(cfg, lambda: "".join(get_from(a, front) for a in source_addrs()))


if __name__ == "__main__":
    for path, values in converters():
        print("converters", path, values)
    for w in ([1, 1, 1], [1, 2, 3], [5, 1, 1], [2, 3]):
        print("uri", w, routed(w, "uri", "map-based"), routed(w, "uri", "consistent"))
    for w in ([1, 2, 3], [5, 1, 1]):
        print("static-rr", w, routed(w, "static-rr", n=24))
    for w in ([1, 1, 1], [1, 2, 3]):
        print("source", w, routed_by_source(w, "map-based"), routed_by_source(w, "consistent"))
