-- Tekton: the newest run of a pipeline failed (a deploy that a switchover depends on).
alert("TektonPipelineFailed", {
  expr = function()
    return filter(series("drwatch_tekton_pipeline_last_run_info", { status = "False" }),
                  function(s) return s.value == 1 end)
  end,
  severity = "warning",
  annotations = {
    summary = "Tekton pipeline {{ $labels.pipeline }} in {{ $labels.site }} failed ({{ $labels.reason }})",
    description = "Its newest run {{ $labels.name }} did not succeed; a switchover that deploys with it would stop there.",
  },
})
