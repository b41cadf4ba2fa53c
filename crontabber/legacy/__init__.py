"""Legacy inputs: shell commands and PostgreSQL procedures as jobs (``shell``, ``process``,
``procedure``), and whole crontabs turned into a crontabber.ini (``crontab_*``)."""
