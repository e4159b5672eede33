local function item(i) return { name = "i" .. i, port = 8000 + i } end
local items = {}
for i = 1, 5 do items[#items + 1] = item(i) end
main = { name = env("FUZZ_NAME", "computed"), items = items, interval = 30 }
main.tags = {}
for w in ("a b c"):gmatch("%a") do main.tags[#main.tags + 1] = w:upper() end
