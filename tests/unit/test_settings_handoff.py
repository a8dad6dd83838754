"""Settings reach the worker processes as an object, and only config.py reads OPENSTS_* variables."""

from __future__ import annotations

import ast
import pickle
from pathlib import Path

from opensts.config import Settings
from opensts.server.app import AppFactory, QueryFirst

SRC = Path(__file__).resolve().parents[2] / "src" / "opensts"


def test_the_worker_factory_travels_with_its_settings(tmp_path: Path) -> None:
    settings = Settings(data_dir=tmp_path, trusted_proxies=("10.0.0.0/8",), metrics_dir=str(tmp_path),
                        allowed_regions=("eu-west-1",))
    factory = pickle.loads(pickle.dumps(AppFactory(settings)))  # what uvicorn sends each worker
    assert factory.settings == settings
    app = factory()
    assert isinstance(app, QueryFirst) and app.proxies is not None


def test_test_and_worker_settings_come_from_the_environment_like_the_others() -> None:
    env = {"OPENSTS_METRICS_DIR": "/tmp/m", "OPENSTS_TEST_CLOCK_FILE": "/tmp/clock"}
    settings = Settings.from_env(env)
    assert (settings.metrics_dir, settings.test_clock_file) == ("/tmp/m", "/tmp/clock")
    assert Settings.from_env({}).metrics_dir is None


def test_only_config_reads_the_environment() -> None:
    readers = []
    for path in sorted(SRC.rglob("*.py")):
        for node in ast.walk(ast.parse(path.read_text())):
            if isinstance(node, ast.Attribute) and node.attr in ("environ", "getenv") and \
                    isinstance(node.value, ast.Name) and node.value.id == "os":
                readers.append(str(path.relative_to(SRC)))
    # federation/oidc.py reads SSL_CERT_FILE, OpenSSL's own variable (not an OpenSTS setting).
    assert sorted(set(readers)) == ["config.py", "federation/oidc.py"]
