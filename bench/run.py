#!/usr/bin/env python3
"""Drives the gatehouse benchmark: see bench/run.sh. Every server binds 127.0.0.1; every run is bounded."""
import base64, json, os, re, shutil, signal, statistics, subprocess, sys, tempfile, time, urllib.parse, urllib.request

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
BIN = os.path.join(ROOT, "target", "release", "gatehouse")
QUICK = "--quick" in sys.argv
ROUNDS = 2 if QUICK else 3
DURATION = 3 if QUICK else 6
CONNS = 32
TMP = tempfile.mkdtemp(prefix="gatehouse-bench-")
procs = []


def log(*a):
    print(*a, flush=True)


def spawn(args, **kw):
    p = subprocess.Popen(args, stdout=subprocess.PIPE, stderr=subprocess.DEVNULL, text=True, **kw)
    procs.append(p)
    return p


def listening(p):
    line = p.stdout.readline().strip()
    return line.split(" listening on ", 1)[1]


def free_port():
    import socket
    s = socket.socket()
    s.bind(("127.0.0.1", 0))
    port = s.getsockname()[1]
    s.close()
    return port


def http(method, url, body=None, headers=None):
    req = urllib.request.Request(url, data=body, method=method, headers=headers or {})
    try:
        with urllib.request.urlopen(req, timeout=10) as r:
            return r.status, r.read()
    except urllib.error.HTTPError as e:
        return e.code, e.read()


def cpu_seconds(pid):
    fields = open(f"/proc/{pid}/stat").read().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


def cpu_of(pids):
    return sum(cpu_seconds(p) for p in pids)


def wrk(url, lua, pids, conns=None, cpu_list=None):
    conns = conns or CONNS
    script = os.path.join(TMP, "req.lua")
    open(script, "w").write(lua)
    before = cpu_of(pids) if pids else 0.0
    pin = ["taskset", "-c", cpu_list] if cpu_list else []
    out = subprocess.run(pin + ["wrk", "-t1", f"-c{conns}", f"-d{DURATION}s", "--latency", "-s", script, url],
                         capture_output=True, text=True, timeout=DURATION + 30).stdout
    after = cpu_of(pids) if pids else 0.0
    m_rps = re.search(r"Requests/sec:\s+([\d.]+)", out)
    if not m_rps:
        raise RuntimeError(f"wrk against {url} printed no result:\n{out}")
    rps = float(m_rps.group(1))
    total = int(re.search(r"(\d+) requests in", out).group(1))
    m = re.search(r"50%\s+([\d.]+)(us|ms|s)", out)
    p50 = float(m.group(1)) * {"us": 1e-3, "ms": 1.0, "s": 1e3}[m.group(2)]
    non2xx = re.search(r"Non-2xx or 3xx responses: (\d+)", out)
    cpu_us = (after - before) / total * 1e6 if pids and total else None
    return {"rps": rps, "p50_ms": p50, "requests": total, "non2xx": int(non2xx.group(1)) if non2xx else 0, "cpu_us": cpu_us}


def lua_post(headers, tokens=None):
    hdr = "".join(f'wrk.headers["{k}"] = "{v}"\n' for k, v in headers.items())
    if not tokens:
        return f'wrk.method = "POST"\nwrk.body = "{{}}"\n{hdr}'
    toks = ",".join(f'"{t}"' for t in tokens)
    return f'''wrk.method = "POST"
wrk.body = "{{}}"
{hdr}
local tokens = {{{toks}}}
local i = 0
request = function()
  i = i % #tokens + 1
  wrk.headers["Authorization"] = "Bearer " .. tokens[i]
  return wrk.format(nil)
end
'''


def lua_refresh(client_id, refresh):
    """A wrk script that POSTs one REFRESH_TOKEN_AUTH InitiateAuth (the same refresh token every time)."""
    body = json.dumps({"AuthFlow": "REFRESH_TOKEN_AUTH", "ClientId": client_id,
                       "AuthParameters": {"REFRESH_TOKEN": refresh}}).replace('"', '\\"')
    return ('wrk.method = "POST"\n'
            f'wrk.body = "{body}"\n'
            'wrk.headers["Content-Type"] = "application/x-amz-json-1.1"\n'
            'wrk.headers["X-Amz-Target"] = "AWSCognitoIdentityProviderService.InitiateAuth"\n')


