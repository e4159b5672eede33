s = "a\z
   b\
c\"{"
main = {
  [ "na\x6de" ] = 1,
  items = { { port = 1 }, [2] = { port = 2.0 } },
  labels = { ["bad-name"] = 1 },
}
other = { [1] = 1, [true] = 2 }
