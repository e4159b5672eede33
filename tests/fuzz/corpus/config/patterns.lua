local s = ("key = value; other=thing"):gsub("(%w+)%s*=%s*(%w+)", "%2=%1")
local n = select(2, ("f(a(b)c)d"):gsub("%b()", "<%0>"))
local p = ("THE (quick) fox"):find("%f[%a]%a+", 5)
main = { name = s .. n .. tostring(p) }
