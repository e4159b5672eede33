-- default.lua: drwatch's notification templates (alerts/notify_lib.h describes the contract).
--
-- The file returns a table of functions; each takes the notification `n` (read-only) and
-- returns a string or, for cards, a table that drwatch encodes as JSON:
--   title(n) text(n)                 the subject line and a Markdown body (Alertmanager's)
--   message_card(n)                  legacy Teams connector: a MessageCard
--   adaptive_card(n)                 Teams Workflows: the Adaptive Card (drwatch wraps it in
--                                    the {"type":"message","attachments":[...]} envelope)
--   email_subject(n) email_text(n) email_html(n)
--
-- n: receiver, status ("firing"/"resolved"), group_key, group_labels, common_labels,
--    common_annotations, alerts (firing first), firing, resolved, num_alerts, num_firing,
--    num_resolved, truncated_alerts (alerts left out of this message), external_url (the
--    drwatch status page), grafana_url, now (Unix seconds).
-- alert: status, alertname, labels, annotations, value, value_text, starts_at, ends_at
--    (0 while firing), fingerprint, generator_url.
-- pairs() over any of these tables walks keys in sorted order, so output is stable.
-- Helpers: html(s), md(s) (Markdown escape), truncate(s, bytes), rfc3339(t), duration(secs),
--    urlencode(s), json_null, json_array(t), json_object(t).
-- To customise, copy this file into your templates_dir and point receivers at it; a
-- function that errors or runs past its budget makes drwatch send a plain fallback instead.

local MAX_SECTIONS = 10 -- Teams shows at most 10 MessageCard sections

local function sorted_values(labels, skip)
  local out = {}
  for name, value in pairs(labels) do
    if not (skip and skip[name] ~= nil) then out[#out + 1] = value end
  end
  return out
end

local function count(t)
  local c = 0
  for _ in pairs(t) do c = c + 1 end
  return c
end

-- A value for Markdown: escaped, unless it is a link (Teams makes those clickable as they are).
local function mdv(v)
  if v:match("^https?://[^%s]*$") then return v end
  return md(v)
end

-- Alertmanager's __subject: [FIRING:2] <group label values> (<other common label values>)
local function title(n)
  local s = "[" .. n.status:upper()
  if n.status == "firing" then s = s .. ":" .. n.num_firing end
  s = s .. "]"
  local group = sorted_values(n.group_labels)
  if #group > 0 then s = s .. " " .. table.concat(group, " ") end
  if count(n.common_labels) > count(n.group_labels) then
    local rest = sorted_values(n.common_labels, n.group_labels)
    if #rest > 0 then s = s .. " (" .. table.concat(rest, " ") .. ")" end
  end
  return s
end

local function summary_of(a)
  return a.annotations.summary or a.annotations.description or a.annotations.message or ""
end

-- The description, when the summary does not already say it.
local function details_of(a)
  local d = a.annotations.description
  if d and d ~= summary_of(a) then return d end
  return nil
end

local function since(n, a)
  if a.status == "resolved" then
    return "resolved " .. rfc3339(a.ends_at) .. " after " .. duration(a.ends_at - a.starts_at)
  end
  return "since " .. rfc3339(a.starts_at) .. " (" .. duration(n.now - a.starts_at) .. ")"
end

local function more_text(n, shown)
  local more = #n.alerts - shown + n.truncated_alerts
  if more <= 0 then return nil end
  return "and " .. more .. " more alert" .. (more == 1 and "" or "s")
end

-- Alertmanager's Markdown text: the alerts with their labels and annotations.
local function text(n)
  local out = {}
  local function list(alerts, heading)
    if #alerts == 0 then return end
    out[#out + 1] = "# " .. heading .. "\n"
    for _, a in ipairs(alerts) do
      out[#out + 1] = "Labels:\n"
      for k, v in pairs(a.labels) do out[#out + 1] = "  - " .. k .. " = " .. mdv(v) .. "\n" end
      out[#out + 1] = "\nAnnotations:\n"
      for k, v in pairs(a.annotations) do
        out[#out + 1] = "  - " .. k .. " = " .. mdv(v) .. "\n"
      end
      if a.generator_url ~= "" then out[#out + 1] = "\nSource: " .. a.generator_url .. "\n" end
      out[#out + 1] = "\n"
    end
  end
  list(n.firing, "Alerts Firing:")
  list(n.resolved, "Alerts Resolved:")
  local more = more_text(n, #n.alerts)
  if more then out[#out + 1] = more .. "\n" end
  return table.concat(out)
end

local function links(n)
  local out = {}
  if n.external_url ~= "" then out[#out + 1] = { name = "drwatch status", url = n.external_url } end
  if n.grafana_url ~= "" then out[#out + 1] = { name = "Grafana", url = n.grafana_url } end
  return out
end

-- The facts shown for one alert: its labels (less the group's), value and times.
local function facts(n, a, name_key, value_key)
  local out = {}
  local function add(name, value) out[#out + 1] = { [name_key] = name, [value_key] = value } end
  for k, v in pairs(a.labels) do
    if k ~= "alertname" and n.group_labels[k] == nil then add(k, mdv(v)) end
  end
  add("value", a.value_text)
  if a.status == "resolved" then
    add("resolved", rfc3339(a.ends_at))
  else
    add("since", rfc3339(a.starts_at))
  end
  for k, v in pairs(a.annotations) do
    if k ~= "summary" and k ~= "description" and k ~= "message" then add(k, mdv(v)) end
  end
  return out
end

local function theme_color(n)
  if n.status == "resolved" then return "2DC72D" end
  local sev = n.common_labels.severity
  if sev == "warning" then return "FFA500" end
  if sev == "info" then return "808080" end
  return "8C1A1A"
end

local function common_text(n)
  local s = n.common_annotations.summary or n.common_annotations.description
  if s then return md(s) end
  return nil
end

local function message_card(n)
  local t = title(n)
  local sections = {}
  local limit = #n.alerts
  if limit > MAX_SECTIONS or (limit == MAX_SECTIONS and n.truncated_alerts > 0) then
    limit = MAX_SECTIONS - 1
  end
  for i = 1, limit do
    local a = n.alerts[i]
    local s = {
      activityTitle = "**" .. a.status:upper() .. "** " .. md(a.alertname or "alert"),
      activitySubtitle = since(n, a),
      facts = facts(n, a, "name", "value"),
      markdown = true,
    }
    local summary = summary_of(a)
    if summary ~= "" then s.text = md(summary) end
    local details = details_of(a)
    if details then s.text = (s.text and s.text .. "  \n" or "") .. md(details) end
    if a.generator_url ~= "" then
      s.text = (s.text and s.text .. "  \n" or "") .. "[Source](" .. a.generator_url .. ")"
    end
    sections[#sections + 1] = s
  end
  local more = more_text(n, limit)
  if more then sections[#sections + 1] = { text = more, markdown = true } end
  local card = {
    ["@type"] = "MessageCard",
    ["@context"] = "http://schema.org/extensions",
    themeColor = theme_color(n),
    summary = t,
    title = t,
    sections = sections,
  }
  card.text = common_text(n)
  local actions = {}
  for _, l in ipairs(links(n)) do
    actions[#actions + 1] = {
      ["@type"] = "OpenUri",
      name = l.name,
      targets = { { os = "default", uri = l.url } },
    }
  end
  if #actions > 0 then card.potentialAction = actions end
  return card
end

local function adaptive_card(n)
  local color = "Warning"
  if n.status == "firing" then color = "Attention" elseif n.status == "resolved" then color = "Good" end
  local body = {
    { type = "TextBlock", text = title(n), weight = "Bolder", size = "Medium", wrap = true,
      style = "heading", color = color },
  }
  local common = common_text(n)
  if common then body[#body + 1] = { type = "TextBlock", text = common, wrap = true } end
  for _, a in ipairs(n.alerts) do
    local head = "**" .. a.status:upper() .. "** " .. md(a.alertname or "alert")
    local summary = summary_of(a)
    if summary ~= "" then head = head .. ": " .. md(summary) end
    local items = {
      { type = "TextBlock", text = head, wrap = true },
      { type = "TextBlock", text = since(n, a), wrap = true, isSubtle = true, spacing = "None" },
    }
    local details = details_of(a)
    if details then items[#items + 1] = { type = "TextBlock", text = md(details), wrap = true } end
    items[#items + 1] = { type = "FactSet", facts = facts(n, a, "title", "value") }
    if a.generator_url ~= "" then
      items[#items + 1] = { type = "TextBlock", text = "[Source](" .. a.generator_url .. ")",
        wrap = true }
    end
    body[#body + 1] = { type = "Container", separator = true, items = items }
  end
  local more = more_text(n, #n.alerts)
  if more then body[#body + 1] = { type = "TextBlock", text = more, wrap = true, isSubtle = true } end
  local card = {
    ["$schema"] = "http://adaptivecards.io/schemas/adaptive-card.json",
    type = "AdaptiveCard",
    version = "1.2",
    msteams = { width = "full" },
    body = body,
  }
  local actions = {}
  for _, l in ipairs(links(n)) do
    actions[#actions + 1] = { type = "Action.OpenUrl", title = l.name, url = l.url }
  end
  if #actions > 0 then card.actions = actions end
  return card
end

local function email_text(n)
  local out = { title(n), "\n\n" }
  local group = {}
  for k, v in pairs(n.group_labels) do group[#group + 1] = k .. "=" .. v end
  out[#out + 1] = n.num_alerts .. " alert" .. (n.num_alerts == 1 and "" or "s")
  if #group > 0 then out[#out + 1] = " for " .. table.concat(group, " ") end
  out[#out + 1] = "\n"
  local function list(alerts, heading)
    if #alerts == 0 then return end
    out[#out + 1] = "\n" .. heading .. "\n" .. string.rep("=", #heading) .. "\n"
    for _, a in ipairs(alerts) do
      out[#out + 1] = "\n" .. (a.alertname or "alert")
      local summary = summary_of(a)
      if summary ~= "" then out[#out + 1] = ": " .. summary end
      out[#out + 1] = "\n  " .. since(n, a) .. "\n  value: " .. a.value_text .. "\n  Labels:\n"
      local function indent(v) return (v:gsub("\n", "\n      ")) end
      for k, v in pairs(a.labels) do out[#out + 1] = "    " .. k .. " = " .. indent(v) .. "\n" end
      if count(a.annotations) > 0 then
        out[#out + 1] = "  Annotations:\n"
        for k, v in pairs(a.annotations) do
          out[#out + 1] = "    " .. k .. " = " .. indent(v) .. "\n"
        end
      end
      if a.generator_url ~= "" then out[#out + 1] = "  Source: " .. a.generator_url .. "\n" end
    end
  end
  list(n.firing, "Firing")
  list(n.resolved, "Resolved")
  local more = more_text(n, #n.alerts)
  if more then out[#out + 1] = "\n" .. more .. "\n" end
  out[#out + 1] = "\n--\n"
  for _, l in ipairs(links(n)) do out[#out + 1] = l.name .. ": " .. l.url .. "\n" end
  out[#out + 1] = "Sent by drwatch to " .. n.receiver .. "\n"
  return table.concat(out)
end

local function email_html(n)
  local out = {
    '<!DOCTYPE html>\n<html><head><meta charset="UTF-8"><title>', html(title(n)),
    '</title></head>\n<body style="font-family: Helvetica, Arial, sans-serif; font-size: 14px;">\n',
  }
  local bg = n.status == "resolved" and "#2DC72D" or "#8C1A1A"
  out[#out + 1] = '<div style="background-color: ' .. bg ..
      '; color: #fff; padding: 12px; font-size: 16px;">' .. html(title(n)) .. "</div>\n"
  local common = n.common_annotations.summary or n.common_annotations.description
  if common then out[#out + 1] = "<p>" .. html(common) .. "</p>\n" end
  local function list(alerts, heading)
    if #alerts == 0 then return end
    out[#out + 1] = "<h3>[" .. #alerts .. "] " .. heading .. "</h3>\n"
    for _, a in ipairs(alerts) do
      out[#out + 1] = '<div style="border-left: 4px solid ' .. bg ..
          '; padding: 4px 10px; margin-bottom: 12px;">\n<strong>' ..
          html(a.alertname or "alert") .. "</strong>"
      local summary = summary_of(a)
      if summary ~= "" then out[#out + 1] = ": " .. html(summary) end
      out[#out + 1] = "<br>\n<em>" .. html(since(n, a)) .. ", value " .. html(a.value_text) ..
          "</em>\n<table>\n"
      for k, v in pairs(a.labels) do
        out[#out + 1] = "<tr><td>" .. html(k) .. "</td><td>" .. html(v) .. "</td></tr>\n"
      end
      for k, v in pairs(a.annotations) do
        out[#out + 1] = "<tr><td><em>" .. html(k) .. "</em></td><td>" .. html(v) ..
            "</td></tr>\n"
      end
      out[#out + 1] = "</table>\n"
      if a.generator_url ~= "" then
        out[#out + 1] = '<a href="' .. html(a.generator_url) .. '">Source</a>\n'
      end
      out[#out + 1] = "</div>\n"
    end
  end
  list(n.firing, "Firing")
  list(n.resolved, "Resolved")
  local more = more_text(n, #n.alerts)
  if more then out[#out + 1] = "<p>" .. html(more) .. "</p>\n" end
  out[#out + 1] = "<p>"
  for _, l in ipairs(links(n)) do
    out[#out + 1] = '<a href="' .. html(l.url) .. '">' .. html(l.name) .. "</a> "
  end
  out[#out + 1] = "</p>\n<p style=\"color: #999; font-size: 12px;\">Sent by drwatch to " ..
      html(n.receiver) .. "</p>\n</body></html>\n"
  return table.concat(out)
end

return {
  title = title,
  text = text,
  message_card = message_card,
  adaptive_card = adaptive_card,
  email_subject = title,
  email_text = email_text,
  email_html = email_html,
}
