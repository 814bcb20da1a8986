#!/usr/bin/env python3
"""Hostile InitiateAuth load against a real `gatehouse up` on 127.0.0.1, measuring its resident memory.

Sends 50,000 unauthenticated InitiateAuth calls with maximum-size fields from eight loopback source addresses
(127.0.0.2-127.0.0.9), while a legitimate user signs in from 127.0.0.1 twice a second. The mix:
  - USER_SRP_AUTH with a 128-character USERNAME, a 768-hex-digit SRP_A and 14 more AuthParameters of 2,048
    characters each (the largest request every cap admits): each admitted one holds an SRP challenge;
  - USER_PASSWORD_AUTH with a 128-character USERNAME and a 256-character PASSWORD (argon2 for an unknown user);
  - USER_SRP_AUTH with a 60 kB USERNAME (over the cap: refused before any work).
Samples VmRSS of the gatehouse process every 50 ms and prints (and writes to bench/hostile_initiate_auth.json) the
baseline after warm-up, the peak, the growth, the answers by type and the legitimate sign-ins' outcome.
Target: growth < 64 MB while every legitimate sign-in succeeds.

Usage: bench/hostile_initiate_auth.py [--calls N] [--bin PATH]   (default: target/release/gatehouse if built,
else target/debug/gatehouse). Every server binds 127.0.0.1 port 0; nothing outlives the run.
"""
import argparse, collections, http.client, json, os, shutil, subprocess, sys, tempfile, threading, time

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))


def rss_kib(pid):
    with open(f"/proc/{pid}/status") as f:
        for line in f:
            if line.startswith("VmRSS:"):
                return int(line.split()[1])
    return 0


