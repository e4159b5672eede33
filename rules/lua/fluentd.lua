-- FluentD: an output whose buffer keeps growing, or that keeps retrying its destination.

alert("FluentdBufferGrowing", {
  expr = function()
    local growing = filter(delta("drwatch_fluentd_buffer_total_queued_bytes", "10m"),
                           function(s) return s.value > 0 end)
    local queued = filter(series("drwatch_fluentd_buffer_queue_length"), function(s) return s.value > 0 end)
    return intersect(growing, queued)
  end,
  ["for"] = "10m",
  severity = "warning",
  annotations = {
    summary = "FluentD {{ $labels.target }} ({{ $labels.site }}): the buffer of {{ $labels.plugin_id }} keeps growing",
    description = "Chunks queue up faster than the output flushes them; when the buffer is full FluentD blocks or drops logs.",
  },
})

alert("FluentdRetrying", {
  expr = function()
    return filter(increase("drwatch_fluentd_retries_total", "10m"), function(s) return s.value > 0 end)
  end,
  ["for"] = "5m",
  severity = "warning",
  annotations = {
    summary = "FluentD {{ $labels.target }} ({{ $labels.site }}): {{ $labels.plugin_id }} retries its flushes",
    description = "The output's destination refuses or times out: {{ $value | humanize }} retries in 10 minutes.",
  },
})
