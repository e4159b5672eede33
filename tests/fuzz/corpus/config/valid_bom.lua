main = { name = "bom" }