def rand(n):
    """n random lower-case hex digits (fast: the load generator must not be the bottleneck)."""
    return os.urandom((n + 1) // 2).hex()[:n]


class Idp:
    def __init__(self, host, port, source):
        self.host, self.port, self.source = host, port, source
        self.conn = None

    def call(self, op, body):
        data = json.dumps(body).encode()
        for _ in range(2):
            try:
                if self.conn is None:
                    self.conn = http.client.HTTPConnection(self.host, self.port, timeout=30,
                                                           source_address=(self.source, 0))
                self.conn.request("POST", "/", body=data, headers={
                    "content-type": "application/x-amz-json-1.1",
                    "x-amz-target": f"AWSCognitoIdentityProviderService.{op}"})
                r = self.conn.getresponse()
                text = r.read()
                try:
                    j = json.loads(text or b"{}")
                except ValueError:
                    j = {}
                return r.status, j
            except (OSError, http.client.HTTPException):
                if self.conn:
                    self.conn.close()
                self.conn = None
        return 0, {}


def hostile_body(i, client_id):
    kind = i % 10
    if kind < 5:
        params = {"USERNAME": rand(128), "SRP_A": "ab" * 384}
        for k in range(14):
            params[f"X_{k:02d}"] = rand(2048)
        return "srp-max", {"AuthFlow": "USER_SRP_AUTH", "ClientId": client_id, "AuthParameters": params}
    if kind < 8:
        return "password-max", {"AuthFlow": "USER_PASSWORD_AUTH", "ClientId": client_id,
                                "AuthParameters": {"USERNAME": rand(128), "PASSWORD": "Aa1!" + rand(252)}}
    return "srp-oversize", {"AuthFlow": "USER_SRP_AUTH", "ClientId": client_id,
                            "AuthParameters": {"USERNAME": rand(60_000), "SRP_A": "ab" * 384}}


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--calls", type=int, default=50_000)
    ap.add_argument("--threads", type=int, default=32)
    ap.add_argument("--bin")
    args = ap.parse_args()
    binary = args.bin or next((p for p in (os.path.join(ROOT, "target", d, "gatehouse") for d in ("release", "debug"))
                               if os.path.exists(p)), None)
    if not binary:
        sys.exit("build gatehouse first (cargo build --release)")
    tmp = tempfile.mkdtemp(prefix="gatehouse-hostile-")
    data = os.path.join(tmp, "data")
    proc = subprocess.Popen([binary, "up", "--data-dir", data, "--web-listen", "127.0.0.1:0", "--idp-listen",
                             "127.0.0.1:0", "--gateway-listen", "127.0.0.1:0", "--admin-listen", "127.0.0.1:0",
                             "--exit-with-parent"], stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL,
                            env={**os.environ, "RUST_LOG": "error"})
    try:
        deadline = time.time() + 60
        while not os.path.exists(os.path.join(data, "endpoints.json")):
            if time.time() > deadline or proc.poll() is not None:
                sys.exit("gatehouse up did not start")
            time.sleep(0.05)
        time.sleep(0.2)
        ep = json.load(open(os.path.join(data, "endpoints.json")))
        host, port = ep["idp"].split("//", 1)[1].rstrip("/").split(":")
        port = int(port)
        client_id = ep["client_id"]
        user, pw = "bench-" + rand(8), "Aa1!" + rand(24)
        subprocess.run([binary, "user", "create", "--username", user, "--password-stdin", "--data-dir", data,
                        "--email", f"{user}@example.com"], input=pw.encode(), check=True,
                       stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL, env={**os.environ, "RUST_LOG": "error"})
        legit = Idp(host, port, "127.0.0.1")

        def sign_in():
            st, b = legit.call("InitiateAuth", {"AuthFlow": "USER_PASSWORD_AUTH", "ClientId": client_id,
                                                "AuthParameters": {"USERNAME": user, "PASSWORD": pw}})
            return st == 200 and "AuthenticationResult" in b

        for _ in range(5):
            assert sign_in(), "warm-up sign-in failed"
        baseline = rss_kib(proc.pid)
        peak = [baseline]
        stop = threading.Event()

        def sampler():
            while not stop.is_set():
                peak[0] = max(peak[0], rss_kib(proc.pid))
                time.sleep(0.05)

        legit_results = []

        def legit_loop():
            while not stop.is_set():
                legit_results.append(sign_in())
                time.sleep(0.5)

        answers = collections.Counter()
        lock = threading.Lock()
        counter = iter(range(args.calls))

        def worker(n):
            idp = Idp(host, port, f"127.0.0.{2 + n % 8}")
            local = collections.Counter()
            while True:
                with lock:
                    i = next(counter, None)
                if i is None:
                    break
                kind, body = hostile_body(i, client_id)
                st, b = idp.call("InitiateAuth", body)
                local[f"{kind}: {st} {b.get('__type', b.get('ChallengeName', ''))}"] += 1
            with lock:
                answers.update(local)

        started = time.time()
        aux = [threading.Thread(target=sampler), threading.Thread(target=legit_loop)]
        for t in aux:
            t.start()
        workers = [threading.Thread(target=worker, args=(n,)) for n in range(args.threads)]
        for t in workers:
            t.start()
        for t in workers:
            t.join()
        elapsed = time.time() - started
        after_ok = [sign_in() for _ in range(3)]
        stop.set()
        for t in aux:
            t.join()
        end = rss_kib(proc.pid)
        # The sampler may miss the last allocations (the closing sign-ins run argon2): growth counts the end too.
        peak[0] = max(peak[0], end)
        result = {
            "calls": args.calls, "seconds": round(elapsed, 1), "binary": os.path.relpath(binary, ROOT),
            "rss_baseline_mib": round(baseline / 1024, 1), "rss_peak_mib": round(peak[0] / 1024, 1),
            "rss_end_mib": round(end / 1024, 1), "rss_growth_mib": round((peak[0] - baseline) / 1024, 1),
            "legit_sign_ins": len(legit_results) + len(after_ok),
            "legit_failures": legit_results.count(False) + after_ok.count(False),
            "answers": dict(sorted(answers.items())),
        }
        result["pass"] = result["rss_growth_mib"] < 64 and result["legit_failures"] == 0
        print(json.dumps(result, indent=2))
        with open(os.path.join(ROOT, "bench", "hostile_initiate_auth.json"), "w") as f:
            json.dump(result, f, indent=2)
            f.write("\n")
        return 0 if result["pass"] else 1
    finally:
        proc.terminate()
        try:
            proc.wait(timeout=20)
        except subprocess.TimeoutExpired:
            proc.kill()
        shutil.rmtree(tmp, ignore_errors=True)


if __name__ == "__main__":
    sys.exit(main())
