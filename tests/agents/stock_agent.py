"""A stock AgentCore-style agent in plain Python (standard library only): GET /ping, POST /invocations on
127.0.0.1:$PORT, following the container contract. The tests run it as a `command` runtime's session process
to show an ordinary third-party agent works unchanged inside the sandbox."""
import json
import os
import tempfile
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

TURNS = {"n": 0}


class Handler(BaseHTTPRequestHandler):
    def log_message(self, *args):
        pass

    def reply(self, code, body):
        data = json.dumps(body).encode()
        self.send_response(code)
        self.send_header("content-type", "application/json")
        self.send_header("content-length", str(len(data)))
        self.end_headers()
        self.wfile.write(data)

    def do_GET(self):
        if self.path == "/ping":
            self.reply(200, {"status": "Healthy", "time_of_last_update": 0})
        else:
            self.reply(404, {"error": "not found"})

    def do_POST(self):
        length = int(self.headers.get("content-length") or 0)
        payload = json.loads(self.rfile.read(length) or b"{}")
        TURNS["n"] += 1
        # An ordinary agent writes scratch files: the working directory and the temporary directory work.
        with tempfile.NamedTemporaryFile(dir=os.environ.get("TMPDIR"), delete=True) as f:
            f.write(b"scratch")
        with open("notes.txt", "a") as f:
            f.write(json.dumps(payload) + "\n")
        self.reply(
            200,
            {
                "pid": os.getpid(),
                "turn": TURNS["n"],
                "user": self.headers.get("x-amzn-bedrock-agentcore-runtime-user-id"),
                "session": self.headers.get("x-amzn-bedrock-agentcore-runtime-session-id"),
                "echo": payload.get("prompt"),
                "cwd": os.getcwd(),
                "uid": os.getuid(),
            },
        )


ThreadingHTTPServer(("127.0.0.1", int(os.environ["PORT"])), Handler).serve_forever()
