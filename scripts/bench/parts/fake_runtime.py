"""A fake Lambda Runtime API (2018-06-01) on 127.0.0.1 for cold.py: starts the pixgate binary as a
Lambda would, hands it one API Gateway v2 `GET /healthz` event and times init and the answer."""
import json
import os
import shutil
import subprocess
import tempfile
import threading
import time
import uuid
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

from .common import WORK


def healthz_event():
    now = int(time.time() * 1000)
    return {
        "version": "2.0", "routeKey": "GET /healthz", "rawPath": "/healthz", "rawQueryString": "",
        "headers": {"host": "bench.execute-api.us-east-1.amazonaws.com", "user-agent": "bench"},
        "requestContext": {
            "accountId": "123456789012", "apiId": "bench", "domainName": "bench.execute-api.us-east-1.amazonaws.com",
            "domainPrefix": "bench", "http": {"method": "GET", "path": "/healthz", "protocol": "HTTP/1.1",
                                               "sourceIp": "127.0.0.1", "userAgent": "bench"},
            "requestId": str(uuid.uuid4()), "routeKey": "GET /healthz", "stage": "$default",
            "time": time.strftime("%d/%b/%Y:%H:%M:%S +0000", time.gmtime()), "timeEpoch": now},
        "isBase64Encoded": False,
    }


def read_body(rfile, headers):
    """The request body, by Content-Length or chunked."""
    n = int(headers.get("Content-Length") or 0)
    if n:
        return rfile.read(n)
    body = b""
    if "chunked" in (headers.get("Transfer-Encoding") or ""):
        while True:
            size = int(rfile.readline().split(b";")[0].strip() or b"0", 16)
            if size == 0:
                rfile.readline()
                break
            body += rfile.read(size)
            rfile.readline()
    return body


class FakeRuntime:
    """The Lambda Runtime API (2018-06-01) on 127.0.0.1: hands out one event per run, records when the
    first /next arrives and when the response is posted. Later /next calls wait until the run ends."""

    def __init__(self, bin_path):
        self.bin = bin_path
        self.lock = threading.Lock()
        self.reset()
        outer = self

        class Handler(BaseHTTPRequestHandler):
            protocol_version = "HTTP/1.1"

            def log_message(self, *args):
                pass

            def _reply(self, code, body=b"", headers=None):
                self.send_response(code)
                for k, v in (headers or {}).items():
                    self.send_header(k, v)
                self.send_header("Content-Length", str(len(body)))
                self.end_headers()
                self.wfile.write(body)

            def do_GET(self):
                if self.path.endswith("/runtime/invocation/next"):
                    t = time.perf_counter()
                    with outer.lock:
                        first = outer.t_next is None
                        if first:
                            outer.t_next = t
                        done = outer.done
                    if not first:
                        done.wait(10)
                        return self._reply(500, b'{"errorMessage":"bench run over"}')
                    body = json.dumps(outer.event).encode()
                    return self._reply(200, body, {
                        "Content-Type": "application/json", "Lambda-Runtime-Aws-Request-Id": outer.request_id,
                        "Lambda-Runtime-Deadline-Ms": str(int(time.time() * 1000) + 30000),
                        "Lambda-Runtime-Invoked-Function-Arn":
                            "arn:aws:lambda:us-east-1:123456789012:function:pixgate-bench",
                        "Lambda-Runtime-Trace-Id": "Root=1-00000000-000000000000000000000000;Sampled=0"})
                self._reply(404, b"{}")

            def do_POST(self):
                t = time.perf_counter()
                body = read_body(self.rfile, self.headers)
                with outer.lock:
                    if self.path.endswith("/response") and outer.t_response is None:
                        outer.t_response, outer.response = t, body
                    elif self.path.endswith("/error"):
                        outer.errors.append({"path": self.path, "body": body.decode("utf-8", "replace")[:500]})
                self._reply(202, b'{"status":"OK"}', {"Content-Type": "application/json"})
                if self.path.endswith("/response") or self.path.endswith("/error"):
                    outer.posted.set()

        class Quiet(ThreadingHTTPServer):
            daemon_threads = True

            def handle_error(self, request, client_address):
                pass  # the runtime is killed while its next /next waits: a broken pipe is expected

        self.httpd = Quiet(("127.0.0.1", 0), Handler)
        self.port = self.httpd.server_address[1]
        threading.Thread(target=self.httpd.serve_forever, daemon=True).start()

    def reset(self):
        with self.lock:
            if getattr(self, "done", None):
                self.done.set()
            self.t_next = self.t_response = self.response = None
            self.errors = []
            self.request_id = str(uuid.uuid4())
            self.event = healthz_event()
            self.done = threading.Event()
            self.posted = threading.Event()

    def one_run(self):
        self.reset()
        d = tempfile.mkdtemp(prefix="bench-lambda-", dir=os.path.join(WORK, "tmp"))
        env = {k: v for k, v in os.environ.items() if not k.startswith("PIXGATE_")}
        env.update({
            "AWS_LAMBDA_RUNTIME_API": f"127.0.0.1:{self.port}", "PIXGATE_STORAGE": "fs",
            "PIXGATE_DATA_DIR": os.path.join(d, "data"), "AWS_LAMBDA_FUNCTION_NAME": "pixgate-bench",
            "AWS_LAMBDA_FUNCTION_MEMORY_SIZE": "512", "AWS_LAMBDA_FUNCTION_VERSION": "$LATEST",
            "AWS_LAMBDA_LOG_GROUP_NAME": "/aws/lambda/pixgate-bench", "AWS_LAMBDA_LOG_STREAM_NAME": "bench",
            "AWS_REGION": "us-east-1", "AWS_DEFAULT_REGION": "us-east-1", "RUST_LOG": "warn",
        })
        logf = open(os.path.join(d, "lambda.log"), "wb")
        t0 = time.perf_counter()
        proc = subprocess.Popen([self.bin], cwd=d, env=env, stdout=logf, stderr=subprocess.STDOUT,
                                stdin=subprocess.DEVNULL)
        try:
            ok = self.posted.wait(15)
            with self.lock:
                t_next, t_resp, body, errors = self.t_next, self.t_response, self.response, list(self.errors)
        finally:
            self.done.set()
            proc.kill()
            proc.wait()
            logf.close()
            log_text = open(os.path.join(d, "lambda.log"), "rb").read().decode("utf-8", "replace")[-800:]
            shutil.rmtree(d, ignore_errors=True)
        status = None
        if body:
            try:
                status = json.loads(body).get("statusCode")
            except (ValueError, AttributeError):
                pass
        return {"next_ms": (t_next - t0) * 1000 if t_next else None,
                "response_ms": (t_resp - t0) * 1000 if t_resp else None,
                "status": status, "errors": errors, "ok": bool(ok and status == 200),
                "log_tail": None if (ok and status == 200) else log_text}

    def shutdown(self):
        self.httpd.shutdown()
