"""The fast ini reader gives exactly what configobj (configman's reader) gives, and config-declared
jobs keep their environment and command-line overrides, provenance and unknown-key reports."""

from __future__ import annotations

import os
import random

import pytest
from configman.value_sources.for_configobj import ConfigObjWithIncludes

from crontabber.config.ini_reader import read_ini
from crontabber.config.job_sections import take_job_sections
from crontabber.config.settings import load_settings
from crontabber.errors import ConfigError

VALUES = [
    "true", "/usr/local/bin/backup.sh --full", "echo it's here", 'say "hi" now', "a;b|c && d",
    "date +%Y%m%d", "'quoted'", '"double"', "'a, b'", "''", '""', "x # a comment", "'q' # comment",
    "'q'#tight", "a, b", "a,", ",", "'''triple'''", "'''a 'b' \"c\"'''", '"""tri "q" ple"""',
    "'''t''' # c", "%(x)s", "'%(x)s'", "é ü", "tab\there", "", "  padded  ", "a#b", "'unbalanced",
    "= odd", "'a' 'b'",
]
KEYS = ["command", "cwd", "env", "description", "timeout", "weird.key-1"]
HEADERS = ["[[job-{n}]]", "  [[ job-{n} ]]", "[[job-{n}]] # comment", "[ [job-{n}] ]", "[['job-{n}']]"]


def configobj_view(path) -> dict:
    """{section: {key: value}} of ``[crontabber]``'s job sections and jobs, as configobj reads them."""
    ini = ConfigObjWithIncludes(str(path))
    crontabber = ini.get("crontabber", {})
    jobs = {name[4:]: dict(section.items()) for name, section in crontabber.items()
            if isinstance(section, dict) and name.startswith("job-")}
    return {"jobs": crontabber.get("jobs"), "sections": jobs, "other": ini.get("other")}


def fast_view(path) -> dict:
    """The same, as load_settings reads it: the fast reader, then configobj's sections taken out."""
    ini, sections = read_ini(path)
    slow = take_job_sections(ini, str(path))
    return {"jobs": ini.get("crontabber", {}).get("jobs"), "sections": {**sections, **slow}, "other": ini.get("other")}


def random_ini(rng: random.Random, sections: int) -> str:
    lines = ["# generated", "[crontabber]", "timezone = UTC", "jobs = '''",
             *[f"    job:j{n}|1d   # entry {n}" for n in range(sections)], "'''"]
    for n in range(sections):
        lines.append(rng.choice(HEADERS).format(n=n))
        for key in rng.sample(KEYS, rng.randint(0, 3)):
            lines.append(f"    {key} = {rng.choice(VALUES)}")
        if rng.random() < 0.1:
            lines.append("    # a comment line")
    lines += ["[other]", "x = 1"]
    return "\n".join(lines) + "\n"


@pytest.mark.parametrize("case", range(40))
def test_the_fast_reader_reads_what_configobj_reads(tmp_path, case):
    seed = int(os.environ.get("CRONTABBER_INI_SEED", "0")) or random.randrange(1 << 30)
    print(f"seed {seed} (CRONTABBER_INI_SEED={seed} replays it)")
    path = tmp_path / "crontabber.ini"
    path.write_text(random_ini(random.Random(seed), 12))
    try:
        expected = configobj_view(path)
    except Exception as exc:  # configobj refuses the file: so must we, in one line naming the place
        with pytest.raises(ConfigError) as refused:
            fast_view(path)
        assert str(path) in str(refused.value) and "\n" not in str(refused.value), exc
        return
    assert fast_view(path) == expected


def test_a_multi_line_jobs_value_with_odd_lines_reads_as_configobj_reads_it(tmp_path):
    path = tmp_path / "crontabber.ini"
    path.write_text("[crontabber]\njobs = '''first|1d\n\n  \tjob:a|1h # not a comment\n  [[job-b]]\n"
                    "last|2h''' # trailing comment\n[[job-a]]\ncommand = true\n")
    assert fast_view(path) == configobj_view(path)


def test_includes_go_to_configmans_reader(tmp_path):
    (tmp_path / "jobs.ini").write_text("    [[job-a]]\n    command = echo included\n")
    path = tmp_path / "crontabber.ini"
    path.write_text(f"[crontabber]\njobs = job:a|1h\n+include {tmp_path / 'jobs.ini'}\n")
    assert fast_view(path)["sections"] == {"a": {"command": "echo included"}}


def test_a_syntax_error_is_one_line_with_the_file_and_line(tmp_path):
    path = tmp_path / "crontabber.ini"
    path.write_text("[crontabber]\njobs = job:a|1h\n    [[job-a]\n    command = true\n")
    with pytest.raises(ConfigError) as refused:
        read_ini(path)
    assert str(refused.value).startswith(f"{path}:3: ")
    assert "\n" not in str(refused.value)


def write(tmp_path, body: str) -> str:
    path = tmp_path / "crontabber.ini"
    path.write_text(f"[crontabber]\ndatabase_url = sqlite:///{tmp_path}/l.sqlite\n" + body)
    return str(path)


def test_environment_and_command_line_override_a_config_jobs_keys_and_say_so(tmp_path):
    ini = write(tmp_path, "jobs = job:backup|1d\n    [[job-backup]]\n    command = backup.sh\n    timeout = 1h\n")
    environ = {"crontabber__job-backup__timeout": "2h", "crontabber__job-backup__cwd": "/srv"}
    settings = load_settings(ini, {"crontabber.job-backup.command": "backup.sh --full"}, environ)
    [job] = settings.jobs
    assert job.settings.timeout == 7200
    assert job.provenance["timeout"] == "environment crontabber__job-backup__timeout"
    assert job.config["command"] == "backup.sh --full" and job.config["cwd"] == "/srv"
    assert job.job_class.app_name == "backup" and job.kind == "shell"
    without = load_settings(ini, {}, {})
    assert without.jobs[0].provenance["timeout"] == f"{ini}:6"


def test_a_bad_value_from_the_environment_names_the_variable(tmp_path):
    ini = write(tmp_path, "jobs = job:backup|1d\n    [[job-backup]]\n    command = backup.sh\n")
    with pytest.raises(ConfigError) as refused:
        load_settings(ini, {}, {"crontabber__job-backup__timeout": "soon"})
    assert str(refused.value).startswith("environment crontabber__job-backup__timeout: "
                                         "crontabber.job-backup.timeout = 'soon'")


def test_misspelled_keys_and_sections_of_no_job_are_reported_as_unknown(tmp_path):
    ini = write(tmp_path, "jobs = job:backup|1d\n    [[job-backup]]\n    comand = x\n    command = y\n"
                          "    [[job-bakup]]\n    command = z\n")
    settings = load_settings(ini, {}, {})
    assert "crontabber.job-backup.comand" in settings.unknown_options
    assert "crontabber.job-bakup.command" in settings.unknown_options
    assert not any(option.endswith(".command") and "job-backup." in option for option in settings.unknown_options)


def test_a_backfill_procedure_job_is_known_as_one_before_its_class_is_built(tmp_path):
    ini = write(tmp_path, "jobs = job:refresh|1d\n    [[job-refresh]]\n    procedure = refresh_views\n"
                          "    pass_date = yes\n    database_url = postgresql://u@h/db\n")
    [job] = load_settings(ini, {}, {}).jobs
    assert job.kind == "procedure" and job.is_backfill
    assert job.job_class.__name__ == "ProcedureJob_refresh"
