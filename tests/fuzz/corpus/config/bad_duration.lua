main = { name = "x", interval = "5000000000000000s5000000000000000s" }
other = { wait = -1 }
