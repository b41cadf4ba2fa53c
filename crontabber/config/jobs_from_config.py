"""Jobs declared by configuration alone (``job:<app_name>|<schedule>``, design §7).

A ``[[job-<app_name>]]`` section with ``command`` makes a shell job, one with
``procedure`` a PostgreSQL procedure job. Each becomes a ``BaseCronApp`` subclass
so the runner, the ledger and the bridge treat it like any Python job.
"""

from __future__ import annotations

from typing import Any

from crontabber.base import BaseCronApp
from crontabber.errors import ConfigError


class _Placeholder(BaseCronApp):
    """Stands for a config job until its section is read (it carries only the app name)."""


def config_job_class(app_name: str) -> type:
    """The placeholder class for ``job:<app_name>`` before its section is resolved."""
    return type(f"ConfigJob_{app_name}", (_Placeholder,), {"app_name": app_name})


def build_config_job_class(app_name: str, section: Any, where: str) -> type:
    """The job class for ``job:<app_name>``, from its resolved ``[[job-<app_name>]]`` section."""
    command = str(section.get("command") or "").strip()
    procedure = str(section.get("procedure") or "").strip()
    if bool(command) == bool(procedure):
        raise ConfigError(
            f"{where}: job {app_name!r} needs exactly one of command or procedure in its "
            f"[[job-{app_name}]] section under [crontabber]")
    if command:
        from crontabber.legacy.shell import ShellJob

        job_class = type(f"ShellJob_{app_name}", (ShellJob,), {
            "app_name": app_name, "app_description": str(section.get("description") or command)})
        job_class.check_section(section, where)  # a bad command or env is a config error (exit 2)
        return job_class
    from crontabber.legacy.procedure import ProcedureBackfillJob, ProcedureJob

    base = ProcedureBackfillJob if _truthy(section.get("pass_date")) else ProcedureJob
    job_class = type(f"ProcedureJob_{app_name}", (base,), {
        "app_name": app_name, "app_description": str(section.get("description") or procedure)})
    job_class.check_section(section, where)  # a bad name or database_url is a config error (exit 2)
    return job_class


def _truthy(value: Any) -> bool:
    return str(value).strip().lower() in ("1", "true", "yes", "on")
