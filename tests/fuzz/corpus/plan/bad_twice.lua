local s = step { "kong_restart" }
x = step { "health_api", replicas = 1, fallback = s }
y = step { "health_api", replicas = 1, fallback = s }