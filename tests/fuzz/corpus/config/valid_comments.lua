--[[ main = { name = 5 } ]]
--[==[ } } { ]==]
local doc = [[ main = { count = 1000 } ]]
main = {
  name = "c", -- count = 101
  count = 1;
}
