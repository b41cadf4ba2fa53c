"""Example jobs that ship with crontabber; ``crontabber/examples/crontabber.ini`` runs them."""
