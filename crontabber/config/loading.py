"""How a configuration file becomes ``Settings``: configman resolves the ini (read by
``ini_reader``, the config-declared jobs' sections apart), the environment and the command line;
``definitions`` turns the jobs list into JobDefinitions; a deployment's own connection class
and 0.18.1's keys choose the ledger (``ledger``). ``settings.load_settings`` calls this when the
settings cache cannot serve the tick, so none of it is imported on a cached idle tick."""

from __future__ import annotations

import os
import warnings
from collections.abc import Mapping
from pathlib import Path
from typing import TYPE_CHECKING, Any

from crontabber.config.definitions import (
    ConfigJobSections,
    check_unique,
    definition,
    inherited_settings,
    prepare,
    read_entries,
)
from crontabber.config.ini_reader import read_ini
from crontabber.config.job_sections import take_job_sections
from crontabber.config.ledger import DEFAULT_EXECUTOR, DEFAULT_FACTORY, from_ini
from crontabber.config.options import (
    GLOBAL_OPTIONS,
    PER_JOB_CONVERTERS,
    PER_JOB_KEYS,
    POSTGRES_KEYS,
    base_namespace,
    optional,
    parse_flag,
    positive_int,
)
from crontabber.config.reader import Reader
from crontabber.config.settings import Settings
from crontabber.config.sources import Sources
from crontabber.config.unknown import LEGACY_CLASS_KEYS, unknown_key_warnings
from crontabber.errors import ConfigError
from crontabber.jobs import order_jobs
from crontabber.log_setup import options_of
from crontabber.redaction import remember, secrets_in
from crontabber.schedule import parse_duration, parse_zone
from crontabber.sentry import configured_dsn

if TYPE_CHECKING:
    from configman import Namespace


def load(path: Path | None, overrides: Mapping[str, str] | None, environ: Mapping[str, str] | None) -> Settings:
    """Resolve the configuration at ``path`` (None: no file) into Settings; ConfigError when invalid."""
    ini, job_sections = read_ini(path) if path is not None else (None, {})
    job_sections.update(take_job_sections(ini, str(path)))  # read below without configman: 10,000 of them are cheap
    sources = Sources(path, os.environ if environ is None else environ, overrides or {}, ini, job_sections)
    _check_cut_at_hash(sources)
    namespace = base_namespace()
    config, unknown = _resolve(namespace, sources)
    reader = Reader(config, sources)
    tz = reader.get("crontabber.timezone", parse_zone)
    entries = read_entries(config.crontabber.jobs, sources)
    prepared = [prepare(entry, tz, sources) for entry in entries]
    check_unique(prepared)
    namespaced = [(item.section, item.job_class) for item in prepared if item.needs_namespace]
    classes = _ledger_classes(reader)
    if namespaced or classes:
        for section, job_class in namespaced:
            _add_job_namespace(namespace, section, job_class)
        for ledger_class, _ in classes.values():  # 0.18.1 expanded the class's own keys into [crontabber]
            for key in POSTGRES_KEYS:  # the class's own keys (if it has these) take their place
                namespace.crontabber.pop(key, None)
            _add_options(namespace.crontabber, ledger_class)
        referenced = _referenced([cls for _, cls in namespaced] + [cls for cls, _ in classes.values()])
        if referenced:  # a class option's class (ConnectionFactory) may reference the keys too
            referenced |= set(POSTGRES_KEYS)
        for name in referenced:
            # configman creates the referenced options itself and fails if they already exist.
            namespace.resource.postgresql.pop(name, None)
        config, unknown = _resolve(namespace, sources)
        reader = Reader(config, sources)
    defaults = {key: reader.get(f"crontabber.{key}", PER_JOB_CONVERTERS[key])
                for key in PER_JOB_KEYS if key != "on_airflow_since"}
    inherited = inherited_settings(reader, defaults)
    config_jobs = ConfigJobSections(job_sections, sources)
    jobs = [definition(item, config, reader, inherited, config_jobs) for item in prepared]
    unknown += config_jobs.unknown_keys({job.app_name for job in jobs if job.section.startswith("job-")})
    ledger = from_ini(reader.value, sources.of, sources.section_lines, path, classes, config.crontabber)
    settings = Settings(
        conf_path=path, config=config, jobs=order_jobs(jobs), timezone=tz,
        database_url=ledger.url, ledger=ledger,
        error_retry_time=reader.get("crontabber.error_retry_time", parse_duration),
        max_ongoing_age_hours=reader.get("crontabber.max_ongoing_age_hours", float),
        max_workers=reader.get("crontabber.max_workers", positive_int),
        unknown_options=sorted(set(unknown)),
        runner_silent_after=reader.get("crontabber.runner_silent_after", optional(parse_duration)),
        config_warnings=unknown_key_warnings(unknown, sources, [item.section for item in prepared]),
        sqlite_group_access=reader.get("crontabber.sqlite_group_access", parse_flag))
    settings.provenance = {key: reader.source(key) for key in reader.read}
    settings.not_acted_on = _not_acted_on(sources, used=[key for _, key in classes.values()])
    settings.logging_options = options_of(config)
    settings.sentry_dsn = configured_dsn(config)
    settings.secrets = _secrets(settings, reader, config_jobs)
    remember(*settings.secrets)  # hidden from every output from now on
    return settings


