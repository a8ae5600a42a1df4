"""config.yaml loaded and validated once; every key is declared here with its help text.

config.example.yaml documents the same keys; a test keeps the two in step.
"""

from __future__ import annotations

import ipaddress
import os
import re
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import yaml

from .errors import UserError


@dataclass(frozen=True)
class Setting:
    key: str  # dotted path in the YAML file
    kind: type
    default: Any
    help: str
    env: str | None = None  # environment variable that overrides the file
    choices: tuple[str, ...] = ()


SETTINGS: tuple[Setting, ...] = (
    Setting("telegram.token", str, "", "Bot token from @BotFather. Prefer the environment variable.", env="TELEGRAM_BOT_TOKEN"),
    Setting("telegram.base_url", str, "", "Bot API base URL, for a local Bot API server; empty: Telegram's.", env="TELEGRAM_BASE_URL"),
    Setting("telegram.mode", str, "polling", "How updates arrive: polling or webhook.", choices=("polling", "webhook")),
    Setting("telegram.webhook.listen", str, "127.0.0.1", "Webhook mode: address the HTTP server listens on (a TLS proxy forwards to it)."),
    Setting("telegram.webhook.port", int, 8443, "Webhook mode: port the HTTP server listens on."),
    Setting("telegram.webhook.url", str, "", "Webhook mode: the public HTTPS URL Telegram posts updates to."),
    Setting("telegram.webhook.secret_token", str, "", "Webhook mode (required): secret Telegram sends in every request header.", env="TELEGRAM_WEBHOOK_SECRET"),
    Setting("storage.path", str, "data/bot.sqlite3", "SQLite file for feedback votes and unanswered questions."),
    Setting("storage.url", str, "", "PostgreSQL instead of the SQLite file, shared by several processes "
            "(postgresql://user:password@host:port/database); empty: SQLite.", env="STORAGE_URL"),
    Setting("storage.retention_days", int, 90, "Days unanswered questions and feedback votes are kept."),
    Setting("rate_limit.messages", int, 8, "Messages one user may send per window before the bot pauses for them."),
    Setting("rate_limit.window_seconds", int, 30, "Length of the rate-limit window, in seconds."),
    Setting("knowledge.dir", str, "", "Knowledge base folder; empty: knowledge/ beside the package."),
    Setting("knowledge.watch_seconds", float, 2.0, "How often `web` and `run` look for a changed knowledge folder "
            "and reload it, in seconds; 0: only on SIGHUP or a curator's publish."),
    Setting("web.host", str, "127.0.0.1", "Address the web page listens on (keep 127.0.0.1 behind a TLS proxy)."),
    Setting("web.port", int, 8080, "Port the web page listens on."),
    Setting("web.public_url", str, "", "The page's public address (https://…), for links in WeChat replies and share links; empty: none."),
    Setting("web.forwarded_allow_ips", str, "127.0.0.1", "Proxies whose X-Forwarded-For is read for the client address (addresses or networks, comma-separated)."),
    Setting("web.max_connections", int, 4096, "Connections held open at once; past it the longest-idle one is closed (never more than the open-file limit allows)."),
    Setting("web.header_timeout_seconds", int, 10, "Seconds a client has to send a request's headers, from connecting or from the last response."),
    Setting("web.body_timeout_seconds", int, 20, "Seconds a client has to send a request's body once its headers are in."),
    Setting("web.keep_alive_seconds", int, 5, "Seconds an idle keep-alive connection is kept open."),
    Setting("web.rate_limit.requests", int, 30, "Questions and checks one client address may send per window."),
    Setting("web.rate_limit.window_seconds", int, 60, "Length of the web rate-limit window, in seconds."),
    Setting("wechat.token", str, "", "WeChat Official Account: the server Token; empty: no /wechat endpoint.", env="WECHAT_TOKEN"),
    Setting("wechat.app_id", str, "", "WeChat Official Account: AppID, needed for the encrypted (安全) mode."),
    Setting("wechat.encoding_aes_key", str, "", "WeChat Official Account: EncodingAESKey of the encrypted mode; empty: plain mode.", env="WECHAT_ENCODING_AES_KEY"),
    # WeChat's picture host. WeChat's documentation of image messages gives PicUrl only as
    # "this is a url"; its documentation of uploaded pictures (the Official Account's uploadimg,
    # developers.weixin.qq.com/doc/service/api/material/permanent/api_uploadimage) returns them as
    # http://mmbiz.qpic.cn/…, and image messages' PicUrl are seen on that host. Hosts seen only in
    # older third-party examples (mmbiz.qlogo.cn, mmsns.qpic.cn) are left out: nothing of WeChat's
    # own confirms them; an operator who sees them in the log can add them.
    Setting("wechat.picture_hosts", str, "mmbiz.qpic.cn", "WeChat Official Account: the only hosts an image "
            "message's picture is downloaded from (host names, comma-separated); any other PicUrl is refused."),
    Setting("curate.token", str, "", "The curator page /curate: the token curators log in with; empty: no curator page.",
            env="CURATE_TOKEN"),
    Setting("curate.folds", int, 5, "The curator page: folds of the cross-validation shown before and after a change."),
    Setting("logging.level", str, "INFO", "Log level.", choices=("DEBUG", "INFO", "WARNING", "ERROR")),
)
_BY_KEY = {s.key: s for s in SETTINGS}


