main = { name = "x" }
error(setmetatable and {} or { "t" })
