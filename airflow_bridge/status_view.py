"""The status page inside Airflow's web UI: a plugin FastAPI app and a navigation entry.

During a migration the page of ``crontabber status`` is served live at ``/crontabber/``
for every configuration the bridge's Variables name: each generated DAG carries the
tag ``crontabber-config:<variable>``, and the default Variable ``crontabber_config``
is always looked at. Jobs running natively on Airflow write no ledger, so their runs,
last success and errors are read from Airflow's own DAG runs; every job links to its
DAG. Read-only: the ledger is opened read-only and nothing is written anywhere.

A plugin's FastAPI app is not protected by Airflow by itself: every route here
depends on Airflow's own ``requires_access_dag("GET")``, which reads the caller's JWT
(the ``Authorization: Bearer`` header, or the UI's ``_token`` cookie) through the
configured auth manager, so an unauthenticated request gets 401 and a user who may
not read DAGs gets 403.
"""

from __future__ import annotations

import datetime as dt
import functools
import logging
import os
from collections.abc import Sequence
from pathlib import Path
from typing import Any

log = logging.getLogger("airflow_bridge")
URL_PREFIX = "/crontabber"
CONFIG_TAG = "crontabber-config:"
DEFAULT_VARIABLE = "crontabber_config"
EXTERNAL_VIEW = {"name": "crontabber", "href": f"{URL_PREFIX}/", "destination": "nav",
                 "url_route": "crontabber", "category": "browse"}
_SETTINGS: dict[str, tuple[float, Any]] = {}


class LazyApp:
    """The plugin's ASGI app, built on its first request: the scheduler, the dag-processor and
    the workers load the plugin too (for the timetable) and never serve it."""

    async def __call__(self, scope: Any, receive: Any, send: Any) -> None:
        await build_app()(scope, receive, send)


FASTAPI_APP = {"app": LazyApp(), "url_prefix": URL_PREFIX, "name": "crontabber status"}


@functools.cache
def build_app() -> Any:
    from airflow.api_fastapi.common.db.common import SessionDep
    from airflow.api_fastapi.core_api.security import requires_access_dag
    from fastapi import Depends, FastAPI
    from fastapi.responses import HTMLResponse

    app = FastAPI(title="crontabber status", docs_url=None, redoc_url=None, openapi_url=None,
                  dependencies=[Depends(requires_access_dag("GET"))])

    session_dependency = SessionDep.__metadata__[0]  # Airflow's own DB session (this module's
    # annotations are strings, which FastAPI cannot resolve for a function defined in here)

    @app.get("/", response_class=HTMLResponse)
    def page(session: Any = session_dependency) -> HTMLResponse:
        html = render_page(session, dt.datetime.now(dt.timezone.utc))
        return HTMLResponse(html, headers={"Cache-Control": "no-store"})

    return app


def config_variables(session: Any) -> list[str]:
    """The Variables named by the ``crontabber-config:<variable>`` tags of the DAGs, and the default."""
    from airflow.models.dag import DagTag
    from sqlalchemy import select

    tags = session.scalars(select(DagTag.name).where(DagTag.name.like(f"{CONFIG_TAG}%")).distinct())
    return sorted({DEFAULT_VARIABLE, *(tag[len(CONFIG_TAG):] for tag in tags if tag[len(CONFIG_TAG):])})


def config_paths(session: Any) -> list[tuple[str, str]]:
    """(variable, crontabber.ini path) of every configuration, as the bridge's tasks find them:
    ``$CRONTABBER_CONFIG`` first, else the Variable; one entry per distinct path."""
    from airflow.models import Variable

    from airflow_bridge.runtime import CONFIG_ENV

    found: dict[str, str] = {}
    for variable in config_variables(session):
        path = os.environ.get(CONFIG_ENV, "").strip() or str(Variable.get(variable, default_var=None) or "").strip()
        if path and path not in found.values():
            found[variable] = path
    return list(found.items())


