-- drwatch in a pod (deploy/kubernetes): one file for both sites, told apart by the environment
-- the Deployment takes from the `drwatch-site` ConfigMap each overlay writes (overlays/gold,
-- overlays/golddr). Paths are where the Deployment mounts things:
--   /etc/drwatch/drwatch.lua           this file (ConfigMap drwatch-config)
--   /etc/drwatch/token/token           the API's bearer token (Secret drwatch-web-token)
--   /etc/drwatch/peer/                 tls.crt, tls.key, ca.crt of the peer link (Secret drwatch-peer-tls)
--   /etc/drwatch/credentials/          pg-password, patroni-password, tekton-hmac (Secret drwatch-credentials)
--   /var/lib/drwatch/                  the PersistentVolumeClaim: journal, sequence numbers, alerts
--   /usr/share/drwatch/rules/          the shipped rules, in the image
-- Check it as tests/integration/deploy_kustomize.t does: render the overlay, take this file
-- and the site's variables out, and run `drwatch check-config` on it.

local site = env("DRWATCH_SITE", "gold")
local peer_site = site == "gold" and "golddr" or "gold"
local tools = env("DRWATCH_TOOLS_NAMESPACE", "abc-tools")
local solution = env("DRWATCH_SOLUTION_NAMESPACE", "abc-prod")
local peer_tls = "/etc/drwatch/peer/"
local creds = "/etc/drwatch/credentials/"
-- Each site's hosts, as this cluster reaches them (the other site's through its routes).
local host = {
  gold = { patroni = "patroni-gold.example.org", pg = "10.10.1.5", kong = "kong-cp.gold.example.org",
           fluentd = "fluentd.logging.gold.example.org" },
  golddr = { patroni = "patroni-golddr.example.org", pg = "10.20.1.5",
             kong = "kong-cp.golddr.example.org", fluentd = "fluentd.logging.golddr.example.org" },
}

drwatch = {
  site = site,
  interval = "15s",
  fast_interval = "5s",
}

-- The GSLB name as clients resolve it, from the cluster's resolver and each site's DNS, and
-- each site's /health as the F5 monitor probes it.
gslb = {
  name = "ggw.api.gov.bc.ca.glb.gov.bc.ca",
  sites = { gold = { "142.34.229.4" }, golddr = { "142.34.64.4" } },
  resolvers = { "system", "10.10.0.53", "10.20.0.53" },
  probes = {
    { site = "gold",   url = "https://ggw.api.gov.bc.ca/health", connect_to = "142.34.229.4" },
    { site = "golddr", url = "https://ggw.api.gov.bc.ca/health", connect_to = "142.34.64.4" },
  },
}

-- The other site's drwatch over mutual TLS (its peer Service, port 8489), and this site's
-- view served to it on the same port here.
peer = {
  targets = {
    { site = peer_site, url = env("DRWATCH_PEER_URL", "https://drwatch-peer.golddr.example.org:8489"),
      ca_file = peer_tls .. "ca.crt", cert_file = peer_tls .. "tls.crt",
      key_file = peer_tls .. "tls.key" },
  },
}
peer_listen = {
  address = ":8489",
  cert_file = peer_tls .. "tls.crt", key_file = peer_tls .. "tls.key",
  client_ca_file = peer_tls .. "ca.crt",
  allowed_clients = { env("DRWATCH_PEER_IDENTITY", "drwatch.golddr.example.org") },
}

-- Both sites' Kong control planes (Admin API status and data planes).
kong = {
  targets = {
    { site = "gold",   name = "kong-cp-gold",   url = "https://" .. host.gold.kong .. ":8444",
      role = "control_plane", bearer_token_file = creds .. "kong-admin-token" },
    { site = "golddr", name = "kong-cp-golddr", url = "https://" .. host.golddr.kong .. ":8444",
      role = "control_plane", bearer_token_file = creds .. "kong-admin-token" },
  },
}

-- Both sites' Patroni clusters and their leaders' PostgreSQL (role pg_monitor).
patroni = {
  targets = {
    { site = "gold",   name = "gold",   url = "http://" .. host.gold.patroni .. ":8008" },
    { site = "golddr", name = "golddr", url = "http://" .. host.golddr.patroni .. ":8008" },
  },
}
postgres = {
  targets = {
    { site = "gold",   host = host.gold.pg,   user = "drwatch", password_file = creds .. "pg-password" },
    { site = "golddr", host = host.golddr.pg, user = "drwatch", password_file = creds .. "pg-password" },
  },
}

-- Both sites' FluentD aggregators.
fluentd = {
  targets = {
    { site = "gold",   name = "gold/fluentd",   url = "http://" .. host.gold.fluentd .. ":24220" },
    { site = "golddr", name = "golddr/fluentd", url = "http://" .. host.golddr.fluentd .. ":24220" },
  },
}

-- This site's deploy pipelines and switchover-state ConfigMap, through the pod's own API server
-- and service-account token (no url: in a pod, its own). These are the collectors' reads in
-- deploy/kubernetes/collectors-rbac.txt. The other site's DR state comes over the peer link
-- (drwatch_peer_info), so no credentials for the other cluster are needed here.
tekton = { targets = { { site = site, namespace = tools } } }
configmap = { env = "prod", targets = { { site = site, namespace = tools } } }

rules = {
  files = { "/usr/share/drwatch/rules/*.lua" },
  -- Each pod's own: components/two-replicas moves it off the shared volume.
  state_file = env("DRWATCH_RULES_STATE_FILE", "/var/lib/drwatch/alerts.json"),
}

-- One replica: off (it always acts). components/two-replicas turns it on: the pods elect the
-- holder of the Lease `drwatch` in the tools namespace, through their own API server.
leader_election = {
  enabled = env("DRWATCH_LEADER_ELECTION", "false") == "true",
  lease_name = "drwatch",
  kubernetes = { site = site, namespace = tools },  -- in a pod: its own API server and token
}

switchover = {
  data_dir = "/var/lib/drwatch/switchover",  -- on the PersistentVolumeClaim: survives restarts
  automation = false,
  env = "prod",
  kubernetes = { site = site, namespace = tools },  -- in a pod: its own API server and token
  namespaces = { tools = tools, solution = solution, tekton = tools },
  patroni = { site = site, url = "http://patroni-spilo-api." .. solution .. ".svc:8008",
              username = "drwatch", password_file = creds .. "patroni-password" },
  standby = { host = host[peer_site].pg, port = 5432 },  -- the other site's primary
  portal = { site = site, url = "http://gateway-portal." .. solution .. ".svc:8080" },  -- the banner
  tekton = { site = site, url = "http://el-gateway-config." .. tools .. ".svc:8080",
             hmac_secret_file = creds .. "tekton-hmac",
             repo = "https://github.com/bcgov/gateway-config.git", ref = "refs/heads/main" },
}
