"""docs/deploy.md stays true: the Lambda package it describes is built with its own
commands and answers requests on its own, and every environment variable the
code reads is in its table, once."""

from __future__ import annotations

import json
import os
import re
import subprocess
import sys
import zipfile
from pathlib import Path

import pytest

from .conftest import ENROLL, PREPARED_STATEMENTS
from .helpers import BIN, ROOT

GUIDE = ROOT / "docs" / "deploy.md"


def shell_blocks(text: str) -> list[str]:
    return re.findall(r"```sh\n(.*?)```", text, flags=re.S)


# Run with only the standard library and the package on sys.path (-I -S), as in
# a Lambda runtime: a module missing from the package fails here.
LAMBDA_PROBE = r"""
import json, sys
sys.path.insert(0, sys.argv[1])
import functions.app as servers
event = {"version": "2.0", "rawPath": "/api/servers/register", "rawQueryString": "",
         "headers": {"authorization": "Bearer " + sys.argv[2],
                     "content-type": "application/json"},
         "requestContext": {"http": {"method": "POST", "protocol": "HTTP/1.1",
                                     "sourceIp": "203.0.113.7"}, "stage": "$default"},
         "body": json.dumps({"hostname": "lambda-zip"}), "isBase64Encoded": False}
answer = servers.servers_handler(event, None)
outside = sorted({m.split(".")[0] for m in sys.modules} - set(sys.stdlib_module_names)
                 - {"functions", "vigie", "__main__"})
print(json.dumps({"status": answer["statusCode"], "body": json.loads(answer["body"]),
                  "file": servers.__file__, "third_party": outside}))
"""


@pytest.mark.slow
def test_the_lambda_package_of_the_guide_serves_requests_on_its_own(tmp_path, database_url, db):
    [recipe] = [b for b in shell_blocks(GUIDE.read_text()) if "--target build/lambda" in b]
    version = f"{sys.version_info.major}.{sys.version_info.minor}"
    # The guide builds for Lambda's python3.12; build for this interpreter instead,
    # into a temporary folder.
    recipe = recipe.replace("--python-version 3.12", f"--python-version {version}")
    recipe = recipe.replace("build/", f"{tmp_path}/")
    build = subprocess.run(
        ["bash", "-euc", recipe],
        cwd=ROOT,
        env={**os.environ, "PATH": f"{BIN}:{os.environ['PATH']}"},
        capture_output=True, text=True, timeout=600,
    )  # fmt: skip
    assert build.returncode == 0, build.stderr[-3000:]
    unpacked = tmp_path / "unpacked"
    with zipfile.ZipFile(tmp_path / "vigie-functions.zip") as archive:
        archive.extractall(unpacked)

    env = {
        "PATH": os.environ["PATH"],
        "AWS_LAMBDA_FUNCTION_NAME": "vigie-servers",
        "DATABASE_URL": database_url,
        "VIGIE_ENROLL_TOKEN": ENROLL,
        "VIGIE_DB_PREPARED_STATEMENTS": PREPARED_STATEMENTS,
    }
    run = subprocess.run(
        [sys.executable, "-I", "-S", "-c", LAMBDA_PROBE, str(unpacked), ENROLL],
        cwd=tmp_path, env=env, capture_output=True, text=True, timeout=60,
    )  # fmt: skip
    assert run.returncode == 0, run.stderr[-3000:]
    seen = json.loads(run.stdout)
    assert seen["status"] == 201, seen["body"]
    assert Path(seen["file"]).is_relative_to(unpacked)
    assert "gevent" not in seen["third_party"] and "pgserver" not in seen["third_party"]
    assert db.execute("SELECT hostname FROM servers").fetchall() == [{"hostname": "lambda-zip"}]


# Where settings are read: environment look-ups and click options in Python, Vite
# variables in the dashboard, ${VAR} in netlify.toml's build command.
PYTHON_READS = re.compile(
    r"""(?:os\.environ(?:\.get)?\(\s*|os\.environ\[\s*|getenv\(\s*|\benv\.get\(\s*|envvar=\s*|
        env_int\(\s*env,\s*|env_float\(\s*env,\s*|env_duration\(\s*env,\s*|env_switch\(\s*env,\s*)
        ["']([A-Z][A-Z0-9_]+)["']""",
    re.X,
)
VITE_READS = re.compile(r"import\.meta\.env\.(VITE_[A-Z0-9_]+)")
SHELL_READS = re.compile(r"\$\{([A-Z][A-Z0-9_]+)")
# Read by the test suite only, not settings a deployer sets.
NOT_SETTINGS = {"VIGIE_TEST_POOLER"}
# The system's own conventions: named in the row of the setting they shape.
OS_CONVENTIONS = {"XDG_STATE_HOME"}


def settings_read_by_the_code() -> dict[str, str]:
    found: dict[str, str] = {}
    for folder in ("vigie", "functions", "realtime", "collector"):
        for path in (ROOT / folder).rglob("*.py"):
            for name in PYTHON_READS.findall(path.read_text()):
                found.setdefault(name, str(path.relative_to(ROOT)))
    frontend = ROOT / "frontend" / "src"
    if frontend.exists():
        for path in frontend.rglob("*"):
            if path.suffix in (".js", ".jsx", ".ts", ".tsx") and "node_modules" not in path.parts:
                for name in VITE_READS.findall(path.read_text()):
                    found.setdefault(name, str(path.relative_to(ROOT)))
    for name in SHELL_READS.findall((ROOT / "netlify.toml").read_text()):
        found.setdefault(name, "netlify.toml")
    return {k: v for k, v in found.items() if k not in NOT_SETTINGS}


def documented_variables() -> list[str]:
    table = GUIDE.read_text().split("## Environment variables", 1)[1]
    names = []
    for line in table.splitlines():
        if line.startswith("| `"):
            first_cell = line.split("|")[1]
            names += re.findall(r"`([A-Z][A-Z0-9_]+)`", first_cell)
    return names


def test_every_setting_the_code_reads_is_in_the_guide_once():
    documented = documented_variables()
    assert sorted(n for n in set(documented) if documented.count(n) > 1) == []
    guide = GUIDE.read_text()
    missing = {name: where for name, where in settings_read_by_the_code().items()
               if name not in documented
               and not (name in OS_CONVENTIONS and f"${name}" in guide)}  # fmt: skip
    assert missing == {}, (
        "add a row for each of these to the 'Environment variables' table of "
        f"docs/deploy.md (name, default, who reads it, meaning): {missing}"
    )


def test_the_scan_finds_the_settings_it_must():
    """The scan itself is checked, so the test above cannot pass by finding nothing."""
    read = settings_read_by_the_code()
    for name in ("DATABASE_URL", "VIGIE_DB_PREPARED_STATEMENTS", "VIGIE_HOME", "VIGIE_API_URL"):
        assert name in read
