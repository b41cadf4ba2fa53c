"""export-dags as code generation: deterministic, safe, mapped as design §8 says (no Airflow needed)."""

from __future__ import annotations

import ast
import io
import subprocess
import sys
import textwrap
from pathlib import Path

import pytest

from airflow_bridge.export import Options, export
from airflow_bridge.mapping import dag_id_for
from crontabber.cli.main import main
from crontabber.config.settings import load_settings
from tests.test_airflow_support import REPO, write_ini

HOSTILE = [
    "it's \"quoted\"", "'''triple''' and \"\"\"triple\"\"\"", "back\\slash\\n not a newline",
    "line one\nline two\r\n\tend", "{{ dag_run.conf['x'] }} {% raw %} {# c #}", "ünïcødé ✓ 日本語",
    "ends with script.sh", "ends with notes.md",
]


def app_name(value: str) -> str:
    """``value`` fit for an app name: line breaks and tabs are refused at load (they would split
    list rows and log lines), so only descriptions keep them."""
    return " ".join(value.split())


def cli(*argv: str) -> tuple[int, str, str]:
    out, err = io.StringIO(), io.StringIO()
    code = main(list(argv), out, err)
    return code, out.getvalue(), err.getvalue()


def string_constants(source: str) -> set[str]:
    return {node.value for node in ast.walk(ast.parse(source))
            if isinstance(node, ast.Constant) and isinstance(node.value, str)}


def hostile_module(folder: Path) -> str:
    """A job module whose app names and descriptions are hostile strings."""
    lines = ["from crontabber.base import BaseCronApp", ""]
    for index, value in enumerate(HOSTILE):
        lines += [f"class Hostile{index}(BaseCronApp):", f"    app_name = {app_name(value)!r} + ' #{index}'",
                  f"    app_description = {value!r}", "", "    def run(self):", "        pass", ""]
    (folder / "hostile_jobs_mod.py").write_text("\n".join(lines))
    return "\n".join(f"hostile_jobs_mod.Hostile{index}|1h" for index in range(len(HOSTILE)))


def test_output_is_deterministic_and_holds_no_path_or_time(tmp_path):
    ini = write_ini(tmp_path, """
        tests.jobs_for_tests.FooJob|1h
        job:script|1d|03:00
    """, sections="""
        [[job-script]]
        command = ./run.sh --flag
        cwd = /srv/scripts
    """)
    out = tmp_path / "dags"
    code, text, _ = cli("export-dags", f"--admin.conf={ini}", f"--output={out}")
    assert code == 0 and "2 written, 0 unchanged" in text
    first = {path.name: path.read_bytes() for path in out.iterdir()}
    code, text, _ = cli("export-dags", f"--admin.conf={ini}", f"--output={out}")
    assert code == 0 and "0 written, 2 unchanged" in text
    assert {path.name: path.read_bytes() for path in out.iterdir()} == first
    for name, data in first.items():
        source = data.decode()
        assert str(tmp_path) not in source and str(REPO) not in source and "ledger.sqlite" not in source
        assert "edit the job, not this file" in source and "# Inputs: sha256:" in source
        assert "2026" not in source  # no timestamp of the export
        compile(source, name, "exec")
    assert "# Source: python class tests.jobs_for_tests.FooJob" in first["foo.py"].decode()
    assert "# Schedule line: tests.jobs_for_tests.FooJob|1h (crontabber.ini:" in first["foo.py"].decode()


def test_inputs_hash_follows_the_config(tmp_path):
    ini = write_ini(tmp_path, "tests.jobs_for_tests.FooJob|1h")
    before = export(load_settings(ini, {}, {})).files["foo.py"]
    ini = write_ini(tmp_path, "tests.jobs_for_tests.FooJob|2h")
    after = export(load_settings(ini, {}, {})).files["foo.py"]
    hash_of = lambda text: next(line for line in text.splitlines() if line.startswith("# Inputs"))  # noqa: E731
    assert hash_of(before) != hash_of(after)


def test_stale_files_are_reported_then_pruned(tmp_path):
    out = tmp_path / "dags"
    ini = write_ini(tmp_path, "tests.jobs_for_tests.FooJob|1h\ntests.jobs_for_tests.BarJob|1h")
    assert cli("export-dags", f"--admin.conf={ini}", f"--output={out}")[0] == 0
    (out / "hand_written.py").write_text("# not generated\n")
    ini = write_ini(tmp_path, "tests.jobs_for_tests.FooJob|1h")
    code, _, err = cli("export-dags", f"--admin.conf={ini}", f"--output={out}")
    assert code == 0 and "stale: bar.py" in err and (out / "bar.py").exists()
    code, text, _ = cli("export-dags", f"--admin.conf={ini}", f"--output={out}", "--prune")
    assert code == 0 and "removed stale bar.py" in text
    assert sorted(path.name for path in out.iterdir()) == ["foo.py", "hand_written.py"]