def _resolve(namespace: Namespace, sources: Sources) -> tuple[Any, list[str]]:
    from configman import ConfigurationManager

    try:
        with warnings.catch_warnings(record=True) as caught:
            warnings.simplefilter("always")
            manager = ConfigurationManager(
                [namespace], values_source_list=sources.configman_sources(), argv_source=[],
                use_admin_controls=True, use_auto_help=False, app_name="crontabber")
            config = manager.get_config()
    except ConfigError:
        raise
    except Exception as exc:
        where = f" in {sources.conf_path}" if sources.conf_path else ""
        raise ConfigError(f"configuration error{where}: {type(exc).__name__}: {exc}") from exc
    unknown: list[str] = []
    for warning in caught:
        text = str(warning.message)
        if text.startswith("Invalid options: "):
            unknown.extend(text[len("Invalid options: "):].split(", "))
    return config, unknown


def _secrets(settings: Settings, reader: Reader, sections: ConfigJobSections) -> list[str]:
    """Every password the configuration holds: 0.18.1's keys, a deployment class's usual one, and
    those inside the ledger's, Sentry's and procedure jobs' URLs."""
    found = [str(reader.maybe(key) or "") for key in
             ("resource.postgresql.password", "crontabber.password", "crontabber.database_password")]
    urls = [settings.database_url, str(reader.maybe("sentry.dsn") or ""), str(reader.maybe("secrets.sentry.dsn") or "")]
    urls += [str(value or "") for value in sections.values_of("database_url")]
    found += [secret for url in urls for secret in secrets_in(url)]
    return sorted({secret for secret in found if secret})


def _check_cut_at_hash(sources: Sources) -> None:
    """A URL, password or DSN the ini reader cut at a ``#`` (it starts a comment there), which
    the run would only report as a bad port or a failed login."""
    for key in sources.ini_lines:
        name = key.rsplit(".", 1)[-1]
        if name not in ("database_url", "password", "dsn"):
            continue
        raw, parsed = sources.raw_value(key), sources.ini_value(key)
        if raw is None or parsed is None or not parsed or not raw.startswith(parsed + "#"):
            continue
        fix = "put the whole value in quotes" if name == "password" else \
            "put the whole value in quotes or write # as %23"
        raise ConfigError(f"{sources.of(key)}: {key}: the ini reader cut the value at '#' (a '#' "
                          f"starts a comment): {fix}")


def _add_job_namespace(namespace: Namespace, section: str, job_class: type) -> None:
    crontabber_ns = namespace.crontabber
    if section in crontabber_ns:
        return
    crontabber_ns.namespace(section)
    job_ns = crontabber_ns[section]
    for key in PER_JOB_KEYS:
        job_ns.add_option(key, default="", doc=f"this job's {key} (empty: the [crontabber] value)")
    for key in LEGACY_CLASS_KEYS:  # written by 0.18.1's --admin.dump_conf; the jobs list decides
        job_ns.add_option(key, default="", doc="0.18.1 option, not used (the jobs list decides)")
    if hasattr(job_class, "get_required_config"):
        for key, value in job_class.get_required_config().items():
            if key not in job_ns:
                job_ns[key] = value


def _referenced(classes: list[type], namespace_name: str = "resource.postgresql") -> set[str]:
    """Names of the options in the classes' required_config that take values from ``namespace_name``."""
    from configman import Namespace

    names: set[str] = set()
    stack = [cls.get_required_config() for cls in classes if hasattr(cls, "get_required_config")]
    while stack:
        for key, value in stack.pop().items():
            if isinstance(value, Namespace):
                stack.append(value)
            elif getattr(value, "reference_value_from", None) == namespace_name:
                names.add(key)
    return names


def _add_options(namespace: Namespace, owner: type) -> None:
    """Declare ``owner``'s required_config keys in ``namespace`` (those not declared yet)."""
    if hasattr(owner, "get_required_config"):
        for key, value in owner.get_required_config().items():
            if key not in namespace:
                namespace[key] = value


def _ledger_classes(reader: Reader) -> dict[str, tuple[type, str]]:
    """A connection class of the deployment's own named by 0.18.1's database_class (and the
    transaction executor beside it), imported: role -> (class, the key that named it)."""
    from configman import class_converter

    found: dict[str, tuple[type, str]] = {}
    for role, default in (("database_class", DEFAULT_FACTORY), ("transaction_executor_class", DEFAULT_EXECUTOR)):
        key = next((key for key in (f"crontabber.{role}", f"resource.postgresql.{role}")
                    if reader.sources.of(key)), None)
        text = str(reader.value(key) or "").strip() if key else ""
        if not text or text == default:
            if role == "database_class":
                return {}  # 0.18.1's own factory: the ledger's URL comes from the keys
            continue
        try:
            found[role] = (class_converter(text), key)
        except Exception as exc:
            raise ConfigError(f"{reader.source(key)}: {key} = {text!r} cannot be imported "
                              f"({type(exc).__name__}: {exc}); check the class path and PYTHONPATH") from None
    return found


def _not_acted_on(sources: Sources, used: list[str]) -> list[str]:
    """Options that are set but that this version accepts without acting on them."""
    keys = [f"crontabber.{name}" for name, _, _, acted in GLOBAL_OPTIONS if not acted]
    keys += ["application", "resource.postgresql.database_class",
             "resource.postgresql.transaction_executor_class"]
    return [key for key in keys if sources.of(key) and key not in used]
