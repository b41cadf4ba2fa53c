"""The jobs list in all its forms (design §4): separators, comments, commas in cron fields."""

import pytest

from crontabber.errors import ConfigError
from crontabber.jobs import parse_entry, split_entries


def entries(text):
    return [piece for _, piece in split_entries(text)]


def test_one_per_line_with_sloppy_whitespace_and_comments():
    text = """
        # the nightly jobs
        a.B|1d      # trailing comment
	c.D|2h|03:00

        #e.F|1h
        g.H  |  03:00
    """
    assert entries(text) == ["a.B|1d", "c.D|2h|03:00", "g.H  |  03:00"]


def test_semicolons_and_legacy_commas_separate_entries():
    assert entries("a.B|1d;c.D|2h, e.F|3m,job:x|1h") == ["a.B|1d", "c.D|2h", "e.F|3m", "job:x|1h"]


def test_commas_inside_cron_fields_do_not_split():
    assert entries("a.B|0 3 * * 1,3,5, c.D|1h") == ["a.B|0 3 * * 1,3,5", "c.D|1h"]
    assert entries("a.B|0,30 * * * mon-fri") == ["a.B|0,30 * * * mon-fri"]


def test_hash_inside_cron_is_not_a_comment():
    assert entries("a.B|0 9 * * 1#2") == ["a.B|0 9 * * 1#2"]


def test_line_numbers_are_kept():
    assert split_entries("a.B|1d\n\nc.D|1h;e.F|2h") == [(1, "a.B|1d"), (3, "c.D|1h"), (3, "e.F|2h")]


def test_parse_entry_forms():
    entry = parse_entry("pkg.mod.Job | 1d | 03:00", "here")
    assert entry.target == "pkg.mod.Job" and entry.schedule_text == "1d | 03:00"
    assert parse_entry("job:backup-db|@daily", "here").is_config_job


@pytest.mark.parametrize("text,message", [("pkg.mod.Job", "has no schedule"), ("not a class|1h", "neither"),
                                          ("Job|1h", "neither"), ("job:|1h", "neither")])
def test_malformed_entries(text, message):
    with pytest.raises(ConfigError, match=message):
        parse_entry(text, "crontabber.ini:3")


def test_weeks_and_every_form_load(harness):
    J = "tests.jobs_for_tests."
    settings = harness.configure(f"""
        {J}FooJob|1w
        {J}BarJob|03:00; {J}BazJob|2d|04:30, {J}ConfiguredJob|@hourly
        {J}SleepJob|0 3 * * 1,3,5
    """)
    by_name = {job.app_name: job for job in settings.jobs}
    assert by_name["foo"].schedule.seconds == 7 * 86400
    assert by_name["bar"].schedule.time == (3, 0)
    assert by_name["baz"].schedule.time == (4, 30) and by_name["baz"].schedule.seconds == 2 * 86400
    assert by_name["configured"].schedule.expression == "0 * * * *"
    assert by_name["sleeper"].schedule.expression == "0 3 * * 1,3,5"
    assert by_name["bar"].config.frequency == "03:00" or by_name["bar"].config.time == "03:00"
