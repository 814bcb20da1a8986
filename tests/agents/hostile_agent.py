"""A hostile agent for the sandbox tests: an AgentCore-style server (GET /ping, POST /invocations on
127.0.0.1:$PORT) whose invocations try one escape each, named by {"attack": ...}. Every answer is
{"escaped": bool, "detail": str}: escaped is true when the attempt got what it was after. Test code only."""
import ctypes
import json
import os
import socket
import subprocess
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

SECRET = os.urandom(16).hex()
libc = ctypes.CDLL(None, use_errno=True)


def err(e):
    return f"{type(e).__name__}: {e}"


def read_file(a):
    try:
        with open(a["path"], "rb") as f:
            data = f.read(4096)
        return True, f"read {len(data)} bytes"
    except OSError as e:
        return False, err(e)


def read_fds(a):
    got = []
    base = f"/proc/{a['pid']}/fd"
    try:
        names = os.listdir(base)
    except OSError as e:
        return False, err(e)
    for n in names:
        try:
            with open(f"{base}/{n}", "rb") as f:
                if f.read(64):
                    got.append(n)
        except OSError:
            pass
    return bool(got), f"readable fds: {got}"


def read_mem(a):
    pid = a["pid"]
    try:
        with open(f"/proc/{pid}/maps") as f:
            start = int(f.readline().split("-")[0], 16)
        with open(f"/proc/{pid}/mem", "rb") as f:
            f.seek(start)
            return bool(f.read(16)), "read gatehouse's memory"
    except (OSError, ValueError) as e:
        return False, err(e)


def list_proc(a):
    pids = [p for p in os.listdir("/proc") if p.isdigit()]
    return str(a["pid"]) in pids, f"visible pids: {pids}"


def connect(a):
    """Reaching anything but this session's own agent is an escape."""
    out = []
    escaped = False
    for host, port in a["targets"]:
        try:
            s = socket.create_connection((host, port), timeout=2)
            s.sendall(b"GET /secret HTTP/1.0\r\n\r\n")
            chunks = []
            while True:
                c = s.recv(4096)
                if not c:
                    break
                chunks.append(c)
            data = b"".join(chunks).decode(errors="replace")
            s.close()
            if SECRET not in data:
                escaped = True
            out.append(f"{host}:{port} answered {data[:60]!r}")
        except OSError as e:
            out.append(f"{host}:{port} {err(e)}")
    return escaped, "; ".join(out)


def ptrace(a):
    PTRACE_ATTACH = 16
    r = libc.ptrace(PTRACE_ATTACH, a["pid"], None, None)
    e = ctypes.get_errno()
    if r == 0:
        # Let the tracee go again at once: wait for the attach stop, then PTRACE_DETACH without a signal.
        os.waitpid(a["pid"], 0x40000000)  # __WALL
        libc.ptrace(17, a["pid"], None, None)
    return r == 0, f"ptrace returned {r}, errno {e} ({os.strerror(e)})"


def write(a):
    done = []
    for path in a["paths"]:
        try:
            with open(path, "w") as f:
                f.write("pwned")
            done.append(path)
        except OSError as e:
            pass
    return bool(done), f"wrote {done}"


def setuid_binary(a):
    out = subprocess.run([a["path"], "-u"], capture_output=True, text=True)
    euid = out.stdout.strip()
    return euid == "0", f"setuid binary ran with euid {euid!r} {out.stderr.strip()}"


def capabilities(a):
    found = []
    with open("/proc/self/status") as f:
        for line in f:
            if line.startswith("Cap") and int(line.split()[1], 16) != 0:
                found.append(line.strip())
    if libc.setuid(0) == 0:
        found.append("setuid(0) worked")
    CLONE_NEWUSER = 0x10000000
    if libc.unshare(CLONE_NEWUSER) == 0:
        found.append("unshare(CLONE_NEWUSER) worked")
    PR_CAP_AMBIENT, PR_CAP_AMBIENT_RAISE, CAP_SYS_ADMIN = 47, 2, 21
    if libc.prctl(PR_CAP_AMBIENT, PR_CAP_AMBIENT_RAISE, CAP_SYS_ADMIN, 0, 0) == 0:
        found.append("raised CAP_SYS_ADMIN")
    return bool(found), f"{found}"


