local ok = pcall(function() return io.open("/etc/passwd") end)
local d = ("").dump
local f = string.dump
main = { name = tostring(os.execute) .. tostring(d) .. tostring(f) }
