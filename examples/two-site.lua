-- A two-site drwatch config: the same file runs in both sites, told apart by the environment
-- (DRWATCH_SITE=gold in Kamloops, DRWATCH_SITE=golddr in Calgary). Check it with
--   DRWATCH_SITE=golddr drwatch check-config examples/two-site.lua
--
-- Each top-level table is a section. Unknown sections and keys are refused with file:line,
-- so a typo never silently disables something. Helpers must be `local`.

local site = env("DRWATCH_SITE", "gold")

drwatch = {
  site = site,           -- "gold" or "golddr": where this instance runs
  interval = "15s",      -- default collection interval (Kong, FluentD, Tekton, ConfigMap)
  fast_interval = "5s",  -- GSLB, Patroni, peer: what switchover decisions read
}

-- Cron jobs (the daily DR drill, backup checks) drop *.prom files here; written atomically
-- (temp file + rename) so drwatch never reads half a file.
textfile = {
  directory = "/var/lib/drwatch/textfile",
  interval = "15s",
}

-- drwatch's own health (process, reloads, HTTP). On by default; shown for the interval.
self = {
  interval = "5s",
}

-- The site collectors (kong, fluentd, patroni, postgres, gslb, tekton, configmap, peer) get
-- their sections here as they land; see README.md.
