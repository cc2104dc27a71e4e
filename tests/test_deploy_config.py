"""The hosting files: netlify.toml (the dashboard, and the /api/* proxy written
by its build command) and Vercel's entry point (loaded as Vercel's Python runtime
loads it)."""

from __future__ import annotations

import json
import os
import re
import stat
import subprocess
import sys
import tomllib
from fnmatch import fnmatch
from pathlib import Path

import pytest

from .conftest import ENROLL, PREPARED_STATEMENTS
from .helpers import ROOT


@pytest.fixture(scope="module")
def netlify() -> dict:
    with open(ROOT / "netlify.toml", "rb") as f:
        return tomllib.load(f)


def test_netlify_builds_the_dashboard_from_frontend(netlify):
    build = netlify["build"]
    assert build["base"] == "frontend"
    assert build["publish"] == "dist"  # relative to base: frontend/dist, Vite's output
    assert "npm ci && npm run build" in build["command"]


def test_no_second_netlify_toml_replaces_this_one():
    """Netlify reads a netlify.toml in the base folder instead of the root one."""
    assert not (ROOT / "frontend" / "netlify.toml").exists()


def test_netlify_serves_the_dashboard_for_any_other_path(netlify):
    assert netlify["redirects"] == [{"from": "/*", "to": "/index.html", "status": 200}]


def test_netlify_sends_security_headers_and_caches_hashed_assets(netlify):
    headers = {rule["for"]: rule["values"] for rule in netlify["headers"]}
    everywhere = headers["/*"]
    assert everywhere["X-Content-Type-Options"] == "nosniff"
    assert everywhere["X-Frame-Options"] == "DENY"
    assert everywhere["Strict-Transport-Security"].startswith("max-age=")
    csp = dict(
        part.strip().split(" ", 1) for part in everywhere["Content-Security-Policy"].split(";")
    )
    assert csp["default-src"] == "'self'"
    assert csp["frame-ancestors"] == "'none'"
    # The socket goes to the relay's own origin, over https (polling) and wss.
    assert {"'self'", "https:", "wss:"} <= set(csp["connect-src"].split())
    assert headers["/assets/*"]["Cache-Control"] == "public, max-age=31536000, immutable"


def run_netlify_build(netlify: dict, tmp_path: Path, env: dict[str, str]):
    """Run the build command as Netlify does (bash, in the base folder), with an
    npm that only records its calls and leaves a built index.html, as Vite would."""
    site = tmp_path / "frontend"
    fake_bin = tmp_path / "bin"
    site.mkdir()
    fake_bin.mkdir()
    npm = fake_bin / "npm"
    npm.write_text(
        '#!/bin/sh\necho "$*" >> "$NPM_CALLS"\n'
        'if [ "$*" = "run build" ]; then\n'
        '  mkdir -p dist && echo "<!doctype html>" > dist/index.html\n'
        "fi\n"
    )
    npm.chmod(npm.stat().st_mode | stat.S_IEXEC)
    calls = tmp_path / "npm-calls"
    result = subprocess.run(
        ["bash", "-c", netlify["build"]["command"]],
        cwd=site,
        env={"PATH": f"{fake_bin}:{os.environ['PATH']}", "NPM_CALLS": str(calls), **env},
        capture_output=True,
        text=True,
        timeout=60,
    )
    npm_calls = calls.read_text().splitlines() if calls.exists() else []
    return result, npm_calls, site / "dist"


def test_the_netlify_build_proxies_api_to_the_configured_functions(netlify, tmp_path):
    result, npm_calls, dist = run_netlify_build(
        netlify,
        tmp_path,
        {
            "VIGIE_API_URL": "https://vigie-api.example.com/",
            "VITE_SOCKET_URL": "https://relay.example.com",
        },
    )
    assert result.returncode == 0, result.stderr
    assert npm_calls == ["ci", "run build"]
    rules = (dist / "_redirects").read_text().splitlines()
    assert rules == ["/api/*  https://vigie-api.example.com/api/:splat  200!"]


@pytest.mark.parametrize("missing", ["VIGIE_API_URL", "VITE_SOCKET_URL"])
def test_the_netlify_build_stops_early_without_its_settings(netlify, tmp_path, missing):
    env = {"VIGIE_API_URL": "https://api.example.com", "VITE_SOCKET_URL": "https://r.example.com"}
    del env[missing]
    result, npm_calls, dist = run_netlify_build(netlify, tmp_path, env)
    assert result.returncode != 0
    assert missing in result.stderr
    assert npm_calls == []
    assert not dist.exists()


def test_the_frontend_builds_where_netlify_publishes(netlify):
    package = ROOT / "frontend" / "package.json"
    if not package.exists():
        pytest.skip("no frontend/package.json in this checkout")
    scripts = json.loads(package.read_text())["scripts"]
    assert "build" in scripts
    assert "vite build" in scripts["build"]


