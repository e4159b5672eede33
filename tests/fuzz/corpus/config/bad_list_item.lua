main = {
  name = "x",
  items = {
    { name = "a", port = 1 },
    {
      name = "b",
      port = 70000,
    },
  },
}
