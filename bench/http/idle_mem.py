#!/usr/bin/env python3
"""Userspace memory per idle keep-alive client connection, `mode http`.

weir and HAProxy run bench/http/proxy.cfg in front of NGINX (nginx.conf), all
on 127.0.0.1. Per round and proxy: start it, warm it up (requests on short
connections, so that first-use allocations are made), read VmRSS, open N
client connections one after the other, each sending one keep-alive GET and
reading the whole response, leave them all open and idle, wait, read VmRSS
again. Prints (VmRSS after - VmRSS before) / N in bytes, then min / median /
max over the rounds.

    bench/http/idle_mem.py --weir target/release/weir [--n 2000] [--rounds 3]

Bounded: every socket has a 5 s timeout, each proxy gets 10 s to start, and
every process this script starts is stopped before it exits. N must stay
below the configuration's maxconn (4000) and the open-file limit.
"""

import argparse
import os
import resource
import signal
import socket
import statistics
import subprocess
import sys
import time

HERE = os.path.dirname(os.path.abspath(__file__))
CFG = os.path.join(HERE, "proxy.cfg")
PORT = 18091
TMP = "/tmp/weir-bench-http"
REQ = b"GET / HTTP/1.1\r\nHost: bench\r\n\r\n"


def rss_kib(pid):
    """VmRSS of `pid` in KiB."""
    with open(f"/proc/{pid}/status") as f:
        for line in f:
            if line.startswith("VmRSS:"):
                return int(line.split()[1])
    raise RuntimeError(f"no VmRSS for {pid}")


def read_response(s):
    """Reads one response (Content-Length framed) from `s`; returns it."""
    data = b""
    while b"\r\n\r\n" not in data:
        chunk = s.recv(4096)
        if not chunk:
            raise RuntimeError("connection closed before the response head")
        data += chunk
    head, _, body = data.partition(b"\r\n\r\n")
    length = 0
    for line in head.split(b"\r\n")[1:]:
        name, _, value = line.partition(b":")
        if name.strip().lower() == b"content-length":
            length = int(value.strip())
    while len(body) < length:
        chunk = s.recv(4096)
        if not chunk:
            raise RuntimeError("connection closed inside the body")
        body += chunk
    if not head.startswith(b"HTTP/1.1 200"):
        raise RuntimeError(f"unexpected response: {head[:40]!r}")
    return head


def one_request():
    s = socket.create_connection(("127.0.0.1", PORT), timeout=5)
    s.sendall(REQ)
    read_response(s)
    return s


def start(proxy, weir):
    if proxy == "weir":
        cmd = [weir, "-db", "-f", CFG]
    else:
        cmd = ["haproxy", "-db", "-f", CFG]
    log = open(os.path.join(TMP, f"idle_mem.{proxy}.log"), "w")
    p = subprocess.Popen(cmd, stdout=log, stderr=subprocess.STDOUT)
    deadline = time.monotonic() + 10
    while time.monotonic() < deadline:
        try:
            one_request().close()
            return p
        except OSError:
            time.sleep(0.1)
    p.kill()
    p.wait()
    raise RuntimeError(f"{proxy} did not answer within 10 s (see {log.name})")


def measure(proxy, weir, n):
    p = start(proxy, weir)
    conns = []
    try:
        # Warm-up: first-use allocations (buffers, scratch, idle server
        # connections) happen here, not in the measured window.
        for _ in range(200):
            one_request().close()
        held = [one_request() for _ in range(50)]
        for s in held:
            s.close()
        time.sleep(0.5)
        before = rss_kib(p.pid)
        for _ in range(n):
            conns.append(one_request())
        time.sleep(1.0)
        after = rss_kib(p.pid)
        # Every connection must still be open (no early idle close).
        for s in conns[-10:]:
            s.sendall(REQ)
            read_response(s)
        return (after - before) * 1024 / n
    finally:
        for s in conns:
            s.close()
        p.send_signal(signal.SIGTERM)
        try:
            p.wait(timeout=5)
        except subprocess.TimeoutExpired:
            p.kill()
            p.wait()


def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--weir", default="target/release/weir")
    ap.add_argument("--n", type=int, default=2000)
    ap.add_argument("--rounds", type=int, default=3)
    ap.add_argument("--proxies", default="weir,haproxy")
    a = ap.parse_args()
    os.makedirs(TMP, exist_ok=True)
    soft, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
    need = a.n + 256
    if soft < need:
        resource.setrlimit(resource.RLIMIT_NOFILE, (min(need, hard), hard))
    nginx_pid = os.path.join(TMP, "nginx.pid")
    subprocess.run(["nginx", "-c", os.path.join(HERE, "nginx.conf")], check=True)
    try:
        time.sleep(0.5)
        proxies = a.proxies.split(",")
        results = {p: [] for p in proxies}
        for r in range(1, a.rounds + 1):
            for proxy in proxies:
                b = measure(proxy, a.weir, a.n)
                results[proxy].append(b)
                print(f"round {r} {proxy} bytes_per_idle_connection {b:.0f}", flush=True)
        for proxy in proxies:
            v = results[proxy]
            print(
                f"{proxy} min {min(v):.0f} median {statistics.median(v):.0f} "
                f"max {max(v):.0f} (N = {a.n})"
            )
    finally:
        with open(nginx_pid) as f:
            pid = int(f.read().strip())
        os.kill(pid, signal.SIGTERM)
        # Wait until it removed its pid file (5 s at most), so that a next
        # run's NGINX does not lose its pid file to this one's exit.
        for _ in range(50):
            if not os.path.exists(nginx_pid):
                break
            time.sleep(0.1)


if __name__ == "__main__":
    sys.exit(main())
