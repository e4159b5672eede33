main = {
  name = "x",
  cuont = 3,
}
