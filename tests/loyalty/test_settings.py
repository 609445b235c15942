"""Settings come from the environment; the defaults give the embedded set-up."""

from __future__ import annotations

import importlib
import os
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]
PROBE = (
    "from django.conf import settings; from django.db import connection; "
    "connection.ensure_connection(); "
    "db = settings.DATABASES['default']; "
    "print(connection.vendor, db['OPTIONS'].get('transaction_mode', '-'), "
    "settings.CELERY_TASK_ALWAYS_EAGER, settings.TIME_ZONE, settings.LOYALTY_CURRENCY, "
    "settings.USE_TZ)"
)


# Without DEBUG the app needs a secret key of its own; the probes run without DEBUG.
TEST_SECRET_KEY = "k3y-" + "x7Qp9-Lm2#Rv8@Tz5!Wc4$Yb6%Nd1^Hf3&" * 2


def manage(
    *args: str, env: dict[str, str], secret_key: str | None = TEST_SECRET_KEY
) -> subprocess.CompletedProcess[str]:
    clean = {
        k: v for k, v in os.environ.items() if not k.startswith(("DJANGO_", "DATABASE_", "CELERY_"))
    }
    clean.pop("LOYALTY_CURRENCY", None)
    if secret_key is not None:
        clean["DJANGO_SECRET_KEY"] = secret_key
    return subprocess.run(
        [sys.executable, "manage.py", *args],
        cwd=ROOT,
        env={**clean, **env},
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )


def test_default_database_is_sqlite_with_immediate_transactions(tmp_path):
    result = manage("shell", "-c", PROBE, env={})
    assert result.returncode == 0, result.stderr
    assert result.stdout.split()[-6:] == [
        "sqlite",
        "IMMEDIATE",
        "True",
        "Asia/Kuala_Lumpur",
        "MYR",
        "True",
    ]


@pytest.mark.postgres
def test_database_url_selects_postgresql():
    url = os.environ.get("DATABASE_URL", "postgres://postgres@127.0.0.1:5432/postgres")
    result = manage(
        "shell",
        "-c",
        PROBE,
        env={"DATABASE_URL": url, "CELERY_BROKER_URL": "redis://127.0.0.1:6379/0"},
    )
    assert result.returncode == 0, result.stderr
    assert result.stdout.split()[-6:] == [
        "postgresql",
        "-",
        "False",
        "Asia/Kuala_Lumpur",
        "MYR",
        "True",
    ]


PRODUCTION = {
    "DJANGO_DEBUG": "0",
    "DJANGO_ALLOWED_HOSTS": "loyalty.example.com",
    "DATABASE_URL": "sqlite:///" + str(ROOT / "var" / "deploy-check.sqlite3"),
    "CELERY_BROKER_URL": "redis://127.0.0.1:6379/0",
    "EMAIL_URL": "submission://mailer:secret@smtp.example.com:587",
}


def collected_static_root(path: Path) -> Path:
    """A STATIC_ROOT as collectstatic leaves it, as far as the checks look."""
    path.mkdir(parents=True, exist_ok=True)
    (path / "staticfiles.json").write_text('{"paths": {}, "version": "1.1", "hash": ""}')
    return path


def test_check_deploy_has_no_warnings_with_production_settings(tmp_path):
    env = {**PRODUCTION, "DJANGO_STATIC_ROOT": str(collected_static_root(tmp_path / "static"))}
    result = manage("check", "--deploy", "--fail-level", "WARNING", env=env)
    assert result.returncode == 0, result.stdout + result.stderr
    assert "System check identified no issues" in result.stdout


def test_email_url_configures_smtp():
    probe = (
        "from django.conf import settings as s; "
        "print(s.EMAIL_BACKEND, s.EMAIL_HOST, s.EMAIL_PORT, s.EMAIL_HOST_USER, s.EMAIL_USE_TLS)"
    )
    result = manage(
        "shell", "-c", probe, env={"EMAIL_URL": "submission://me%40x.my:pw@smtp.x.my:587"}
    )
    assert result.returncode == 0, result.stderr
    assert result.stdout.split()[-5:] == [
        "django.core.mail.backends.smtp.EmailBackend",
        "smtp.x.my",
        "587",
        "me@x.my",
        "True",
    ]


@pytest.mark.parametrize(
    ("env", "counts"),
    [
        ({}, ["0", "0", "0"]),
        ({"DJANGO_BEHIND_PROXY": "1"}, ["1", "1", "1"]),
        ({"DJANGO_BEHIND_PROXY": "1", "DJANGO_PROXY_COUNT": "2"}, ["2", "2", "2"]),
        ({"DJANGO_PROXY_COUNT": "2"}, ["0", "0", "0"]),
    ],
)
def test_the_proxy_count_reaches_allauth_drf_and_the_audit_only_behind_a_proxy(env, counts):
    probe = (
        "from django.conf import settings as s; "
        "print(s.LOYALTY_TRUSTED_PROXY_COUNT, s.ALLAUTH_TRUSTED_PROXY_COUNT, "
        "s.REST_FRAMEWORK['NUM_PROXIES'])"
    )
    result = manage("shell", "-c", probe, env=env)
    assert result.returncode == 0, result.stderr
    assert result.stdout.split()[-3:] == counts


