"""Two runners started by cron in the same second on a fresh SQLite ledger: both open it, and
nothing runs twice (repeated on several fresh ledgers: the race for creating one is narrow)."""

import json
import os
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
J = "tests.jobs_for_tests."


def test_two_runners_at_once_run_each_job_once(tmp_path):
    for round_ in range(20):
        folder = tmp_path / f"round{round_}"
        folder.mkdir()
        calls = folder / "calls.jsonl"
        ini = folder / "crontabber.ini"
        ini.write_text("\n".join([
            "[crontabber]", "jobs = '''", f"  {J}FooJob|1h", f"  {J}BarJob|1h", f"  {J}BazJob|1h", "'''"]) + "\n")
        env = dict(os.environ, PYTHONPATH=str(ROOT), CRONTABBER_TEST_CALLS=str(calls))
        runners = [subprocess.Popen([sys.executable, "-m", "crontabber", f"--admin.conf={ini}"], env=env,
                                    cwd=ROOT, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
                   for _ in range(2)]
        for runner in runners:
            _, err = runner.communicate(timeout=60)
            assert runner.returncode == 0, err
        names = [json.loads(line)[0] for line in calls.read_text().splitlines()]
        assert sorted(names) == ["bar", "baz", "foo"]
        assert names.index("foo") < names.index("bar") < names.index("baz")
        assert (folder / "crontabber.sqlite").exists()  # the ledger sits beside the config
