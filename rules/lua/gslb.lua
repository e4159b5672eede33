-- The GSLB: where it sends traffic, and whether Gold looks healthy to its monitor.
-- A resolver that fails is its own, milder alert: an error is never an answer (gslb.md).

local function gold_probe_up()
  local m = max(series("drwatch_gslb_probe_up", { site = "gold" }))
  return #m > 0 and m[1].value == 1
end

local function class_is(classes)
  return filter(series("drwatch_gslb_answer_class", { class = classes }),
                function(s) return s.value == 1 end)
end

alert("GslbAnswerNotGold", {
  -- Gold answers its /health probe, yet the GSLB sends clients elsewhere (or nowhere).
  expr = function()
    if not gold_probe_up() then return nil end
    return class_is("=~golddr|both|none|unknown")
  end,
  ["for"] = "2m",
  severity = "critical",
  annotations = {
    summary = "GSLB answers {{ $labels.class }} (resolver {{ $labels.resolver }}) while Gold is healthy",
    description = "Gold's /health probe is up but the GSLB has not answered with Gold for 2 minutes; check the F5 pool and whether a switchover is under way.",
  },
})

alert("GslbNoAnswer", {
  expr = function() return class_is("none") end,
  ["for"] = "1m",
  severity = "critical",
  annotations = {
    summary = "GSLB gives no address at all (resolver {{ $labels.resolver }})",
    description = "The GSLB name resolves to no A record: clients cannot reach either site.",
  },
})

alert("GslbResolverFailing", {
  expr = function() return class_is("error") end,
  ["for"] = "2m",
  severity = "warning",
  annotations = {
    summary = "Resolver {{ $labels.resolver }} cannot resolve the GSLB name",
    description = "This is a resolver fault, not a traffic move: see drwatch_gslb_lookup_info for the DNS status.",
  },
})

alert("GoldHealthProbeDown", {
  expr = function()
    return filter(series("drwatch_gslb_probe_up", { site = "gold" }), function(s) return s.value == 0 end)
  end,
  ["for"] = "1m",
  severity = "critical",
  annotations = {
    summary = "Gold's /health probe {{ $labels.probe }} fails",
    description = "The GSLB monitor sees what this probe sees: after its timeout it will move traffic away from Gold.",
  },
})
