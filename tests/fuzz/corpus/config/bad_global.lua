function helper() return 1 end
main = { name = undefined_thing }
