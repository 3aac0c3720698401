"""The `sqlops advise` benchmark (issue #9): a realistic Squid reporting database
(`workload`), the report queries its admin pages run (`queries`), the slow-log capture that
ships as the bundled example (`capture`), the index-set comparison (`run`) and the
10,000-class scale test (`scale`)."""