def test_dag_ids_are_mapped_shown_and_collisions_refused(tmp_path):
    assert dag_id_for("weekly report/ü") == "weekly_report__"
    assert dag_id_for("ok.name-1_x") == "ok.name-1_x"
    ini = write_ini(tmp_path, "job:a/b|1h\njob:a_b|1h",
                    sections="[[job-a/b]]\ncommand = true\n[[job-a_b]]\ncommand = true\n")
    code, _, err = cli("export-dags", f"--admin.conf={ini}", f"--output={tmp_path / 'out'}")
    assert code == 2 and "'a/b' and 'a_b' both map to the Airflow dag_id 'a_b'" in err
    ini = write_ini(tmp_path, "job:a/b|1h", sections="[[job-a/b]]\ncommand = true\n")
    code, text, _ = cli("export-dags", f"--admin.conf={ini}", f"--output={tmp_path / 'out'}")
    assert code == 0 and "a/b (dag_id a_b): delta 1h" in text
    assert (tmp_path / "out" / "a_b.py").exists()


def test_hostile_python_names_and_descriptions_stay_data(tmp_path, monkeypatch):
    monkeypatch.syspath_prepend(str(tmp_path))
    ini = write_ini(tmp_path, hostile_module(tmp_path))
    settings = load_settings(ini, {}, {})
    for mode in ("bridge", "native"):
        result = export(settings, mode)
        assert not result.skipped and len(result.files) == len(HOSTILE)
        for index, value in enumerate(HOSTILE):
            name = f"{app_name(value)} #{index}"
            source = result.files[dag_id_for(name) + ".py"]
            constants = string_constants(source)
            assert value.splitlines()[0] in constants or value in constants  # description
            if mode == "bridge":
                assert name in constants  # app_name=..., a string constant
            doc = value + "\n" if value.endswith(".md") else value
            assert doc in constants  # doc_md, never read as a file name
            for line in source.splitlines():
                if line.startswith("#"):
                    assert "\r" not in line


def test_hostile_shell_commands_stay_literal_shell_words(tmp_path):
    import shlex

    command = "printf '%s\\n' \"{{ ds }}\" 'it''s' back\\\\slash ünï ends.sh"
    ini = write_ini(tmp_path, "job:hostile{{x}}|30 2 * * *", sections=f"""
        [[job-hostile{{{{x}}}}]]
        command = '''{command}'''
        env = GREETING={{{{ not jinja }}}}
        cwd = /srv/{{{{ dir }}}}/x
        description = '''say "{{{{ hi }}}}" \\ ünï'''
    """)
    settings = load_settings(ini, {}, {})
    source = export(settings, "native").files["hostile__x__.py"]
    tree = ast.parse(source)
    bash = next(node for node in ast.walk(tree) if isinstance(node, ast.Call)
                and getattr(node.func, "id", "") == "BashOperator")
    kwargs = {kw.arg: kw.value for kw in bash.keywords}
    assert kwargs["bash_command"].func.id == "literal"  # never Jinja
    text = kwargs["bash_command"].args[0].value
    assert text.endswith(".sh ")  # not read as a template file name
    assert shlex.split(text) == shlex.split(command)  # the same words reach the shell
    assert kwargs["cwd"].func.id == "literal" and kwargs["cwd"].args[0].value == "/srv/{{ dir }}/x"
    assert isinstance(kwargs["skip_on_exit_code"], ast.Constant) and kwargs["skip_on_exit_code"].value is None
    env = {key.value: value for key, value in zip(kwargs["env"].keys, kwargs["env"].values)}
    assert env["GREETING"].func.id == "literal" and env["GREETING"].args[0].value == "{{ not jinja }}"
    assert "say \"{{ hi }}\" \\ ünï" in string_constants(source)
    bridge = export(settings, "bridge").files["hostile__x__.py"]
    assert "hostile{{x}}" in string_constants(bridge)


