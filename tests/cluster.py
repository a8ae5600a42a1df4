"""`web` processes and Debian's nginx in front of them, on 127.0.0.1, for the proxy test and bench/bench_proxy.py.

nginx runs the configuration README shows (its ```nginx block with `upstream bot_web`),
with plain HTTP on a free port instead of TLS and the web processes' ports put in.
"""

from __future__ import annotations

import os
import re
import shutil
import signal
import subprocess
import sys
import tempfile
import time
import urllib.request
from pathlib import Path

from .postgres import free_port

ROOT = Path(__file__).resolve().parent.parent
NGINX = Path("/usr/sbin/nginx")


class WebProcess:
    """`python -m bot web` on 127.0.0.1:`port`, its log in `folder`."""

    def __init__(self, folder: Path, config: Path, env: dict[str, str], port: int | None = None) -> None:
        self.port = port or free_port()
        self.folder = folder
        folder.mkdir(parents=True, exist_ok=True)
        self.log_path = folder / f"web-{self.port}.log"
        self._log = self.log_path.open("wb")
        self.process = subprocess.Popen(
            [sys.executable, "-m", "bot", "web", "--config", str(config), "--host", "127.0.0.1", "--port", str(self.port)],
            cwd=folder, env={**env, "PYTHONPATH": str(ROOT)}, stdout=self._log, stderr=self._log,
            stdin=subprocess.DEVNULL)

    def wait_healthy(self, timeout: float = 120.0) -> "WebProcess":
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if self.process.poll() is not None:
                raise AssertionError(f"the web process died: {self.log()[-2000:]}")
            try:
                with urllib.request.urlopen(f"http://127.0.0.1:{self.port}/healthz", timeout=2):
                    return self
            except OSError:
                time.sleep(0.2)
        raise AssertionError(f"the web process never answered /healthz: {self.log()[-2000:]}")

    def kill(self) -> None:
        self.process.kill()
        self.process.wait(10)

    def stop(self) -> None:
        if self.process.poll() is None:
            self.process.send_signal(signal.SIGTERM)
            try:
                self.process.wait(30)
            except subprocess.TimeoutExpired:
                self.process.kill()
                self.process.wait(10)
        self._log.close()

    def log(self) -> str:
        return self.log_path.read_text(encoding="utf-8", errors="replace")


def readme_nginx_config() -> str:
    """README's nginx configuration for two web processes (the block that defines `upstream bot_web`)."""
    text = (ROOT / "README.md").read_text(encoding="utf-8")
    for block in re.findall(r"```nginx\n(.*?)```", text, re.S):
        if "upstream bot_web" in block:
            return "\n".join(line[3:] if line.startswith("   ") else line for line in block.splitlines())
    raise AssertionError("README has no nginx block with `upstream bot_web`")


class Nginx:
    """nginx on 127.0.0.1:`port` in front of `web_ports`, in a temporary folder, in the foreground."""

    def __init__(self, web_ports: list[int], port: int | None = None) -> None:
        if not NGINX.exists():
            raise FileNotFoundError("nginx is not installed (apt-get install nginx-light)")
        self.port = port or free_port()
        self.folder = Path(tempfile.mkdtemp(prefix="bot-nginx-"))
        self.folder.chmod(0o755)
        as_root = os.geteuid() == 0
        for name in ("body", "proxy", "fastcgi", "uwsgi", "scgi"):
            (self.folder / name).mkdir()
            if as_root:  # the workers run as www-data and buffer bodies there
                shutil.chown(self.folder / name, "www-data")
        site = readme_nginx_config().replace("listen 443 ssl;", f"listen 127.0.0.1:{self.port};")
        upstreams = "\n".join(f"    server 127.0.0.1:{port} max_fails=1 fail_timeout=5s;" for port in web_ports)
        site = re.sub(r"(upstream bot_web \{\n(?:\s*#.*\n)*)(?:\s*server 127\.0\.0\.1:\d+.*\n)+", rf"\g<1>{upstreams}\n",
                      site)
        assert all(f":{port} " in site for port in web_ports), site
        f = self.folder
        (f / "nginx.conf").write_text(
            ("user www-data;\n" if as_root else "") +
            f"worker_processes 1;\ndaemon off;\npid {f}/nginx.pid;\nerror_log {f}/error.log warn;\n"
            "events { worker_connections 4096; }\n"
            f"http {{\n    access_log off;\n    client_body_temp_path {f}/body;\n    proxy_temp_path {f}/proxy;\n"
            f"    fastcgi_temp_path {f}/fastcgi;\n    uwsgi_temp_path {f}/uwsgi;\n    scgi_temp_path {f}/scgi;\n"
            f"{site}\n}}\n", encoding="utf-8")
        self.process = subprocess.Popen([str(NGINX), "-p", str(f), "-c", str(f / "nginx.conf")],
                                        stdin=subprocess.DEVNULL, stdout=subprocess.DEVNULL,
                                        stderr=(f / "stderr.log").open("wb"), start_new_session=True)
        self.url = f"http://127.0.0.1:{self.port}"
        deadline = time.monotonic() + 20
        while True:
            if self.process.poll() is not None:
                raise AssertionError(f"nginx exited: {self.errors()}")
            try:
                with urllib.request.urlopen(self.url + "/healthz", timeout=2):
                    break
            except OSError:
                if time.monotonic() > deadline:
                    raise AssertionError(f"nginx never answered: {self.errors()}") from None
                time.sleep(0.1)

    def errors(self) -> str:
        return "".join((self.folder / name).read_text(errors="replace")
                       for name in ("stderr.log", "error.log") if (self.folder / name).exists())

    def stop(self) -> None:
        if self.process.poll() is None:
            os.killpg(self.process.pid, signal.SIGQUIT)  # graceful: workers finish their requests
            try:
                self.process.wait(15)
            except subprocess.TimeoutExpired:
                os.killpg(self.process.pid, signal.SIGKILL)
                self.process.wait(10)
        shutil.rmtree(self.folder, ignore_errors=True)
