"""Reports: uptime per agent and village, the indicator table, in CSV, XLSX, HTML and
JSON; attestations of legacy clusters (see ``builder``, ``document``, ``formats``)."""