@pytest.mark.parametrize(("value", "enabled"), [(None, "True"), ("1", "True"), ("0", "False")])
def test_allauth_rate_limits_are_on_unless_switched_off(value, enabled):
    probe = "from allauth.account import app_settings; print(bool(app_settings.RATE_LIMITS))"
    env = {} if value is None else {"ACCOUNT_RATE_LIMITS_ENABLED": value}
    result = manage("shell", "-c", probe, env=env)
    assert result.returncode == 0, result.stderr
    assert result.stdout.split()[-1] == enabled


@pytest.mark.parametrize(
    "key",
    [
        None,
        "",
        "change-me-to-50-random-characters",  # .env.example
        "insecure-dev-key-change-me-setia-0123456789-abcdefghijklmnopqrstuvwxyz",  # DEBUG's
    ],
)
def test_without_debug_the_app_refuses_to_start_without_a_secret_key_of_its_own(key):
    """No key, or one published with Setia: check --deploy (and so gunicorn's
    import of the settings) stops with a message naming DJANGO_SECRET_KEY."""
    env = {"DJANGO_DEBUG": "0"} if key is None else {"DJANGO_DEBUG": "0", "DJANGO_SECRET_KEY": key}
    result = manage("check", "--deploy", env=env, secret_key=None)
    assert result.returncode != 0
    assert "ImproperlyConfigured: DJANGO_SECRET_KEY must be set" in result.stderr


def test_with_debug_the_development_key_is_used_when_none_is_set():
    probe = "from django.conf import settings as s; print(s.SECRET_KEY == s.DEVELOPMENT_SECRET_KEY)"
    result = manage("shell", "-c", probe, env={"DJANGO_DEBUG": "1"}, secret_key=None)
    assert result.returncode == 0, result.stderr
    assert result.stdout.split()[-1] == "True"


def test_check_deploy_names_a_missing_static_manifest(tmp_path):
    """Without collectstatic every page would 500 on its first {% static %}:
    check --deploy says so and names the file."""
    env = {**PRODUCTION, "DJANGO_STATIC_ROOT": str(tmp_path / "empty")}
    result = manage("check", "--deploy", env=env)
    assert result.returncode != 0
    manifest = tmp_path / "empty" / "staticfiles.json"
    assert f"(loyalty.E001) The static files manifest {manifest} is missing" in result.stderr
    assert "collectstatic" in result.stderr


def test_migrate_alone_creates_the_database_cache_table(tmp_path):
    """A fresh database after `migrate` (and nothing else) has the cache table
    that the default cache (rate limits, API throttles) needs."""
    env = {"DATABASE_URL": "sqlite:///" + str(tmp_path / "fresh.sqlite3")}
    assert manage("migrate", "--no-input", "-v", "0", env=env).returncode == 0
    probe = (
        "from django.db import connection; from django.core.cache import cache; "
        "cache.set('k', 'v'); "
        "print('setia_cache' in connection.introspection.table_names(), cache.get('k'))"
    )
    result = manage("shell", "-c", probe, env=env)
    assert result.returncode == 0, result.stderr
    assert result.stdout.split()[-2:] == ["True", "v"]


@pytest.mark.django_db
def test_the_cache_table_migration_makes_the_table_only_for_the_database_cache(settings):
    """Run on a database without the table: nothing with Redis; with the
    database cache the table, and running it again changes nothing."""
    from types import SimpleNamespace

    from django.db import connection

    migration = importlib.import_module("loyalty.migrations.0003_database_cache_table")
    editor = SimpleNamespace(connection=connection)
    with connection.cursor() as cursor:
        cursor.execute("DROP TABLE setia_cache")
    database_cache = settings.CACHES
    settings.CACHES = {
        "default": {
            "BACKEND": "django.core.cache.backends.redis.RedisCache",
            "LOCATION": "redis://127.0.0.1:6379/1",
        }
    }
    migration.create_cache_table(None, editor)
    assert "setia_cache" not in connection.introspection.table_names()

    settings.CACHES = database_cache
    migration.create_cache_table(None, editor)
    migration.create_cache_table(None, editor)
    assert "setia_cache" in connection.introspection.table_names()


@pytest.mark.parametrize(("value", "preload"), [(None, "False"), ("0", "False"), ("1", "True")])
def test_hsts_preload_is_opt_in(value, preload):
    """Preloading is hard to undo: production sends HSTS without `preload`
    unless DJANGO_SECURE_HSTS_PRELOAD asks for it."""
    probe = (
        "from django.conf import settings as s; "
        "print(s.SECURE_HSTS_SECONDS > 0, s.SECURE_HSTS_PRELOAD)"
    )
    env = {"DJANGO_DEBUG": "0"}
    if value is not None:
        env["DJANGO_SECURE_HSTS_PRELOAD"] = value
    result = manage("shell", "-c", probe, env=env)
    assert result.returncode == 0, result.stderr
    assert result.stdout.split()[-2:] == ["True", preload]
