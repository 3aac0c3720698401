"""Host, VM, MySQL and Apache tuning (`sqlops tune`).

Data flows one way (DESIGN.md §2): facts read under a root directory (:mod:`facts`) ─► checks
against a profile (:mod:`checks`, profiles from :mod:`profiles`) ─► findings ─► rendered files
(:mod:`render`). Nothing here imports click, and nothing reads outside the root it is given, so
tests replay fixture trees and never touch the machine they run on.
"""
