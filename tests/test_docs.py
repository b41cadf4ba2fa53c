"""The configuration reference names every option crontabber declares."""

from pathlib import Path

from crontabber.config.options import CONFIG_JOB_KEYS, GLOBAL_OPTIONS, PER_JOB_KEYS

DOCS = Path(__file__).resolve().parents[1] / "docs"


def test_every_option_is_documented():
    reference = (DOCS / "configuration.md").read_text()
    assert [name for name, *_ in GLOBAL_OPTIONS if f"`{name}`" not in reference] == []
    assert [key for key in PER_JOB_KEYS if f"`{key}`" not in reference] == []


def test_every_config_job_key_is_documented():
    guide = (DOCS / "migrating-from-crontab.md").read_text()
    assert [key for key in CONFIG_JOB_KEYS if f"`{key}`" not in guide] == []