@dataclass(frozen=True)
class Config:
    values: dict[str, Any]
    source: str

    def __getitem__(self, key: str) -> Any:
        return self.values[key]


def _flatten(data: dict, prefix: str = "") -> dict[str, Any]:
    flat = {}
    for key, value in data.items():
        path = f"{prefix}{key}"
        if isinstance(value, dict) and any(s.key.startswith(path + ".") for s in SETTINGS):
            flat.update(_flatten(value, path + "."))
        else:
            flat[path] = value
    return flat


def load_config(path: str | Path | None, environ: dict[str, str] | None = None) -> Config:
    """Defaults, then the file (if any), then environment variables; raise UserError on a bad one."""
    environ = os.environ if environ is None else environ
    values = {s.key: s.default for s in SETTINGS}
    source = "defaults"
    if path is not None:
        path = Path(path)
        if path.exists():
            try:
                data = yaml.safe_load(path.read_text(encoding="utf-8")) or {}
            except yaml.MarkedYAMLError as exc:
                line = exc.problem_mark.line + 1 if exc.problem_mark else "?"
                raise UserError(f"{path}:{line}: YAML syntax error: {exc.problem}") from None
            except (yaml.YAMLError, UnicodeDecodeError) as exc:
                raise UserError(f"{path}: not a valid YAML file ({type(exc).__name__})") from None
            if not isinstance(data, dict):
                raise UserError(f"{path}: must be a mapping of settings (see config.example.yaml)")
            for key, value in _flatten(data).items():
                setting = _BY_KEY.get(key)
                if setting is None:
                    raise UserError(f"{path}: unknown key {key!r} (see config.example.yaml)")
                values[key] = _coerce(setting, value, str(path))
            source = str(path)
    for setting in SETTINGS:
        if setting.env and environ.get(setting.env):
            values[setting.key] = _coerce(setting, environ[setting.env], f"${setting.env}")
    host_names(values["wechat.picture_hosts"], f"{source}: wechat.picture_hosts")
    return Config(values, source)


_HOST_NAME = re.compile(r"(?=.{1,253}$)(?:[a-z0-9](?:[a-z0-9-]{0,61}[a-z0-9])?\.)+[a-z][a-z0-9-]{0,61}[a-z0-9]")


def host_names(setting: str, where: str) -> tuple[str, ...]:
    """The host names of a comma-separated setting, lower case; a UserError for an IP address or anything else."""
    hosts = tuple(h.strip().lower().rstrip(".") for h in setting.split(",") if h.strip())
    for host in hosts:
        try:
            ipaddress.ip_address(host.strip("[]"))
        except ValueError:
            pass
        else:
            raise UserError(f"{where}: {host!r} is an IP address: list host names only")
        if not _HOST_NAME.fullmatch(host):
            raise UserError(f"{where}: {host!r} is not a host name (such as mmbiz.qpic.cn: no scheme, port or path)")
    return hosts


def _coerce(setting: Setting, value: Any, where: str) -> Any:
    if value is None:
        return setting.default
    if setting.kind is int:
        if isinstance(value, bool) or not isinstance(value, (int, str)) or not str(value).strip().isdigit():
            raise UserError(f"{where}: {setting.key} must be a whole number, not {value!r}")
        value = int(value)
        if value <= 0:
            raise UserError(f"{where}: {setting.key} must be positive")
        return value
    if setting.kind is float:
        try:
            number = float(value) if not isinstance(value, bool) else -1.0
        except (TypeError, ValueError):
            number = -1.0
        if not number >= 0 or number == float("inf"):
            raise UserError(f"{where}: {setting.key} must be a number of 0 or more, not {value!r}")
        return number
    if not isinstance(value, (str, int, float)) or isinstance(value, bool):
        raise UserError(f"{where}: {setting.key} must be a string, not {value!r}")
    value = str(value).strip()
    if setting.choices and value not in setting.choices:
        raise UserError(f"{where}: {setting.key} must be one of {', '.join(setting.choices)}, not {value!r}")
    return value


def require_token(config: Config) -> str:
    token = config["telegram.token"]
    if not token:
        raise UserError(
            "no Telegram token: set TELEGRAM_BOT_TOKEN or telegram.token in the config "
            "(to try the bot without one: python -m bot chat)"
        )
    if ":" not in token or any(c.isspace() for c in token):
        raise UserError("the Telegram token looks malformed (expected '<digits>:<letters>' from @BotFather)")
    return token
