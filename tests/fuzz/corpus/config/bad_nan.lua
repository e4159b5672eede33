main = { name = "x", sub = { x = 0/0 }, ratio = 1/0 }
