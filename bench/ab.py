#!/usr/bin/env python3
"""Interleaved A/B of two gatehouse binaries on the gateway's hot path and on the IdP's REFRESH_TOKEN_AUTH: see
bench/ab.sh. For each binary: one `gatehouse bench-upstream`, one `up` with the verified-token cache (one reused
token) and one without it (distinct tokens, each fully verified; its IdP also answers the refresh contender, which
InitiateAuths with one refresh token over 8 connections); the contenders run in turn, A then B, for several rounds, with wrk on 127.0.0.1, and
the medians and B/A ratios are printed (throughput, and gatehouse's CPU per request, which noise moves less).
Usage: bench/ab.py A_BINARY B_BINARY [--rounds N] [--duration S] [--tokens N]"""
import argparse, json, os, signal, statistics, subprocess, sys, tempfile

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import run  # noqa: E402  (the shared helpers: wrk, lua_post, http, spawn, wait_ready)

CFG = """version = 1
[[runtime]]
name = "bench"
upstream = "{upstream}"
[runtime.limits]
requests_per_minute = 1000000
burst = 1000000
max_sessions_per_user = 1000000
"""
LISTEN = ["--web-listen", "127.0.0.1:0", "--idp-listen", "127.0.0.1:0", "--gateway-listen", "127.0.0.1:0",
          "--admin-listen", "127.0.0.1:0"]
SESSION = "ab-session-" + "0" * 30


def up(binary, cfg, data, extra=()):
    p = subprocess.Popen([binary, "up", "--config", cfg, "--data-dir", data, *extra, *LISTEN],
                         stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL, env={**os.environ, "RUST_LOG": "warn"})
    run.procs.append(p)
    path = os.path.join(data, "endpoints.json")
    run.wait_ready(p, path)
    return p, json.load(open(path))


def cognito(ep, op, body):
    st, out = run.http("POST", ep["idp"] + "/", json.dumps(body).encode(),
                       {"X-Amz-Target": f"AWSCognitoIdentityProviderService.{op}",
                        "Content-Type": "application/x-amz-json-1.1"})
    if st != 200:
        sys.exit(f"{op}: HTTP {st}: {out[:200]!r}")
    return json.loads(out)


def tokens(binary, ep, data, n):
    """One user of that instance's own pool: n access tokens by REFRESH_TOKEN_AUTH (its issuer is its own URL) and
    the refresh token."""
    password = "Aa1!" + os.urandom(12).hex()
    subprocess.run([binary, "user", "create", "--username", "ab", "--password-stdin", "--data-dir", data],
                   input=password, text=True, check=True, capture_output=True)
    auth = cognito(ep, "InitiateAuth", {"AuthFlow": "USER_PASSWORD_AUTH", "ClientId": ep["client_id"],
                                        "AuthParameters": {"USERNAME": "ab", "PASSWORD": password}})
    refresh = auth["AuthenticationResult"]["RefreshToken"]
    out = [auth["AuthenticationResult"]["AccessToken"]]
    while len(out) < n:
        r = cognito(ep, "InitiateAuth", {"AuthFlow": "REFRESH_TOKEN_AUTH", "ClientId": ep["client_id"],
                                         "AuthParameters": {"REFRESH_TOKEN": refresh}})
        out.append(r["AuthenticationResult"]["AccessToken"])
    return out, refresh


def side(label, binary, tmp, n_tokens):
    """The contenders of one binary: {name: (url, lua, pids)}."""
    upstream = run.spawn([binary, "bench-upstream", "--listen", "127.0.0.1:0"])
    url = run.listening(upstream)
    cfg = os.path.join(tmp, f"{label}.toml")
    open(cfg, "w").write(CFG.format(upstream=url))
    cached, ep = up(binary, cfg, os.path.join(tmp, f"{label}-cached"))
    uncached, ep2 = up(binary, cfg, os.path.join(tmp, f"{label}-uncached"), ["--token-cache-entries", "0"])
    one = tokens(binary, ep, os.path.join(tmp, f"{label}-cached"), 1)[0][0]
    many, refresh = tokens(binary, ep2, os.path.join(tmp, f"{label}-uncached"), n_tokens)
    hdr = {"Content-Type": "application/json", "X-Amzn-Bedrock-AgentCore-Runtime-Session-Id": SESSION}
    return {
        "reused_token": (ep["runtimes"][0]["invocations_url"],
                         run.lua_post({**hdr, "Authorization": f"Bearer {one}"}), [cached.pid]),
        "distinct_tokens": (ep2["runtimes"][0]["invocations_url"], run.lua_post(hdr, many), [uncached.pid]),
        "refresh": (ep2["idp"] + "/", run.lua_refresh(ep2["client_id"], refresh), [uncached.pid]),
    }


def main():
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("a")
    ap.add_argument("b")
    ap.add_argument("--rounds", type=int, default=5)
    ap.add_argument("--duration", type=int, default=5, help="seconds per wrk run")
    ap.add_argument("--tokens", type=int, default=300, help="distinct tokens for the uncached runs")
    args = ap.parse_args()
    run.DURATION = args.duration
    tmp = tempfile.mkdtemp(prefix="gatehouse-ab-")
    sides = {"A": side("A", args.a, tmp, args.tokens), "B": side("B", args.b, tmp, args.tokens)}
    samples = {(s, c): [] for s in sides for c in sides[s]}
    for r in range(args.rounds):
        for c in sides["A"]:
            # Alternate which binary goes first, so drift within a round hits both alike.
            for s in (("A", "B") if r % 2 == 0 else ("B", "A")):
                url, lua, pids = sides[s][c]
                m = run.wrk(url, lua, pids, conns=8 if c == "refresh" else None)
                if m["non2xx"]:
                    sys.exit(f"{s} {c}: {m['non2xx']} non-2xx answers")
                samples[(s, c)].append(m)
                run.log(f"round {r + 1} {s} {c:<16} {m['rps']:>9.0f} req/s {m['cpu_us']:>7.1f} us cpu/req")
    run.log("")
    run.log(f"{'path':<16} {'A req/s':>9} {'B req/s':>9} {'B/A':>6}   {'A us/req':>9} {'B us/req':>9} {'B/A':>6}")
    result = {}
    for c in sides["A"]:
        med = {s: {k: statistics.median(m[k] for m in samples[(s, c)]) for k in ("rps", "cpu_us")} for s in ("A", "B")}
        result[c] = med
        run.log(f"{c:<16} {med['A']['rps']:>9.0f} {med['B']['rps']:>9.0f} {med['B']['rps'] / med['A']['rps']:>6.3f}   "
                f"{med['A']['cpu_us']:>9.1f} {med['B']['cpu_us']:>9.1f} {med['B']['cpu_us'] / med['A']['cpu_us']:>6.3f}")
    print(json.dumps({"a": args.a, "b": args.b, "rounds": args.rounds, "duration_s": args.duration, "medians": result}))


if __name__ == "__main__":
    try:
        main()
    finally:
        for p in run.procs:
            try:
                p.send_signal(signal.SIGTERM)
                p.wait(timeout=10)
            except Exception:
                p.kill()
