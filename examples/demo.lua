-- The built-in demo that `make run` starts: drwatch for the Gold site, exporting the sample
-- metrics in examples/textfile/ (a DR drill result and a Kong-like snapshot) plus its own.
-- A two-site lab with Kong, Patroni and the GSLB comes with the collectors that need it.
drwatch = {
  site = "gold",
  interval = "15s",      -- default collection interval
  fast_interval = "5s",  -- GSLB, Patroni, peer and drwatch's own metrics
}

textfile = {
  -- Relative paths are relative to the directory drwatch starts in (make run: the repo).
  directory = env("DRWATCH_TEXTFILE_DIR", "examples/textfile"),
  interval = "5s",
}

-- The shipped alert rules (rules/README.md); the demo has only drwatch's own metrics and the
-- sample files, so most stay quiet. See the alerts at /api/v1/alerts.
rules = {
  files = { "../rules/lua/*.lua" },
}
