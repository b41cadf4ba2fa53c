# The deployment's own launcher: crontabber.app.CronTabberBase with the jobs list in a Python
# constant, run by configman's main. Python 2 and 3 at once; do not modernise.
import sys

from configman import Namespace

from crontabber.app import (
    CronTabberBase,
    classes_in_namespaces_converter_with_compression,
    get_extra_as_options,
    line_splitter,
    pipe_splitter,
)
from crontabber.generic_app import App, main

DEFAULT_JOBS = '''
  matview_deployment.matview_jobs.ProductVersionsCronApp|1d|03:00
  matview_deployment.matview_jobs.SignaturesCronApp|1d|03:00
  matview_deployment.matview_jobs.ADUCronApp|1d|03:00
  matview_deployment.matview_jobs.TCBSCronApp|1d|03:00
  matview_deployment.matview_jobs.DuplicatesCronApp|1h
'''


class MatViewCronTabber(CronTabberBase, App):
    required_config = CronTabberBase.required_config.safe_copy()
    required_config.crontabber.add_option(
        'jobs',
        default=DEFAULT_JOBS,
        from_string_converter=classes_in_namespaces_converter_with_compression(
            reference_namespace=Namespace(),
            list_splitter_fn=line_splitter,
            class_extractor=pipe_splitter,
            extra_extractor=get_extra_as_options,
        ),
    )


if __name__ == '__main__':
    sys.exit(main(MatViewCronTabber))