def jwk_to_pem(jwk):
    def b64u(s):
        return int.from_bytes(base64.urlsafe_b64decode(s + "=" * (-len(s) % 4)), "big")
    def der_len(n):
        if n < 128:
            return bytes([n])
        b = n.to_bytes((n.bit_length() + 7) // 8, "big")
        return bytes([0x80 | len(b)]) + b
    def der_int(v):
        b = v.to_bytes((v.bit_length() + 8) // 8, "big")
        return b"\x02" + der_len(len(b)) + b
    def seq(b):
        return b"\x30" + der_len(len(b)) + b
    rsa_pub = seq(der_int(b64u(jwk["n"])) + der_int(b64u(jwk["e"])))
    algo = seq(b"\x06\x09\x2a\x86\x48\x86\xf7\x0d\x01\x01\x01\x05\x00")
    bitstr = b"\x03" + der_len(len(rsa_pub) + 1) + b"\x00" + rsa_pub
    spki = seq(algo + bitstr)
    b64 = base64.b64encode(spki).decode()
    return "-----BEGIN PUBLIC KEY-----\n" + "\n".join(b64[i:i + 64] for i in range(0, len(b64), 64)) + "\n-----END PUBLIC KEY-----\n"


def wait_ready(p, path, step=0.01, limit=60):
    deadline = time.monotonic() + limit
    while not os.path.exists(path):
        if p.poll() is not None:
            sys.exit(f"gatehouse up exited with {p.returncode} before writing {path}")
        if time.monotonic() > deadline:
            sys.exit(f"gatehouse up wrote no {path} within {limit} s")
        time.sleep(step)


def rss_kb(pid):
    for line in open(f"/proc/{pid}/status"):
        if line.startswith("VmRSS:"):
            return int(line.split()[1])
    return 0


# 10,000 is the target; a proxied connection holds two descriptors in gatehouse (client and agent side), so where
# the hard RLIMIT_NOFILE is 20,000 (as on the machine these figures come from) at most ~9,900 fit.
IDLE_N = 10000


def idle_count():
    import resource
    soft, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
    return min(IDLE_N, (hard - 200) // 2)


async def _idle_open(kind, host, port, path, token, session, sem):
    import asyncio
    async with sem:
        r, w = await asyncio.open_connection(host, port)
        if kind == "sse":
            w.write((f"POST {path} HTTP/1.1\r\nHost: {host}:{port}\r\nAuthorization: Bearer {token}\r\n"
                     f"X-Amzn-Bedrock-AgentCore-Runtime-Session-Id: {session}\r\nContent-Type: application/json\r\n"
                     "X-Amzn-Bedrock-AgentCore-Runtime-Custom-Bench: hold\r\n"
                     "Content-Length: 2\r\n\r\n{}").encode())
            want = b"data:"
        else:
            key = base64.b64encode(os.urandom(16)).decode()
            proto = base64.urlsafe_b64encode(token.encode()).decode().rstrip("=")
            w.write((f"GET {path} HTTP/1.1\r\nHost: {host}:{port}\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n"
                     f"Sec-WebSocket-Key: {key}\r\nSec-WebSocket-Version: 13\r\n"
                     f"X-Amzn-Bedrock-AgentCore-Runtime-Session-Id: {session}\r\n"
                     f"Sec-WebSocket-Protocol: base64UrlBearerAuthorization.{proto}, base64UrlBearerAuthorization\r\n\r\n").encode())
            want = b"\r\n\r\n"
        data = b""
        while want not in data:
            chunk = await asyncio.wait_for(r.read(4096), 30)
            if not chunk:
                raise RuntimeError(f"{kind}: closed before it was established: {data[:200]!r}")
            data += chunk
        if kind == "ws" and b" 101 " not in data.split(b"\r\n", 1)[0]:
            raise RuntimeError(f"ws: no 101: {data[:200]!r}")
        return r, w


async def _idle_phase(kind, url, token, session, pid):
    """Opens IDLE_N idle streams (SSE) or WebSockets through gatehouse; returns (bytes per connection, dropped)."""
    import asyncio
    u = urllib.parse.urlsplit(url)
    path = u.path + ("?" + u.query if u.query else "")
    if kind == "ws":
        path = path.replace("/invocations", "/ws")
    sem = asyncio.Semaphore(256)
    n = idle_count()
    before = rss_kb(pid)
    conns = await asyncio.gather(*[_idle_open(kind, u.hostname, u.port, path, token, session, sem)
                                   for _ in range(n)])
    await asyncio.sleep(3)
    after = rss_kb(pid)

    async def alive(r):
        try:
            chunk = await asyncio.wait_for(r.read(1), 0.5)
            return chunk != b""
        except asyncio.TimeoutError:
            return True
    states = await asyncio.gather(*[alive(r) for r, _ in conns])
    for _, w in conns:
        w.close()
    await asyncio.sleep(2)
    return (after - before) * 1024 / n, states.count(False)


def main():
    import resource
    soft, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
    try:
        resource.setrlimit(resource.RLIMIT_NOFILE, (max(hard, 65536), max(hard, 65536)))
    except (ValueError, OSError):
        resource.setrlimit(resource.RLIMIT_NOFILE, (hard, hard))
    results = {"rounds": ROUNDS, "duration_s": DURATION, "connections": CONNS, "contenders": {}, "targets": []}
    up_port = free_port()
    upstream = spawn([BIN, "bench-upstream", "--listen", f"127.0.0.1:{up_port}"])
    upstream_url = listening(upstream)
    cfg = os.path.join(TMP, "bench.toml")
    open(cfg, "w").write(f'''version = 1
[[runtime]]
name = "bench"
upstream = "{upstream_url}"
[runtime.limits]
requests_per_minute = 1000000
burst = 1000000
max_sessions_per_user = 1000000
ws_max_sockets_per_user = 1000000
''')
    data = os.path.join(TMP, "data")
    t0 = time.monotonic()
    gh = subprocess.Popen([BIN, "up", "--config", cfg, "--data-dir", data, "--web-listen", "127.0.0.1:0", "--idp-listen",
                           "127.0.0.1:0", "--gateway-listen", "127.0.0.1:0", "--admin-listen", "127.0.0.1:0"],
                          stdout=subprocess.DEVNULL, env={**os.environ, "RUST_LOG": "warn"})
    procs.append(gh)
    ep_path = os.path.join(data, "endpoints.json")
    wait_ready(gh, ep_path)
    ep = json.load(open(ep_path))
    # Cold start with an existing data dir: stop, then time a second start to endpoints.json.
    gh.send_signal(signal.SIGTERM)
    gh.wait(timeout=30)
    t0 = time.monotonic()
    gh = subprocess.Popen([BIN, "up", "--config", cfg, "--data-dir", data, "--web-listen", "127.0.0.1:0", "--idp-listen",
                           "127.0.0.1:0", "--gateway-listen", "127.0.0.1:0", "--admin-listen", "127.0.0.1:0"],
                          stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL, env={**os.environ, "RUST_LOG": "warn"})
    procs.append(gh)
    wait_ready(gh, ep_path, 0.002)
    cold = time.monotonic() - t0
    ep = json.load(open(ep_path))
    results["cold_start_s"] = cold
    log(f"cold start to endpoints.json: {cold * 1000:.0f} ms")

    password = "Aa1!" + base64.urlsafe_b64encode(os.urandom(12)).decode().replace("-", "x").replace("_", "y")
    subprocess.run([BIN, "user", "create", "--username", "bench", "--password-stdin", "--data-dir", data],
                   input=password, text=True, check=True, capture_output=True)
    def cognito(op, body):
        return http("POST", ep["idp"] + "/", json.dumps(body).encode(),
                    {"X-Amz-Target": f"AWSCognitoIdentityProviderService.{op}", "Content-Type": "application/x-amz-json-1.1"})
    t = time.monotonic()
    st, body = cognito("InitiateAuth", {"AuthFlow": "USER_PASSWORD_AUTH", "ClientId": ep["client_id"],
                                        "AuthParameters": {"USERNAME": "bench", "PASSWORD": password}})
    results["password_signin_ms"] = (time.monotonic() - t) * 1000
    auth = json.loads(body)["AuthenticationResult"]
    token, refresh = auth["AccessToken"], auth["RefreshToken"]
    # A second instance on a copy of the store (same keys, pool and runtime ARN) with the verified-token cache off:
    # every request there pays a full RS256 verification, whatever the number of distinct tokens.
    gh2, ep2 = start_copy(data, cfg, "data-nocache", ["--token-cache-entries", "0"])
    def cognito2(op, body):
        return http("POST", ep2["idp"] + "/", json.dumps(body).encode(),
                    {"X-Amz-Target": f"AWSCognitoIdentityProviderService.{op}", "Content-Type": "application/x-amz-json-1.1"})
    # Distinct valid tokens via REFRESH_TOKEN_AUTH, from the uncached instance (its issuer is its own URL).
    n_tokens = 300 if QUICK else 1000
    tokens = []
    t = time.monotonic()
    for _ in range(n_tokens):
        st, body = cognito2("InitiateAuth", {"AuthFlow": "REFRESH_TOKEN_AUTH", "ClientId": ep["client_id"],
                                            "AuthParameters": {"REFRESH_TOKEN": refresh}})
        tokens.append(json.loads(body)["AuthenticationResult"]["AccessToken"])
    results["refresh_per_s_sequential"] = n_tokens / (time.monotonic() - t)


    session = "bench-session-" + "0" * 30
    inv = ep["runtimes"][0]["invocations_url"]
    direct = upstream_url + "/invocations"
    gh_pids = [gh.pid]
    contenders = {
        "direct": (direct, lua_post({"Content-Type": "application/json"}), [upstream.pid]),
        "gatehouse": (inv, lua_post({"Authorization": f"Bearer {token}", "Content-Type": "application/json",
                                     "X-Amzn-Bedrock-AgentCore-Runtime-Session-Id": session}), gh_pids),
        "gatehouse_distinct_tokens": (ep2["runtimes"][0]["invocations_url"],
                                      lua_post({"Content-Type": "application/json",
                                                "X-Amzn-Bedrock-AgentCore-Runtime-Session-Id": session}, tokens), [gh2.pid]),
        "gatehouse_invalid_tokens": (inv, lua_post({"Authorization": "Bearer eyJhbGciOiJSUzI1NiIsImtpZCI6Im5vcGUifQ.e30.AAAA",
                                                    "Content-Type": "application/json"}), gh_pids),
    }
    jwks = json.loads(http("GET", ep["jwks_uri"])[1])
    if shutil.which("haproxy"):
        pem = os.path.join(TMP, "pub.pem")
        open(pem, "w").write(jwk_to_pem(jwks["keys"][-1]))
        for name, jwt in (("haproxy_plain", False), ("haproxy_jwt", True)):
            port = free_port()
            check = f'''  http-request set-var(txn.bearer) http_auth_bearer
  http-request set-var(txn.alg) var(txn.bearer),jwt_header_query('$.alg')
  http-request deny deny_status 401 unless {{ var(txn.alg) -m str RS256 }}
  http-request deny deny_status 401 unless {{ var(txn.bearer),jwt_verify(txn.alg,"{pem}") -m int 1 }}
''' if jwt else ""
            conf = os.path.join(TMP, f"{name}.cfg")
            open(conf, "w").write(f'''global
  maxconn 4000
  nbthread 1
defaults
  mode http
  timeout connect 5s
  timeout client 60s
  timeout server 60s
frontend fe
  bind 127.0.0.1:{port}
{check}  default_backend be
backend be
  http-reuse always
  server s1 {upstream_url.replace("http://", "")}
''')
            p = spawn(["haproxy", "-db", "-f", conf])
            time.sleep(0.5)
            if p.poll() is not None:
                log(f"{name}: haproxy did not start; skipped")
                continue
            hdr = {"Content-Type": "application/json"}
            if jwt:
                hdr["Authorization"] = f"Bearer {token}"
            contenders[name] = (f"http://127.0.0.1:{port}/invocations", lua_post(hdr), [p.pid])
    if shutil.which("nginx"):
        port = free_port()
        ndir = os.path.join(TMP, "nginx")
        os.makedirs(ndir, exist_ok=True)
        conf = os.path.join(ndir, "nginx.conf")
        open(conf, "w").write(f'''daemon off;
master_process off;
worker_processes 1;
error_log {ndir}/error.log crit;
pid {ndir}/nginx.pid;
events {{ worker_connections 4096; }}
http {{
  access_log off;
  client_body_temp_path {ndir}; proxy_temp_path {ndir}; fastcgi_temp_path {ndir}; uwsgi_temp_path {ndir}; scgi_temp_path {ndir};
  upstream up {{ server {upstream_url.replace("http://", "")}; keepalive 64; }}
  server {{
    listen 127.0.0.1:{port};
    location / {{ proxy_pass http://up; proxy_http_version 1.1; proxy_set_header Connection ""; }}
  }}
}}
''')
        p = spawn(["nginx", "-c", conf, "-p", ndir])
        time.sleep(0.5)
        if p.poll() is not None:
            log("nginx did not start; skipped")
            p = None
        if p is not None:
            contenders["nginx_plain"] = (f"http://127.0.0.1:{port}/invocations", lua_post({"Content-Type": "application/json"}), [p.pid])

    runs = {name: [] for name in contenders}
    for rnd in range(ROUNDS):
        for name, (url, lua, pids) in contenders.items():
            r = wrk(url, lua, pids)
            runs[name].append(r)
            log(f"round {rnd + 1} {name:<28} {r['rps']:>10.0f} req/s  p50 {r['p50_ms']:.3f} ms  cpu/req {r['cpu_us'] or 0:.1f} us  non-2xx {r['non2xx']}")
    med = {}
    for name, rs in runs.items():
        med[name] = {k: statistics.median([r[k] for r in rs if r[k] is not None]) if any(r[k] is not None for r in rs) else None
                     for k in ("rps", "p50_ms", "cpu_us")}
        med[name]["non2xx"] = sum(r["non2xx"] for r in rs)
        med[name]["requests"] = sum(r["requests"] for r in rs)
    results["contenders"] = med
    metrics = http("GET", ep["admin"] + "/metrics")[1].decode()
    fetches = re.search(r'gatehouse_jwks_fetches_total\{runtime="bench"\} (\d+)', metrics)
    results["jwks_fetches"] = int(fetches.group(1)) if fetches else None

    # IdP REFRESH_TOKEN_AUTH under concurrent load, the uncached instance pinned to one core (wrk on the other).
    refresh_lua = lua_refresh(ep["client_id"], refresh)
    pinned = shutil.which("taskset") is not None
    if pinned:
        subprocess.run(["taskset", "-a", "-pc", "0", str(gh2.pid)], capture_output=True)
    r = wrk(ep2["idp"] + "/", refresh_lua, [gh2.pid], conns=8, cpu_list="1" if pinned else None)
    results["refresh_per_s"] = r["rps"]
    results["refresh_cpu_us"] = r["cpu_us"]
    results["refresh_non2xx"] = r["non2xx"]
    results["refresh_one_core"] = pinned
    log(f"REFRESH_TOKEN_AUTH: {r['rps']:.0f}/s on {'one pinned core' if pinned else 'both cores'}, "
        f"{r['cpu_us'] or 0:.0f} us CPU each, non-2xx {r['non2xx']}")

    # 10,000 idle SSE streams and 10,000 idle WebSockets, each kind held through a fresh instance (on a copy of the
    # store) so one kind's freed memory does not hide the other's: RSS delta per connection.
    import asyncio
    for kind in ("sse", "ws"):
        fresh, fresh_ep = start_copy(data, cfg, f"data-idle-{kind}")
        st, body = http("POST", fresh_ep["idp"] + "/", json.dumps({
            "AuthFlow": "REFRESH_TOKEN_AUTH", "ClientId": ep["client_id"],
            "AuthParameters": {"REFRESH_TOKEN": refresh}}).encode(),
            {"X-Amz-Target": "AWSCognitoIdentityProviderService.InitiateAuth",
             "Content-Type": "application/x-amz-json-1.1"})
        fresh_token = json.loads(body)["AuthenticationResult"]["AccessToken"]
        try:
            # A session of its own: the copied store binds `session` to the first instance's issuer.
            per, dropped = asyncio.run(_idle_phase(kind, fresh_ep["runtimes"][0]["invocations_url"], fresh_token,
                                                   f"bench-idle-{kind}-" + "0" * 30, fresh.pid))
        except Exception as e:  # noqa: BLE001 - reported, the rest of the run goes on
            log(f"idle {kind}: failed: {e}")
            per, dropped = None, None
        fresh.send_signal(signal.SIGTERM)
        fresh.wait(timeout=30)
        results[f"idle_{kind}_bytes_per_conn"] = per
        results[f"idle_{kind}_dropped"] = dropped
        results["idle_count"] = idle_count()
        if per is not None:
            log(f"idle {kind}: {idle_count()} held, {per / 1024:.1f} KiB gateway RSS each, {dropped} dropped")

    # SSE time to first byte, direct vs gateway (median of 50 sequential requests with curl).
    def ttfb(url, headers):
        vals = []
        for _ in range(50):
            args = ["curl", "-s", "-o", "/dev/null", "-w", "%{time_starttransfer}", "-X", "POST", "-d", "{}"]
            for k, v in headers.items():
                args += ["-H", f"{k}: {v}"]
            vals.append(float(subprocess.run(args + [url], capture_output=True, text=True).stdout))
        return statistics.median(vals) * 1000
    bench_sse = {"X-Amzn-Bedrock-AgentCore-Runtime-Custom-Bench": "sse"}
    sse_direct = ttfb(direct, bench_sse)
    sse_gw = ttfb(inv, {**bench_sse, "Authorization": f"Bearer {token}",
                        "X-Amzn-Bedrock-AgentCore-Runtime-Session-Id": session})
    results["sse_ttfb_ms"] = {"direct": sse_direct, "gatehouse": sse_gw}

    def ratio(a, b):
        return med[a]["rps"] / med[b]["rps"] if a in med and b in med and med[b]["rps"] else None
    t = results["targets"]
    def target(name, value, goal, ok):
        t.append({"target": name, "measured": value, "goal": goal, "pass": ok})
    r = ratio("gatehouse", "haproxy_jwt")
    target("reused token: throughput vs HAProxy+JWT", r, ">= 2.0", r is not None and r >= 2.0)
    r = ratio("gatehouse", "haproxy_plain")
    target("reused token: throughput vs HAProxy plain", r, ">= 0.8", r is not None and r >= 0.8)
    c = med["gatehouse"]["cpu_us"]
    target("reused token: proxy CPU per request (us)", c, "<= 20", c is not None and c <= 20)
    lat = med["gatehouse"]["p50_ms"] - med["direct"]["p50_ms"]
    target("reused token: median added latency at 32 conns (ms)", lat, "<= 0.3", lat <= 0.3)
    r = ratio("gatehouse_distinct_tokens", "haproxy_jwt")
    target("distinct tokens: throughput vs HAProxy+JWT", r, ">= 1.2", r is not None and r >= 1.2)
    r = ratio("gatehouse_invalid_tokens", "haproxy_jwt")
    all401 = med["gatehouse_invalid_tokens"]["non2xx"] == med["gatehouse_invalid_tokens"]["requests"]
    target("invalid-token flood: throughput vs HAProxy+JWT, all refused", r, ">= 1.0", r is not None and r >= 1.0 and all401)
    # The built-in issuer's refresh interval is 1 s (a key rotated on another instance is picked up at once), and
    # unknown kids arrive only during the invalid-token runs: at most one fetch per second of flood (+1 per run).
    allowed = ROUNDS * (DURATION + 1)
    target(f"invalid-token flood: JWKS fetches in the run ({ROUNDS * DURATION} s of flood, 1 s interval)",
           results["jwks_fetches"], f"<= {allowed} (1 per interval)",
           results["jwks_fetches"] is not None and results["jwks_fetches"] <= allowed)
    d = sse_gw - sse_direct
    target("SSE time to first byte over direct (ms)", d, "<= 1", d <= 1)
    target("IdP REFRESH_TOKEN_AUTH per second (8 connections, gatehouse on one core)", results["refresh_per_s"],
           ">= 2000 on one core", results["refresh_per_s"] >= 2000 and results["refresh_non2xx"] == 0)
    for kind, name in (("sse", "SSE streams"), ("ws", "WebSockets")):
        per, dropped = results[f"idle_{kind}_bytes_per_conn"], results[f"idle_{kind}_dropped"]
        target(f"{idle_count()} idle {name}: gateway KiB per connection, none dropped", None if per is None else per / 1024,
               "<= 32, 0 dropped", per is not None and per <= 32 * 1024 and dropped == 0)
    target("password sign-in (ms, argon2id by design)", results["password_signin_ms"], "report", True)
    target("cold start of up to endpoints.json (s)", cold, "<= 1", cold <= 1)

    log("")
    log(f"{'contender':<28} {'req/s':>10} {'p50 ms':>8} {'cpu us/req':>10} {'x direct':>9} {'x haproxy+jwt':>14} {'x haproxy':>10} {'x nginx':>8}")
    for name, m in med.items():
        def x(b):
            return f"{m['rps'] / med[b]['rps']:.2f}" if b in med and med[b]["rps"] else "-"
        log(f"{name:<28} {m['rps']:>10.0f} {m['p50_ms']:>8.3f} {m['cpu_us'] or 0:>10.1f} {x('direct'):>9} {x('haproxy_jwt'):>14} {x('haproxy_plain'):>10} {x('nginx_plain'):>8}")
    log("")
    for tg in t:
        v = tg["measured"]
        vs = f"{v:.3f}" if isinstance(v, float) else str(v)
        log(f"{'PASS' if tg['pass'] else 'FAIL'}  {tg['target']:<60} {vs:>12}  (goal {tg['goal']})")
    json.dump(results, open(os.path.join(ROOT, "bench", "results.json"), "w"), indent=2)
    write_docs(results, med)


def start_copy(data, cfg, name, extra=()):
    """A second `up` on a copy of `data`'s store (same keys, pool, users and runtime ARN); returns (process, endpoints)."""
    import sqlite3
    copy = os.path.join(TMP, name)
    os.makedirs(copy)
    src = sqlite3.connect(os.path.join(data, "gatehouse.db"))
    dst = sqlite3.connect(os.path.join(copy, "gatehouse.db"))
    src.backup(dst)
    dst.close()
    src.close()
    p = subprocess.Popen([BIN, "up", "--config", cfg, "--data-dir", copy, *extra,
                          "--web-listen", "127.0.0.1:0", "--idp-listen", "127.0.0.1:0", "--gateway-listen", "127.0.0.1:0",
                          "--admin-listen", "127.0.0.1:0"],
                         stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL, env={**os.environ, "RUST_LOG": "warn"})
    procs.append(p)
    wait_ready(p, os.path.join(copy, "endpoints.json"))
    return p, json.load(open(os.path.join(copy, "endpoints.json")))


def fmt_kib(v):
    return "-" if v is None else f"{v / 1024:.1f}"


def write_docs(results, med):
    names = list(med)
    w, bar, gap = 720, 26, 10
    top = max(m["rps"] for m in med.values()) or 1
    h = 40 + len(names) * (bar + gap)
    svg = [f'<svg xmlns="http://www.w3.org/2000/svg" width="{w}" height="{h}" font-family="sans-serif" font-size="13">',
           f'<text x="10" y="20" font-weight="bold">Requests per second (median of {results["rounds"]} rounds, {results["connections"]} connections, loopback, 2 cores)</text>']
    for i, n in enumerate(names):
        y = 35 + i * (bar + gap)
        bw = int((w - 330) * med[n]["rps"] / top)
        color = "#2b6cb0" if n.startswith("gatehouse") else "#a0aec0"
        svg.append(f'<text x="10" y="{y + 18}">{n}</text><rect x="220" y="{y}" width="{bw}" height="{bar}" fill="{color}"/>'
                   f'<text x="{225 + bw}" y="{y + 18}">{med[n]["rps"]:.0f}</text>')
    svg.append("</svg>")
    open(os.path.join(ROOT, "docs", "performance.svg"), "w").write("\n".join(svg))
    lines = ["# Performance", "", "Measured by `bench/run.sh` (release build, everything on 127.0.0.1, wrk with 1 thread and "
             f"{results['connections']} connections, {results['duration_s']} s per run, contenders interleaved over "
             f"{results['rounds']} rounds, medians). The load generator shares the machine's 2 cores with the proxies, "
             "so absolute figures are low and noisy; the ratios between contenders measured side by side are what the "
             "targets are about. Reproduce with `bench/run.sh` (or `bench/run.sh --quick`).", "",
             "![requests per second](performance.svg)", "",
             "| contender | req/s | p50 ms | proxy CPU µs/req |", "| --- | ---: | ---: | ---: |"]
    for n, m in med.items():
        lines.append(f"| {n} | {m['rps']:.0f} | {m['p50_ms']:.3f} | {m['cpu_us'] or 0:.1f} |")
    lines += ["", "| target | measured | goal | |", "| --- | ---: | --- | --- |"]
    for tg in results["targets"]:
        v = tg["measured"]
        lines.append(f"| {tg['target']} | {v:.3f} | {tg['goal']} | {'pass' if tg['pass'] else 'FAIL'} |" if isinstance(v, float)
                     else f"| {tg['target']} | {v} | {tg['goal']} | {'pass' if tg['pass'] else 'FAIL'} |")
    lines += ["", f"SSE time to first byte: direct {results['sse_ttfb_ms']['direct']:.3f} ms, through gatehouse "
              f"{results['sse_ttfb_ms']['gatehouse']:.3f} ms (median of 50, curl).", "",
              f"Idle connections ({results.get('idle_count')} each — the target is 10,000; a proxied connection holds two "
              "descriptors and this machine's hard descriptor limit is 20,000 — held through the gateway to the upstream): SSE "
              f"{fmt_kib(results.get('idle_sse_bytes_per_conn'))} KiB of gateway RSS per stream "
              f"({results.get('idle_sse_dropped')} dropped), WebSocket {fmt_kib(results.get('idle_ws_bytes_per_conn'))} KiB per socket "
              f"({results.get('idle_ws_dropped')} dropped).", "",
              "The uncached contender (`gatehouse_distinct_tokens`) runs against a second instance on a copy of the store, "
              "started with `--token-cache-entries 0`, so every request pays a full RS256 verification. "
              "REFRESH_TOKEN_AUTH is measured on that instance pinned to one core (`taskset`), wrk on the other.", "",
              "## Where the time goes", "",
              "A proxied request costs gatehouse four system calls (two `recvfrom`, two `writev`; `strace -c`), the same "
              "as HAProxy. `perf` on the reused-token path: about half kernel (loopback TCP and wake-ups, which HAProxy "
              "pays too), the rest spread thinly over hyper's server and client halves, tokio and allocation; no "
              "gatehouse function is above ~1.5 %. A hyper server alone (the `direct` upstream) costs ~10 µs per "
              "request, so a hyper server plus a hyper client is ~20 µs before any check: the 20 µs target leaves no "
              "room for the perimeter itself. What has been done: agent connections driven on the request's own task "
              "(`agent::pool`), mimalloc, the gateway listener served by a plain hyper service instead of axum's "
              "router, the rare paths boxed so each request's future is half the size (it is copied as it is set up), "
              "no key allocations in the per-request maps, one atomic increment for the latency histogram, a one-pass "
              "vectorized bearer check, an idle timer armed only when the agent makes the client wait. Together: "
              "20–30 % less CPU per request than before these changes (A/B runs of both binaries, interleaved). "
              "Distinct tokens: a full verification (JWS parse, RS256 verify, claims) costs ~22 µs "
              "(`cargo bench --bench gateway`, `token_full_verification_miss`; a cache hit 0.7 µs) on top of the "
              "proxying, while HAProxy+JWT costs ~46 µs per request in all; 1.2× HAProxy+JWT would need the proxying "
              "itself under ~17 µs, below HAProxy's plain proxy. Streaming costs little by comparison: "
              "`sse/relay_per_event` (an agent on loopback streaming 1,000 events through the agent pool and "
              "`GuardedBody`) measures ~0.8 µs per event, agent and hyper included. "
              "What would move it further: one current-thread runtime per core with SO_REUSEPORT (no cross-thread "
              "wake-ups), or a hand-written HTTP/1.1 relay in place of hyper on the agent side.", "",
              "Idle SSE streams: ~47 KiB each before this round, ~27 KiB now. Three changes: mimalloc is built without "
              "transparent huge pages (`no_thp`; with them — mimalloc advises huge pages for its arenas — a stream "
              "cost ~16 KiB more); the per-connection task of the gateway listener is 1.2 KB instead of 6.2 KB (its "
              "TLS and router branches are boxed); and each request's future is boxed instead of living in hyper's "
              "per-connection slot for the connection's whole life. What remains is mostly hyper's buffers: an 8 KiB "
              "write buffer and a read buffer on each of the two connections of a stream.", "",
              "REFRESH_TOKEN_AUTH signs two RS256 tokens (access and ID; `cargo bench --bench verify`: 279 µs per "
              "signature with aws-lc-rs on this machine, 558 µs per answer), so one core cannot exceed ~1,790 answers "
              "per second with 2048-bit keys even with nothing else to do. `perf` of the pinned run: ~43 % RSA "
              "signing, ~25 % kernel scheduling (every SQLite query hops to sqlx's connection thread and back: the "
              "refresh-token row, the user, the revocation check and the re-read that makes a refresh racing a "
              "revocation fail). 2,000/s on one core would need one signature per answer or a cheaper algorithm, "
              "which Cognito compatibility rules out.", "",
              "## Comparing revisions", "",
              "Comparing two revisions: `bench/ab.sh BASE [NEW]` runs both release binaries interleaved (reused "
              "token, distinct tokens, REFRESH_TOKEN_AUTH over 8 connections) and prints the medians and B/A ratios"
              " of throughput and CPU per request. On a busy machine those move by 10–20 % from round to round; "
              "`bench/instructions.sh BASE [NEW]` counts instead the user-space instructions per request under "
              "callgrind (the same three kinds, sequential requests), which other load does not move: two runs of "
              "one binary agree to about 0.1 %. It misses the kernel's share and cache effects, so it tells whether"
              " a change adds work, not how fast a request is.", ""]
    open(os.path.join(ROOT, "docs", "performance.md"), "w").write("\n".join(lines))


if __name__ == "__main__":
    if "--docs-only" in sys.argv:
        # Rewrites docs/performance.md and the chart from bench/results.json, without measuring.
        saved = json.load(open(os.path.join(ROOT, "bench", "results.json")))
        write_docs(saved, saved["contenders"])
        sys.exit(0)
    try:
        main()
    finally:
        for p in procs:
            try:
                p.send_signal(signal.SIGTERM)
                p.wait(timeout=10)
            except Exception:
                p.kill()
        shutil.rmtree(TMP, ignore_errors=True)