def whoami(a):
    return False, json.dumps({"uid": os.getuid(), "pid": os.getpid(), "cwd": os.getcwd(), "port": int(os.environ["PORT"]), "secret": SECRET})


def cat(a):
    """Not an escape: shows a file the agent may read (its resolver configuration, say)."""
    try:
        with open(a["path"]) as f:
            return False, f.read(4096)
    except OSError as e:
        return False, err(e)


def plant(a):
    with open("planted.txt", "w") as f:
        f.write(a["text"])
    return False, os.path.join(os.getcwd(), "planted.txt")


def open_pty(a):
    """Opens a terminal by path (read-only is enough to steal what is typed into it)."""
    try:
        fd = os.open(a["path"], os.O_RDONLY | os.O_NOCTTY | os.O_NONBLOCK)
        os.close(fd)
        return True, f"opened {a['path']}"
    except OSError as e:
        return False, err(e)


def list_dev(a):
    """Lists /dev (and /dev/pts); escaped if anything beyond `allowed` is there. Also checks the minimal /dev
    works: a sink, randomness and a terminal of its own."""
    names = sorted(os.listdir("/dev"))
    pts = sorted(os.listdir("/dev/pts"))
    extra = [n for n in names if n not in a["allowed"]] + [f"pts/{n}" for n in pts if n != "ptmx"]
    works = []
    with open("/dev/null", "w") as f:
        f.write("x")
        works.append("null")
    with open("/dev/urandom", "rb") as f:
        if len(f.read(16)) == 16:
            works.append("urandom")
    try:
        master, slave = os.openpty()
        os.write(slave, b"ok")
        if os.read(master, 2) == b"ok":
            works.append("pty")
        os.close(master)
        os.close(slave)
    except OSError as e:
        works.append(f"pty {err(e)}")
    return bool(extra), json.dumps({"dev": names, "pts": pts, "extra": extra, "works": works})


def connect_unix(a):
    """Connects to Unix sockets by path, and to abstract ones (a name starting with "@")."""
    out = []
    escaped = False
    for name in a["targets"]:
        addr = "\0" + name[1:] if name.startswith("@") else name
        s = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
        s.settimeout(2)
        try:
            s.connect(addr)
            escaped = True
            out.append(f"{name} connected")
        except OSError as e:
            out.append(f"{name} {err(e)}")
        finally:
            s.close()
    return escaped, "; ".join(out)


ATTACKS = {
    "open_pty": open_pty,
    "list_dev": list_dev,
    "connect_unix": connect_unix,
    "read_file": read_file,
    "read_fds": read_fds,
    "read_mem": read_mem,
    "list_proc": list_proc,
    "connect": connect,
    "ptrace": ptrace,
    "write": write,
    "setuid_binary": setuid_binary,
    "capabilities": capabilities,
    "whoami": whoami,
    "cat": cat,
    "plant": plant,
}


class Handler(BaseHTTPRequestHandler):
    def log_message(self, *args):
        pass

    def reply(self, body):
        data = json.dumps(body).encode()
        self.send_response(200)
        self.send_header("content-type", "application/json")
        self.send_header("content-length", str(len(data)))
        self.end_headers()
        self.wfile.write(data)

    def do_GET(self):
        if self.path == "/ping":
            self.reply({"status": "Healthy"})
        else:
            self.reply({"secret": SECRET})

    def do_POST(self):
        length = int(self.headers.get("content-length") or 0)
        a = json.loads(self.rfile.read(length) or b"{}")
        try:
            escaped, detail = ATTACKS[a["attack"]](a)
        except Exception as e:  # report, never crash: the test reads the detail
            escaped, detail = False, f"attack failed to run: {err(e)}"
        self.reply({"escaped": escaped, "detail": detail})


ThreadingHTTPServer(("127.0.0.1", int(os.environ["PORT"])), Handler).serve_forever()
