main = {
  name = "x"
  count = 1,
