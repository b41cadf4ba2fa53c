"""The ``crontabber`` command: argument parsing (``main``), one handler per subcommand
(``commands``) and the text each report prints (``listing``, ``nagios``, ``configtest``)."""