def test_schedules_map_to_the_timetable_that_fires_when_cron_does(tmp_path):
    ini = write_ini(tmp_path, """
        job:every5|5m
        job:at0230|1d|02:30
        job:at0300|1d|03:00
        job:cron0230|30 2 * * *
        job:weekdays|30 8 * * mon-fri
        job:twodays|2d|03:00
    """, options="timezone = Europe/Berlin\n",
        sections="".join(f"[[job-{name}]]\ncommand = true\n"
                         for name in ("every5", "at0230", "at0300", "cron0230", "weekdays", "twodays")))
    result = export(load_settings(ini, {}, {}))
    kinds = {model.dag_id: (model.schedule.kind, model.schedule.cron) for model in result.models}
    assert kinds == {"every5": ("delta", None), "at0230": ("crontabber", None), "at0300": ("cron", "0 3 * * *"),
                     "cron0230": ("crontabber", None), "weekdays": ("cron", "30 8 * * mon-fri"),
                     "twodays": ("crontabber", None)}
    assert "CrontabberTimetable(" in result.files["cron0230.py"]
    assert 'CronTriggerTimetable("0 3 * * *", timezone="Europe/Berlin")' in result.files["at0300.py"]
    utc = export(load_settings(ini, {"crontabber.timezone": "UTC"}, {}))
    assert {model.schedule.kind for model in utc.models if model.dag_id == "cron0230"} == {"cron"}


def test_retries_timeout_backfill_and_cutover(tmp_path):
    ini = write_ini(tmp_path, """
        tests.jobs_for_tests.FooJob|1h
        tests.jobs_for_tests.BackfillJob|1d|03:00
    """, options="error_retry_time = 10m\n", sections="""
        [[class-FooJob]]
        max_retries = 3
        retry_backoff = 2
        timeout = 20m
        owner = ops
        tags = nightly, billing
        overdue_warning = 1h
        [[class-BackfillJob]]
        on_airflow_since = 2026-03-01T03:00:00Z
    """)
    settings = load_settings(ini, {}, {})
    for mode, grace in (("bridge", 60), ("native", 0)):
        models = {model.dag_id: model for model in export(settings, mode).models}
        foo = models["foo"]
        assert foo.default_args == {"owner": "ops", "retry_delay": 600.0, "retries": 3,
                                    "retry_exponential_backoff": 2.0, "execution_timeout": 1200.0 + grace}
        assert foo.tags == ("crontabber", f"crontabber-{mode}", "crontabber-config:crontabber_config",
                            "nightly", "billing")
        assert not foo.catchup and foo.start_date is None
        assert foo.paused_on_creation is (mode == "native")  # bridge runs decide at run time
        assert any("overdue_warning" in note for note in foo.notes)
        backfill = [model for model in models.values() if model.dag_id != "foo"][0]
        assert backfill.catchup and backfill.max_active_runs == 1 and not backfill.paused_on_creation
        assert backfill.default_args["depends_on_past"] is True
        assert backfill.default_args["owner"] == "crontabber"  # no owner key anywhere
        assert backfill.start_date.isoformat() == "2026-03-01T03:00:00+00:00"  # Airflow's catchup needs one
        assert backfill.default_args["retries"] == 144  # 10-minute delays in one day


def test_owner_comes_from_the_job_then_the_crontabber_section(tmp_path):
    ini = write_ini(tmp_path, "tests.jobs_for_tests.FooJob|1h\ntests.jobs_for_tests.BarJob|1h",
                    options="owner = platform\n", sections="[[class-FooJob]]\nowner = ops\n")
    owners = {model.dag_id: model.default_args["owner"] for model in export(load_settings(ini, {}, {})).models}
    assert owners == {"foo": "ops", "bar": "platform"}


def test_config_variable_and_dag_id_prefix(tmp_path):
    ini = write_ini(tmp_path, "tests.jobs_for_tests.FooJob|1h\njob:child|1h", sections="""
        [[job-child]]
        command = true
        depends_on = foo
    """)
    out = tmp_path / "dags"
    code, text, _ = cli("export-dags", f"--admin.conf={ini}", f"--output={out}", "--config-variable=team_b_ini",
                        "--dag-id-prefix=team_b.")
    assert code == 0 and "foo (dag_id team_b.foo)" in text
    assert sorted(path.name for path in out.iterdir()) == ["team_b.child.py", "team_b.foo.py"]
    child = (out / "team_b.child.py").read_text()
    assert '"crontabber-config:team_b_ini"' in child and 'config_variable="team_b_ini"' in child
    assert 'dag_id="team_b.child"' in child and 'task_id="child"' in child and 'task_id="wait_for_foo"' in child
    for mode in ("bridge", "native"):
        code, _, err = cli("export-dags", f"--admin.conf={ini}", f"--output={tmp_path / mode}", f"--mode={mode}",
                           "--config-variable=bad name")
        assert code == 2 and "--config-variable 'bad name'" in err
    native = export(load_settings(ini, {}, {}), options=Options(mode="native", dag_id_prefix="b_"))
    assert 'parent_dag_id="b_foo"' in native.files["b_child.py"]
    assert 'parent_task_id="foo"' in native.files["b_child.py"]


