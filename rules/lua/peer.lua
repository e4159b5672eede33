-- The other site's drwatch, over mutual TLS.
alert("DrwatchPeerUnreachable", {
  expr = function()
    return filter(series("drwatch_collector_up", { collector = "peer" }),
                  function(s) return s.value == 0 end)
  end,
  ["for"] = "1m",
  severity = "warning",
  annotations = {
    summary = "drwatch cannot reach its peer in {{ $labels.site }}",
    description = "Without the peer, this site cannot tell its own resolver fault from a traffic move, and automatic failover waits. See drwatch_collector_errors_total{collector=\"peer\"}.",
  },
})
