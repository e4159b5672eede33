main = { name = "x" }
foo = { bar = 1 }
