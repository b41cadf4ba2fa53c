"""Jobs declared by configuration alone (``job:<app_name>|<schedule>``, design §7).

A ``[[job-<app_name>]]`` section with ``command`` makes a shell job, one with
``procedure`` a PostgreSQL procedure job. Each becomes a ``BaseCronApp`` subclass
so the runner, the ledger and the bridge treat it like any Python job. The section is
checked when the configuration loads; the class itself is built on first use, because
creating a class costs ~40 µs and an idle tick of 10,000 such jobs uses none of them.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from typing import Any

from crontabber.errors import ConfigError


def config_job_base(app_name: str, section: Mapping[str, Any], where: str) -> type:
    """Check ``[[job-<app_name>]]``; the base class of its job (shell, procedure, or backfill procedure)."""
    command = str(section.get("command") or "").strip()
    procedure = str(section.get("procedure") or "").strip()
    if bool(command) == bool(procedure):
        raise ConfigError(
            f"{where}: job {app_name!r} needs exactly one of command or procedure in its "
            f"[[job-{app_name}]] section under [crontabber]")
    if command:
        from crontabber.legacy.shell import ShellJob

        base = ShellJob
    else:
        from crontabber.legacy.procedure import ProcedureBackfillJob, ProcedureJob

        base = ProcedureBackfillJob if _truthy(section.get("pass_date")) else ProcedureJob
    base.check_section(section, where, app_name)  # a bad command, env or name is a config error (exit 2)
    return base


def class_builder(app_name: str, base: type, section: Mapping[str, Any]) -> Callable[[], type]:
    """What builds the job's own class (app name and description) when it is first needed."""
    description = str(section.get("description") or section.get("command") or section.get("procedure"))

    def build() -> type:
        prefix = "ShellJob" if base.crontabber_kind == "shell" else "ProcedureJob"
        return type(f"{prefix}_{app_name}", (base,), {"app_name": app_name, "app_description": description})

    return build


def _truthy(value: Any) -> bool:
    return str(value).strip().lower() in ("1", "true", "yes", "on")
