main = {
  name = "x",
  count = 101,
}
