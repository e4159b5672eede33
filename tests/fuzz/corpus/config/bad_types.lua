main = { name = 1, flag = "yes", count = "3", ratio = {}, mode = 2 }