def test_the_built_dashboard_fits_the_headers_netlify_sends(netlify):
    """What netlify.toml assumes of Vite's output: hashed names under assets/ (cached
    for a year) and no inline script (the Content-Security-Policy has script-src
    'self'). `make test` builds the dashboard before the tests run."""
    dist = ROOT / "frontend" / "dist"
    if not (dist / "index.html").exists():
        pytest.skip("the dashboard is not built (make dashboard)")
    page = (dist / "index.html").read_text()
    scripts = re.findall(r"<script\b([^>]*)>(.*?)</script>", page, flags=re.S)
    assert scripts, "the built page loads no script"
    for attributes, body in scripts:
        assert "src=" in attributes and not body.strip(), f"inline script: {body[:80]!r}"
    local = re.findall(r'(?:src|href)="(/[^"]*)"', page)
    assert any(ref.startswith("/assets/") for ref in local)
    for ref in local:
        assert (dist / ref.lstrip("/")).is_file(), ref
    for asset in (dist / "assets").iterdir():
        # Vite names each asset after its content: name-<hash>.ext
        assert re.fullmatch(r".+-[A-Za-z0-9_-]{8,}\.\w+", asset.name), asset.name


# What Vercel's Python runtime does with api/index.py: load the file by path as a
# module, look for `handler` (an HTTP handler class) or `app` with dir(), then
# give the app each request as a WSGI environ whose PATH_INFO is the full path.
VERCEL_LOADER = r"""
import io, json, sys
from importlib import util
spec = util.spec_from_file_location("vc__handler__python", "api/index.py")
module = util.module_from_spec(spec)
sys.modules["vc__handler__python"] = module
spec.loader.exec_module(module)
names = dir(module)

def request(method, path, body=b"", headers=()):
    path, _, query = path.partition("?")
    environ = {
        "CONTENT_LENGTH": str(len(body)), "CONTENT_TYPE": "application/json",
        "PATH_INFO": path, "QUERY_STRING": query, "REMOTE_ADDR": "203.0.113.7",
        "REQUEST_METHOD": method, "SERVER_NAME": "vigie.vercel.app", "SERVER_PORT": "443",
        "SERVER_PROTOCOL": "HTTP/1.1", "wsgi.errors": sys.stderr,
        "wsgi.input": io.BytesIO(body), "wsgi.multiprocess": False,
        "wsgi.multithread": False, "wsgi.run_once": False, "wsgi.url_scheme": "https",
        "wsgi.version": (1, 0),
    }
    for key, value in headers:
        environ["HTTP_" + key.upper().replace("-", "_")] = value
    status = []
    chunks = module.app(environ, lambda s, h, exc_info=None: status.append(s))
    return int(status[0].split()[0]), json.loads(b"".join(chunks))

body = json.dumps({"hostname": "vercel-01"}).encode()
registered = request("POST", "/api/servers/register", body,
                     [("Authorization", "Bearer " + sys.argv[1])])
listed = request("GET", "/api/servers?x=1")
print(json.dumps({
    "has_app": "app" in names, "has_handler": "handler" in names or "Handler" in names,
    "registered": registered, "listed": listed,
    "mode": module.app.extensions["vigie_db"].mode,
}))
"""


def test_vercel_loads_the_combined_app_from_api_index(database_url, db):
    env = {
        **os.environ,
        "VERCEL": "1",
        "DATABASE_URL": database_url,
        "VIGIE_ENROLL_TOKEN": ENROLL,
        "VIGIE_DB_PREPARED_STATEMENTS": PREPARED_STATEMENTS,
        # Vercel puts the project root first on sys.path, not an installed package.
        "PYTHONPATH": str(ROOT),
    }
    env.pop("VIGIE_DB_MODE", None)
    result = subprocess.run(
        [sys.executable, "-c", VERCEL_LOADER, ENROLL],
        cwd=ROOT, env=env, capture_output=True, text=True, timeout=60,
    )  # fmt: skip
    assert result.returncode == 0, result.stderr
    seen = json.loads(result.stdout)
    assert seen["has_app"] and not seen["has_handler"]
    status, body = seen["registered"]
    assert status == 201 and body["hostname"] == "vercel-01"
    status, servers = seen["listed"]
    assert status == 200 and [s["hostname"] for s in servers] == ["vercel-01"]
    assert seen["mode"] == "single"  # one connection per instance on Vercel


def test_vercel_routes_api_to_the_function_and_the_rest_to_the_dashboard():
    config = json.loads((ROOT / "vercel.json").read_text())
    assert config["rewrites"][0] == {"source": "/api/(.*)", "destination": "/api/index"}
    assert config["outputDirectory"] == "frontend/dist"
    [(entry, function)] = config["functions"].items()
    assert (ROOT / entry).is_file()
    # The function's bundle leaves out what it never imports, and keeps what it does.
    excluded = function["excludeFiles"].strip("{}").split("}/**")[0].split(",")
    for kept in ("functions/app.py", "api/index.py", "sql/100_schema.sql", "vigie/settings.py"):
        assert not any(fnmatch(kept, f"{folder}/*") for folder in excluded)
    assert any(fnmatch("frontend/node_modules/x.js", f"{folder}/*") for folder in excluded)
