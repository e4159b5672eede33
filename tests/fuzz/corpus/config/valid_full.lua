-- every key of the fuzz schema
main = {
  name = "full",
  flag = true,
  count = 42,
  ratio = 0.75,
  interval = "1m30s",
  mode = "c",
  sub = { n = 7, x = -0.5, s = "sub" },
  items = {
    { name = "a", port = 443, on = false },
    { name = "b" },
  },
  tags = { "t1", "t2" },
  labels = { site = "gold", env = "prod" },
}
other = { level = 3, wait = 2.5 }
