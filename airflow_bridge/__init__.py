"""The Airflow bridge: crontabber jobs -> Airflow 3.3 DAG files, and the runtime those files call.

Airflow is imported only by the modules a DAG file or an Airflow check needs
(operators, sensors, timetables, plugin, check); the exporter runs without it.
"""
