"""`sqlops serve`: APScheduler jobs that call the same library functions as the CLI."""
