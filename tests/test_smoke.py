from crontabber.outcomes import Outcome


def test_basic_run_and_rerun_is_noop(harness, calls):
    harness.configure("tests.jobs_for_tests.FooJob|1h")
    assert harness.tick()["foo"].outcome is Outcome.SUCCEEDED
    assert harness.tick()["foo"].outcome is Outcome.NOT_DUE
    assert calls == [("foo",)]
    harness.clock.advance(hours=1)
    assert harness.tick()["foo"].outcome is Outcome.SUCCEEDED
    assert calls == [("foo",), ("foo",)]
