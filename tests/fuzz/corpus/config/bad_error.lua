error("fuzz.lua:99: fake position", 0)
