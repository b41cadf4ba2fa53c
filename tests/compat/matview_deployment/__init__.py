"""A deployment of crontabber 0.18.1 as production code was written: job modules, a launcher and
its ini. These files are Python 2 and 3 at once: the same files run on 0.18.1 (Python 2.7) and here."""
