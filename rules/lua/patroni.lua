-- Patroni and PostgreSQL across the two sites: one writable primary, a leader in each site,
-- and a standby cluster that keeps up within the RPO objective (60 s).

local RPO_SECONDS = 60

alert("PatroniTwoLeaders", {
  -- Two writable primaries: split brain, the worst DR alarm. No `for`: every second counts.
  -- It keeps firing 5m after it ends, so that a split brain of seconds (between two scrapes of
  -- a person's attention) is still seen, and clients' writes to the loser still looked for.
  expr = function()
    return filter(sum(series("drwatch_patroni_leader_writable")), function(s) return s.value > 1 end)
  end,
  keep_firing_for = "5m",
  severity = "critical",
  annotations = {
    summary = "Two writable PostgreSQL primaries across the sites ({{ $value }})",
    description = "Both sites' Patroni clusters run a read-write leader. Fence one now (withdraw it from the GSLB and demote it) before clients write to both.",
  },
})

alert("PatroniNoLeader", {
  expr = function()
    return filter(series("drwatch_patroni_leader_present"), function(s) return s.value == 0 end)
  end,
  ["for"] = "1m",
  severity = "critical",
  annotations = {
    summary = "Patroni cluster {{ $labels.scope }} in {{ $labels.site }} has no leader",
    description = "No member holds the leader lock: the site serves no database (or etcd is unreachable).",
  },
})

alert("StandbyClusterNotReplicating", {
  expr = function()
    local not_streaming = filter(series("drwatch_postgres_wal_receiver_streaming"),
                                 function(s) return s.value == 0 end)
    local standby = filter(series("drwatch_postgres_in_recovery"), function(s) return s.value == 1 end)
    return intersect(not_streaming, standby)
  end,
  ["for"] = "2m",
  severity = "critical",
  annotations = {
    summary = "The standby in {{ $labels.site }} does not stream WAL from the primary",
    description = "Its WAL receiver has not been streaming for 2 minutes: every write on the primary now widens the data a failover would lose.",
  },
})

alert("ReplicationLagAboveRPO", {
  expr = function()
    return filter(series("drwatch_postgres_replay_lag_seconds"),
                  function(s) return s.value > RPO_SECONDS end)
  end,
  ["for"] = "1m",
  severity = "critical",
  annotations = {
    summary = "The standby in {{ $labels.site }} is {{ $value | humanizeDuration }} behind the primary",
    description = "Replay lag is above the 60 s RPO objective: a failover now would lose more than the objective allows.",
  },
})
