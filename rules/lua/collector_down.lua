-- A collector target that drwatch cannot scrape: its samples are gone, so every rule that
-- reads them is blind. Fires after a minute, as a short network blip is not news.
alert("DrwatchCollectorDown", {
  expr = function()
    return filter(series("drwatch_collector_up"), function(s) return s.value == 0 end)
  end,
  ["for"] = "1m",
  severity = "warning",
  annotations = {
    summary = "drwatch cannot collect {{ $labels.collector }} target {{ $labels.target }}",
    description = "drwatch_collector_up has been 0 for a minute; see drwatch_collector_errors_total for the reason.",
  },
})
