#!/usr/bin/env python3
"""Instructions per request of one or two gatehouse binaries, counted by callgrind: a count that other load on the
machine does not move (repeatable to about 0.1 %), for A/B comparisons on a busy machine where throughput and CPU
time are too noisy. See bench/instructions.sh.

For each binary, `up` runs under `valgrind --tool=callgrind` with instrumentation off. After set-up (a user, a
password sign-in, tokens, one warm-up pass) instrumentation is switched on (`callgrind_control -i on`) for N
sequential requests of one kind, then off, and callgrind's total is divided by N. Kinds: `refresh`
(REFRESH_TOKEN_AUTH with one refresh token), `reused_token` (invocations with one token, through the verified-token
cache) and `distinct_tokens` (invocations each with a different token, cache off: every signature verified).
User-space instructions of every gatehouse thread count, the kernel's do not; the agent (`bench-upstream`) runs
outside valgrind.
Usage: bench/instructions.py A_BINARY [B_BINARY] [--n N] [--kinds refresh,reused_token,distinct_tokens]"""
import argparse, json, os, signal, subprocess, sys, tempfile, time

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import ab  # noqa: E402  (CFG, LISTEN, SESSION, cognito, tokens)
import run  # noqa: E402  (http, spawn, listening)

KINDS = ("refresh", "reused_token", "distinct_tokens")


def under_callgrind(binary, cfg, data, out, extra=()):
    """`up` under callgrind with instrumentation off; returns the process and its endpoints."""
    err = open(out + ".log", "w")
    p = subprocess.Popen(["valgrind", "--tool=callgrind", "--instr-atstart=no", f"--callgrind-out-file={out}",
                          binary, "up", "--config", cfg, "--data-dir", data, *extra, *ab.LISTEN],
                         stdout=subprocess.DEVNULL, stderr=err, env={**os.environ, "RUST_LOG": "warn"})
    path = os.path.join(data, "endpoints.json")
    deadline = time.monotonic() + 600
    while not os.path.exists(path):
        if p.poll() is not None or time.monotonic() > deadline:
            sys.exit(f"{binary} up did not start under valgrind; see {out}.log")
        time.sleep(0.2)
    time.sleep(0.5)  # endpoints.json is written whole, but let its listeners settle
    return p, json.load(open(path))


def one_request(kind, ep, refresh, token):
    if kind == "refresh":
        ab.cognito(ep, "InitiateAuth", {"AuthFlow": "REFRESH_TOKEN_AUTH", "ClientId": ep["client_id"],
                                        "AuthParameters": {"REFRESH_TOKEN": refresh}})
        return
    st, body = run.http("POST", ep["runtimes"][0]["invocations_url"], b"{}",
                        {"Content-Type": "application/json", "Authorization": f"Bearer {token}",
                         "X-Amzn-Bedrock-AgentCore-Runtime-Session-Id": ab.SESSION})
    if st != 200:
        sys.exit(f"invocation: HTTP {st}: {body[:200]!r}")


def count(binary, kind, n, tmp):
    """Instructions per request of one kind."""
    upstream = run.spawn([binary, "bench-upstream", "--listen", "127.0.0.1:0"])
    cfg = os.path.join(tmp, "cfg.toml")
    open(cfg, "w").write(ab.CFG.format(upstream=run.listening(upstream)))
    data = os.path.join(tmp, f"data-{kind}")
    out = os.path.join(tmp, f"cg-{kind}.out")
    extra = ["--token-cache-entries", "0"] if kind == "distinct_tokens" else []
    p, ep = under_callgrind(binary, cfg, data, out, extra)
    try:
        toks, refresh = ab.tokens(binary, ep, data, n if kind == "distinct_tokens" else 1)
        pick = (lambda i: toks[i]) if kind == "distinct_tokens" else (lambda i: toks[0])
        for _ in range(5):  # warm-up: first connections, first key use, the cached token
            one_request(kind, ep, refresh, pick(0))
        subprocess.run(["callgrind_control", "-i", "on", str(p.pid)], check=True, capture_output=True)
        for i in range(n):
            one_request(kind, ep, refresh, pick(i))
        subprocess.run(["callgrind_control", "-i", "off", str(p.pid)], check=True, capture_output=True)
    finally:
        p.send_signal(signal.SIGTERM)
        p.wait(timeout=300)
        upstream.terminate()
    total = None
    for line in open(out):
        if line.startswith("totals:"):
            total = int(line.split()[1])
    if total is None:
        sys.exit(f"{out}: callgrind wrote no totals")
    return total / n


def main():
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("a")
    ap.add_argument("b", nargs="?")
    ap.add_argument("--n", type=int, default=100, help="requests counted per kind")
    ap.add_argument("--kinds", default=",".join(KINDS))
    args = ap.parse_args()
    kinds = [k for k in args.kinds.split(",") if k]
    bad = [k for k in kinds if k not in KINDS]
    if bad:
        sys.exit(f"--kinds: unknown {bad}; choose from {', '.join(KINDS)}")
    bins = {"A": args.a, **({"B": args.b} if args.b else {})}
    result = {}
    for kind in kinds:
        for label, binary in bins.items():
            tmp = tempfile.mkdtemp(prefix=f"gatehouse-ir-{label}-")
            result.setdefault(kind, {})[label] = count(binary, kind, args.n, tmp)
        row = result[kind]
        ratio = f"  B/A {row['B'] / row['A']:.4f}" if "B" in row else ""
        run.log(f"{kind:<16} " + "  ".join(f"{k} {v / 1e3:>9.1f} k instr/req" for k, v in row.items()) + ratio)
    print(json.dumps({"binaries": bins, "n": args.n, "instructions_per_request": result}))


if __name__ == "__main__":
    try:
        main()
    finally:
        for q in run.procs:
            q.kill()
