main = { name = "x", labels = { ["bad-name"] = "v", __r = "v", n = 1 } }