def test_native_mode_exports_every_graph_and_takes_the_connected_group_along(tmp_path):
    ini = write_ini(tmp_path, """
        job:floating|1h
        job:after-floating|1d
        job:timed|1d|03:00
        job:after-timed|1d|04:00
        job:alone|5m
    """, sections="""
        [[job-floating]]
        command = true
        [[job-after-floating]]
        command = true
        depends_on = floating
        [[job-timed]]
        command = true
        [[job-after-timed]]
        command = true
        depends_on = timed, floating
        [[job-alone]]
        command = true
    """)
    result = export(load_settings(ini, {}, {}), "native")
    assert not result.skipped and len(result.files) == 5
    child = result.files["after-timed.py"]
    assert child.count("ParentRunSensor(") == 2  # crontabber's rule: no aligned instants needed
    assert 'parent_dag_id="floating"' in child and 'schedule="1h"' in child
    assert "ExternalTaskSensor" not in child
    code, text, err = cli("export-dags", f"--admin.conf={ini}", f"--output={tmp_path / 'o'}", "--mode=native",
                          "--jobs=timed")
    assert code == 0, err
    assert "taking after-timed along" in text and "taking floating along" in text
    assert "taking after-floating along" in text and "alone" not in text
    assert sorted(path.name for path in (tmp_path / "o").iterdir()) == [
        "after-floating.py", "after-timed.py", "floating.py", "timed.py"]
    code, _, err = cli("export-dags", f"--admin.conf={ini}", f"--output={tmp_path / 'o'}", "--jobs=nope")
    assert code == 2 and "not configured" in err


def test_help_and_export_never_import_airflow(tmp_path):
    ini = write_ini(tmp_path, "tests.jobs_for_tests.FooJob|1h")
    script = textwrap.dedent(f"""
        import sys
        class Block:
            def find_spec(self, name, path=None, target=None):
                if name == "airflow" or name.startswith("airflow."):
                    raise ImportError("airflow is not installed here")
        sys.meta_path.insert(0, Block())
        from crontabber.cli.main import main
        try:
            main(["--help"])
        except SystemExit:
            pass
        code = main(["export-dags", "--admin.conf={ini}", "--output={tmp_path / 'out'}", "--mode=native"])
        assert code == 0, code
        assert not [name for name in sys.modules if name.split(".")[0] == "airflow"]
        print("ok")
    """)
    done = subprocess.run([sys.executable, "-c", script], capture_output=True, text=True, cwd=REPO)
    assert done.returncode == 0 and done.stdout.strip().endswith("ok"), done.stderr
    assert (tmp_path / "out" / "foo.py").exists()


def test_unknown_option_of_the_output_is_a_usage_error(tmp_path):
    ini = write_ini(tmp_path, "tests.jobs_for_tests.FooJob|1h")
    code, _, err = cli("export-dags", f"--admin.conf={ini}")
    assert code == 2 and "needs --output" in err


@pytest.mark.parametrize("bad", ["{{", "a\nb"])
def test_literal_round_trips(bad):
    from airflow_bridge.source import text_literal

    assert ast.literal_eval(text_literal(bad)) == bad


def bash_kwargs(source: str) -> dict:
    """The BashOperator's keyword arguments: literal(...) -> ("literal", text), a string -> ("template", text)."""
    bash = next(node for node in ast.walk(ast.parse(source)) if isinstance(node, ast.Call)
                and getattr(node.func, "id", "") == "BashOperator")

    def value(node):
        if isinstance(node, ast.Call) and node.func.id == "literal":
            return ("literal", node.args[0].value)
        if isinstance(node, ast.Dict):
            return {key.value: value(item) for key, item in zip(node.keys, node.values)}
        return ("template", node.value) if isinstance(node.value, str) else node.value

    return {kw.arg: value(kw.value) for kw in bash.keywords}


