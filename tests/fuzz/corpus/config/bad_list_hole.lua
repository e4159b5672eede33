main = { name = "x", tags = { "a", nil, "c" }, items = { [1e9] = {} } }