def render_page(session: Any, now: dt.datetime) -> str:
    """The page over every configuration (a broken one is reported, the others still shown)."""
    from crontabber.views import status_page

    shots, names, problems = [], [], []
    for variable, path in config_paths(session):
        try:
            shots.append(snapshot_of(path, session, now))
            names.append(f"{path} (Variable {variable})")
        except Exception as exc:  # one line per broken configuration; the page still serves the rest
            problems.append(f"Variable {variable} = {path}: {' '.join(str(exc).split())[:300]}")
    if not shots and not problems:
        problems.append(f"No crontabber configuration: set the Airflow Variable {DEFAULT_VARIABLE} (or the "
                        "Variable a DAG's crontabber-config:<variable> tag names) to the path of crontabber.ini")
    return status_page.render(shots, title="crontabber", sections=names, problems=problems)


def _settings(path: str) -> Any:
    from crontabber.config.settings import load_settings

    mtime = os.stat(path).st_mtime
    cached = _SETTINGS.get(path)
    if cached is None or cached[0] != mtime:
        _SETTINGS[path] = (mtime, load_settings(Path(path), {}, os.environ))
    return _SETTINGS[path][1]


def snapshot_of(path: str, session: Any, now: dt.datetime) -> Any:
    """The snapshot of one configuration, its native jobs' state read from Airflow."""
    from crontabber.state import open_ledger
    from crontabber.views import snapshot

    settings = _settings(path)
    ledger = open_ledger(settings.database_url, read_only=True)
    try:
        shot = snapshot.read(settings, ledger, now)
    finally:
        ledger.close()
    add_airflow_state(shot.jobs, session)
    return shot


def add_airflow_state(views: Sequence[Any], session: Any) -> None:
    """Link every job to its DAG; where the DAG runs natively, take its runs from Airflow."""
    from airflow.models.dag import DagModel, DagTag
    from sqlalchemy import select

    from airflow_bridge.mapping import dag_id_for

    ids = {view.name: dag_id_for(view.name) for view in views}
    dags = {dag.dag_id: dag for dag in session.scalars(select(DagModel).where(DagModel.dag_id.in_(ids.values())))}
    tags: dict[str, set[str]] = {}
    for dag_id, name in session.execute(select(DagTag.dag_id, DagTag.name).where(DagTag.dag_id.in_(dags))):
        tags.setdefault(dag_id, set()).add(name)
    for view in views:
        dag = dags.get(ids[view.name])
        if dag is None:
            continue
        view.dag_url = f"../dags/{dag.dag_id}"
        if view.status != "on Airflow":
            continue
        native = "crontabber-native" in tags.get(dag.dag_id, set())
        view.runs_on = "Airflow native" if native else "Airflow bridge"
        view.airflow_note = "the DAG is paused in Airflow" if dag.is_paused else ""
        if native:
            _native_runs(view, dag, session)


def _native_runs(view: Any, dag: Any, session: Any) -> None:
    from airflow.models.dagrun import DagRun
    from sqlalchemy import func, select

    from crontabber.views.snapshot import RUNS_SHOWN, RunMark

    runs = list(session.scalars(select(DagRun).where(DagRun.dag_id == dag.dag_id)
                                .order_by(DagRun.run_after.desc()).limit(RUNS_SHOWN)))
    view.runs = [RunMark(run.run_after, str(run.get_state()), _seconds(run.start_date, run.end_date))
                 for run in runs]
    finished = [run for run in runs if str(run.get_state()) in ("success", "failed")]
    errors = 0
    for run in finished:
        if str(run.get_state()) != "failed":
            break
        errors += 1
    view.error_count_override = errors
    success = session.scalar(select(func.max(DagRun.end_date)).where(
        DagRun.dag_id == dag.dag_id, DagRun._state == "success"))
    view.last_success_override = success
    view.next_run = dag.next_dagrun_create_after
    latest = runs[0] if runs else None
    state = (f"latest DAG run {latest.get_state()} ({latest.run_after:%Y-%m-%d %H:%M} UTC)" if latest
             else "no DAG run yet")
    view.airflow_note = "; ".join(filter(None, [
        f"runs natively: not in the ledger; read from Airflow: {state}", view.airflow_note]))


def _seconds(start: dt.datetime | None, end: dt.datetime | None) -> float | None:
    return (end - start).total_seconds() if start and end else None