def test_native_shell_commands_read_like_hand_written_ones(tmp_path):
    ini = write_ini(tmp_path, """
        job:backup|1h
        job:report|1h
        job:piped|1h
        job:home|1h
        job:relative|1h
        job:plain|1h
    """, sections="""
        [[job-backup]]
        command = ./pg_backup.sh --keep 7
        cwd = /opt/legacy_scripts
        nice = 10
        ionice = idle
        [[job-report]]
        command = mail -s 'daily report' ops
        stdin = \'\'\'
        line one
        line two\'\'\'
        rc_file = ./legacy.rc
        [[job-piped]]
        command = \'\'\'pg_dump test | gzip > "$OUT"\'\'\'
        shell = true
        stdin = x
        [[job-home]]
        command = ./run
        cwd = ~/scripts/{{a}}
        [[job-relative]]
        command = bin/tool
        [[job-plain]]
        command = true
    """)
    files = export(load_settings(ini, {}, {}), "native").files
    backup = bash_kwargs(files["backup.py"])
    assert backup["bash_command"] == ("literal", "ionice -c 3 nice -n 10 ./pg_backup.sh --keep 7")
    assert backup["cwd"] == ("literal", "/opt/legacy_scripts")
    report = bash_kwargs(files["report.py"])
    assert report["bash_command"] == ("literal", ". ./legacy.rc && printf '%s' \"$CRONTABBER_STDIN\" | "
                                                 "mail -s 'daily report' ops")
    assert report["env"]["CRONTABBER_STDIN"] == ("literal", "line one\nline two")  # exactly cron's bytes
    assert report["cwd"] == ("template", "{{ var.value.crontabber_base }}")  # ./legacy.rc is relative
    piped = bash_kwargs(files["piped.py"])
    assert piped["bash_command"] == ("literal", "printf '%s' \"$CRONTABBER_STDIN\" | "
                                                "/bin/sh -c 'pg_dump test | gzip > \"$OUT\"'")
    home = bash_kwargs(files["home.py"])
    assert home["cwd"] == ("template", "{{ expanduser('~') }}/scripts/{{ '{' }}{{ '{' }}a}}")  # on the worker
    assert '"expanduser": os.path.expanduser' in files["home.py"] and "import os" in files["home.py"]
    assert bash_kwargs(files["relative.py"])["cwd"] == ("template", "{{ var.value.crontabber_base }}")
    assert bash_kwargs(files["plain.py"]) == {"task_id": ("template", "plain"), "bash_command": ("literal", "true"),
                                              "skip_on_exit_code": None}  # no env, no cwd


def test_values_mapped_to_airflow_variables_travel_through_env_and_cwd(tmp_path):
    ini = write_ini(tmp_path, "job:backup|1h\njob:cleanup|1h\njob:other|1h", sections="""
        [[job-backup]]
        command = ./pg_backup.sh
        cwd = /opt/legacy_scripts
        env = BACKUP_DIR=/var/backups/postgres, PGDATABASE=test
        [[job-cleanup]]
        command = ./cleanup_logs.sh 14
        cwd = /opt/legacy_scripts
        env = BACKUP_DIR=/var/backups/postgres, PGDATABASE=prod
        airflow_variables = PGDATABASE=cleanup_db
        [[job-other]]
        command = true
    """)
    out = tmp_path / "dags"
    code, _, err = cli("export-dags", f"--admin.conf={ini}", f"--output={out}", "--mode=native",
                       "--var=BACKUP_DIR", "--var", "cwd=legacy_dir", "--var=PGDATABASE", "--var=NOPE")
    assert code == 0, err
    assert "--var NOPE: no exported shell job" in err
    backup = bash_kwargs((out / "backup.py").read_text())
    assert backup["env"]["BACKUP_DIR"] == ("template", "{{ var.value['BACKUP_DIR'] }}")
    assert backup["env"]["PGDATABASE"] == ("template", "{{ var.value['PGDATABASE'] }}")
    assert backup["cwd"] == ("template", "{{ var.value['legacy_dir'] }}")
    assert backup["bash_command"] == ("literal", "./pg_backup.sh ")  # never in the command text
    cleanup = (out / "cleanup.py").read_text()
    assert bash_kwargs(cleanup)["env"]["PGDATABASE"] == ("template", "{{ var.value['cleanup_db'] }}")
    for text in ((out / "backup.py").read_text(), cleanup):
        assert "/opt/legacy_scripts" not in text and "/var/backups" not in text and "prod" not in text
    (tmp_path / "two").mkdir()
    two = write_ini(tmp_path / "two", "job:a|1h\njob:b|1h", sections="""
        [[job-a]]
        command = true
        env = PGDATABASE=test
        [[job-b]]
        command = true
        env = PGDATABASE=prod
    """)
    code, _, err = cli("export-dags", f"--admin.conf={two}", f"--output={tmp_path / 'x'}", "--mode=native",
                       "--var=PGDATABASE=db")
    assert code == 2 and "Airflow Variable 'db' would stand for different values (a: 'test'; b: 'prod')" in err
    code, _, err = cli("export-dags", f"--admin.conf={ini}", f"--output={tmp_path / 'y'}", "--var=BACKUP_DIR")
    assert code == 2 and "--var maps values of native shell jobs" in err
