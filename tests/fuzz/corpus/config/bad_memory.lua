local ok = pcall(string.rep, "x", 1 << 30)
local t = {}
for i = 1, 1e7 do t[i] = ("y"):rep(100) .. i end
