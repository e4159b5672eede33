main = { name = "x" }
