-- A two-site drwatch config: the same file runs in both sites, told apart by the environment
-- (DRWATCH_SITE=gold in Kamloops, DRWATCH_SITE=golddr in Calgary). Check it with
--   DRWATCH_SITE=golddr drwatch check-config examples/two-site.lua
-- (check-config also checks that every certificate, key and token file named here exists;
-- outside a pod, set KUBERNETES_SERVICE_HOST to stand for the pod's own Kubernetes API).
--
-- Each top-level table is a section. Unknown sections and keys are refused with file:line,
-- so a typo never silently disables something. Helpers must be `local`.

local site = env("DRWATCH_SITE", "gold")
local peer_site = site == "gold" and "golddr" or "gold"
local tls = "/etc/drwatch/tls/"

drwatch = {
  site = site,           -- "gold" or "golddr": where this instance runs
  interval = "15s",      -- default collection interval (Kong, FluentD, Tekton, ConfigMap)
  fast_interval = "5s",  -- GSLB, Patroni, peer: what switchover decisions read
}

-- The GSLB name as clients resolve it, asked of the system resolver and of each site's DNS,
-- and each site's /health page as the F5 monitor probes it (by IP, with the public Host).
gslb = {
  name = "ggw.api.gov.bc.ca.glb.gov.bc.ca",
  sites = { gold = { "142.34.229.4" }, golddr = { "142.34.64.4" } },
  resolvers = { "system", "10.10.0.53", "10.20.0.53" },
  probes = {
    -- By the public name, connecting to each site's IP: TLS checks the certificate against the
    -- name (the F5 itself probes https://<ip>/health without verifying; that works here too,
    -- with url = "https://<ip>/health", host = "...", insecure_skip_verify = true).
    { site = "gold",   url = "https://ggw.api.gov.bc.ca/health", connect_to = "142.34.229.4" },
    { site = "golddr", url = "https://ggw.api.gov.bc.ca/health", connect_to = "142.34.64.4" },
  },
}

-- The other site's drwatch over mutual TLS, and this site's view served to it.
peer = {
  targets = {
    { site = peer_site, url = "https://drwatch." .. peer_site .. ".example:8489",
      ca_file = tls .. "peer-ca.crt", cert_file = tls .. "peer.crt", key_file = tls .. "peer.key" },
  },
}
peer_listen = {
  address = ":8489",
  cert_file = tls .. "peer.crt", key_file = tls .. "peer.key",
  client_ca_file = tls .. "peer-ca.crt",
  allowed_clients = { "drwatch." .. peer_site .. ".example" },  -- SAN DNS/URI, else CN
}

-- Kong in hybrid mode: each site's control plane, and data planes on their Status API.
kong = {
  targets = {
    { site = "gold",   name = "kong-cp-gold",   url = "https://kong-cp.gold.example:8444",
      role = "control_plane", ca_file = tls .. "kong-ca.crt",
      bearer_token_file = "/etc/drwatch/kong-admin-token" },
    { site = "gold",   name = "kong-dp-gold-0", url = "http://kong-dp-0.gold.example:8100",
      role = "data_plane" },
    { site = "golddr", name = "kong-cp-golddr", url = "https://kong-cp.golddr.example:8444",
      role = "control_plane", ca_file = tls .. "kong-ca.crt",
      bearer_token_file = "/etc/drwatch/kong-admin-token" },
  },
}

-- Patroni: each site's cluster, all members (the first URL is asked for /cluster first).
patroni = {
  targets = {
    { site = "gold",   name = "gold",   url = "http://pg-gold-0.example:8008",
      member_urls = { "http://pg-gold-1.example:8008" } },
    { site = "golddr", name = "golddr", url = "http://pg-golddr-0.example:8008",
      member_urls = { "http://pg-golddr-1.example:8008" } },
  },
}

-- PostgreSQL through each site's leader service (role pg_monitor).
postgres = {
  targets = {
    { site = "gold",   host = "10.10.1.5", user = "drwatch", password_file = "/run/secrets/pg" },
    { site = "golddr", host = "10.20.1.5", user = "drwatch", password_file = "/run/secrets/pg" },
  },
}

-- Logging: each site's FluentD aggregators.
fluentd = {
  targets = {
    { site = "gold",   url = "http://fluentd-0.logging.gold.example:24220", name = "gold/fluentd-0" },
    { site = "golddr", url = "http://fluentd-0.logging.golddr.example:24220", name = "golddr/fluentd-0" },
  },
}

-- Deploy pipelines and the switchover-state ConfigMap, through each site's Kubernetes API.
-- In a pod, the local site needs no url, token or CA: the pod's own are used (the namespace
-- is named all the same, so that check-config can read this file outside the pod).
local function k8s(target_site)
  if target_site == site then return { site = target_site, namespace = "api-gateway" } end
  return { site = target_site, url = "https://api." .. target_site .. ".example:6443",
           namespace = "api-gateway", ca_file = tls .. target_site .. "-k8s-ca.crt",
           bearer_token_file = "/etc/drwatch/" .. target_site .. "-token" }
end
tekton = { targets = { k8s("gold"), k8s("golddr") } }
configmap = { env = "prod", targets = { k8s("gold"), k8s("golddr") } }

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

-- Alert rules (rules/README.md): the shipped ones cover every collector.
rules = {
  files = { "/usr/share/drwatch/rules/*.lua" },
  state_file = "/var/lib/drwatch/alerts.json",
}
