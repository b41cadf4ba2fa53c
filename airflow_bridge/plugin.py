"""The Airflow plugin (entry point ``airflow.plugins``): registers ``CrontabberTimetable`` and
serves the crontabber status page in Airflow's UI (``status_view``).

Airflow refuses to serialize a DAG whose timetable no plugin registers, so the
scheduler, the dag-processor and ``dag.test()`` all need this plugin installed
(``pip install crontabber[airflow]`` on every Airflow host).
"""

from __future__ import annotations

from airflow.plugins_manager import AirflowPlugin

from airflow_bridge import status_view
from airflow_bridge.timetables import CrontabberTimetable


class CrontabberPlugin(AirflowPlugin):
    """Makes crontabber's own timetable known to Airflow, and adds the status page to its UI."""

    name = "crontabber"
    timetables = [CrontabberTimetable]
    fastapi_apps = [status_view.FASTAPI_APP]
    external_views = [status_view.EXTERNAL_VIEW]
