"""Configuration: what the options are (``options``), where values come from (``sources``),
resolving them into ``Settings`` (``settings``) and jobs declared by the ini alone
(``jobs_from_config``)."""
