"""``crontabber list`` speaks the operator's zone: wall times with their offset; ``--utc`` and JSON in UTC."""

from __future__ import annotations

import datetime as dt
import io
import json
import zoneinfo

from crontabber.cli.main import main


def cli(*argv):
    out, err = io.StringIO(), io.StringIO()
    code = main(list(argv), out, err)
    return code, out.getvalue(), err.getvalue()


def test_list_shows_the_configured_zone_with_its_offset(harness):
    harness.configure("job:nightly|1d|03:00", sections={"job-nightly": {"command": "true"}},
                      timezone="Europe/Berlin")
    conf = f"--admin.conf={harness.ini_path}"
    assert cli(conf)[0] == 0  # a real tick on the real clock
    code, out, err = cli("list", conf)
    assert (code, err) == (0, "")
    row = next(line for line in out.splitlines() if line.startswith("nightly"))
    code, data, _ = cli("list", conf, "--format", "json")
    (job,) = json.loads(data)
    next_run = dt.datetime.fromisoformat(job["next_run"])
    assert job["next_run"].endswith("+00:00")  # JSON stays ISO 8601 with its offset
    berlin = next_run.astimezone(zoneinfo.ZoneInfo("Europe/Berlin"))
    assert berlin.strftime("%H:%M") == "03:00"
    offset = "+01:00" if berlin.utcoffset() == dt.timedelta(hours=1) else "+02:00"
    assert f"{berlin:%Y-%m-%d} 03:00 {offset} (in " in row
    assert out.rstrip().splitlines()[-1].startswith("1 jobs; times in Europe/Berlin; ledger: ")

    code, out, _ = cli("list", conf, "--utc")
    row = next(line for line in out.splitlines() if line.startswith("nightly"))
    assert f"{next_run:%Y-%m-%d %H:%M} +00:00 (in " in row
    assert "; times in UTC; " in out


def test_on_airflow_note_in_the_configured_zone(harness):
    harness.configure("job:moved|1h", sections={"job-moved": {"command": "true",
                                                               "on_airflow_since": "2026-01-01T00:00:00Z"}},
                      timezone="America/New_York")
    code, out, _ = cli("list", f"--admin.conf={harness.ini_path}")
    assert "runs on Airflow since 2025-12-31 19:00 -05:00" in out
