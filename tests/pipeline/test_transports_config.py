"""One ``{channel: URL}`` map of transports: ``[factory.transports]``, then
``FACTORY_TRANSPORT_<CHANNEL>``; the older ``FACTORY_EMAIL_URL`` / ``FACTORY_SMS_URL`` /
``FACTORY_PEPPOL_URL`` (and ``email_url`` / ``sms_url``) still win for their channels; workers
get the map and the older names alike."""

from __future__ import annotations

from datetime import date
from pathlib import Path

import pytest

from factory.config import load_settings
from factory.errors import ConfigError
from factory.pipeline import WorkerConfig


def test_file_then_environment_then_the_older_names(tmp_path: Path) -> None:
    (tmp_path / "docfactory.toml").write_text(
        '[factory.transports]\nwebhook = "webhook:"\nsms = "outbox:var/file-sms"\n'
        'fax = "memory://"\n', encoding="utf-8")
    settings = load_settings(tmp_path, {
        "FACTORY_TRANSPORT_FAX": "memory://env", "FACTORY_SMS_URL": "https://:t@gw/v1/sms",
        "FACTORY_WEBHOOK_SECRET": "k3y"})
    assert settings.transport_url("webhook") == "webhook:"
    assert settings.transport_url("fax") == "memory://env"
    assert settings.transport_url("sms") == "https://:t@gw/v1/sms"  # the older name wins
    assert settings.transport_url("email") is None
    assert settings.webhook_secret == "k3y" and "k3y" not in repr(settings)
    explicit = settings.with_overrides(sms_url="outbox:cli")  # --sms-transport
    assert explicit.transport_url("sms") == "outbox:cli"


def test_a_transports_table_that_is_not_names_to_urls_is_refused(tmp_path: Path) -> None:
    (tmp_path / "docfactory.toml").write_text("[factory.transports]\nwebhook = 3\n",
                                              encoding="utf-8")
    with pytest.raises(ConfigError, match=r"\[factory.transports\]"):
        load_settings(tmp_path, {})


def test_worker_config_takes_the_map_or_the_older_names(tmp_path: Path) -> None:
    base = {"job_path": "job.toml", "settings": load_settings(tmp_path, {}), "run_id": "r",
            "period": "2026-11", "issued": date(2026, 12, 1), "store_url": "memory://",
            "index_url": "sqlite://", "template_version": "a" * 64}
    old = WorkerConfig(**base, email_url="smtp://mail", sms_url="outbox:sms")
    assert old.transports == {"email": "smtp://mail", "sms": "outbox:sms"}
    new = WorkerConfig(**base, transports={"email": "smtp://mail", "webhook": "webhook:"})
    assert (new.email_url, new.sms_url, new.transport_url("webhook")) == (
        "smtp://mail", None, "webhook:")
